"""A seeded synthetic B2B customer base with a planted churn model, for tests and benchmarks.

Smaller and simpler than the demo company: it exists so the health and churn
code can be checked against a churn process whose drivers are known. Each
week, an account that has not churned leaves with probability

    sigmoid(BASE + USAGE * decline + TICKETS * log(1 + tickets_4w) + LOW_NPS * low_nps)

where ``decline = max(0, -log((1 + events_4w) / (1 + events_prior_4w)))`` is its
observed usage decline, ``tickets_4w`` its tickets of the last four weeks and
``low_nps`` whether its latest NPS answer was 6 or less. Usage declines come
from "trouble" episodes, tickets from pain episodes, low scores from latent
satisfaction, so the three drivers are partly independent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from impactlens.warehouse import Warehouse
from impactlens.warehouse.schema import TABLES

PLANTED = {"base": -7.6, "usage_decline": 4.0, "tickets": 1.2, "low_nps": 1.5}
FEATURES = (
    "Session Started",
    "Report Created",
    "Dashboard Viewed",
    "Export Started",
    "Search Performed",
    "Alert Created",
    "Integration Connected",
    "Teammate Invited",
)
TAGS = ("export", "login", "billing", "search", "reports")
EXPORT_FIX_WEEK = 30


@dataclass(frozen=True)
class SyntheticTruth:
    """What the simulation planted."""

    coefficients: dict[str, float]
    n_accounts: int
    n_churned: int
    n_events: int
    start: date
    weeks: int


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_world(
    warehouse: Warehouse,
    *,
    n_accounts: int = 300,
    weeks: int = 52,
    seed: int = 0,
    start: date = date(2025, 1, 6),
    events_per_user: float = 2.0,
) -> SyntheticTruth:
    """Simulate ``weeks`` weeks of ``n_accounts`` accounts and write them to the warehouse."""
    rng = np.random.default_rng(seed)
    n = n_accounts
    t0 = datetime(start.year, start.month, start.day)
    seats = np.clip(np.round(rng.lognormal(np.log(10), 0.8, n)), 2, 400).astype(int)
    users_n = np.maximum(1, np.round(seats * rng.beta(7, 3, n))).astype(int)
    created_week = np.where(
        rng.random(n) < 0.75, -rng.integers(4, 150, n), rng.integers(0, weeks - 12, n)
    )
    rate = rng.lognormal(np.log(events_per_user), 0.4, n)
    satisfaction = np.clip(rng.normal(7.6, 1.6, n), 0, 10)
    usage_pref = rng.beta(4, 2, n)  # how many features the account uses
    price = rng.choice([15.0, 35.0, 60.0], n, p=[0.5, 0.35, 0.15])

    multiplier = np.ones(n)
    trouble = np.zeros(n, dtype=bool)
    pain = np.zeros(n)
    churn_week = np.full(n, -1)
    last_nps = np.full(n, np.nan)
    ev_hist = np.zeros((n, weeks))
    tk_hist = np.zeros((n, weeks))
    ev_rows: list[tuple[np.ndarray, np.ndarray, int]] = []
    ticket_rows, survey_rows = [], []
    downgrade_week = np.full(n, -1)
    for w in range(weeks):
        alive = (created_week <= w) & (churn_week < 0)
        start_trouble = alive & ~trouble & (rng.random(n) < 0.012)
        trouble |= start_trouble
        end_trouble = trouble & (rng.random(n) < 0.01)
        trouble &= ~end_trouble
        multiplier = np.where(
            trouble, np.maximum(0.1, multiplier * 0.92), np.minimum(1.0, multiplier * 1.15 + 0.02)
        )
        pain = np.where(rng.random(n) < 0.015, rng.uniform(1, 3, n), pain * 0.95)

        active = np.where(alive, rng.binomial(users_n, np.clip(0.85 * multiplier, 0.02, 1)), 0)
        n_ev = np.where(alive, rng.poisson(active * rate * multiplier * 3), 0)
        ev_hist[:, w] = n_ev
        ev_rows.append((np.repeat(np.arange(n), n_ev), np.repeat(active, n_ev), w))

        tk_rate = 0.04 * np.sqrt(users_n) * (1 + 2.5 * pain + 1.5 * trouble)
        n_tk = np.where(alive, rng.poisson(tk_rate), 0)
        tk_hist[:, w] = n_tk
        for a in np.flatnonzero(n_tk):
            for _ in range(n_tk[a]):
                tag = TAGS[rng.integers(len(TAGS))]
                if tag == "export" and w >= EXPORT_FIX_WEEK and rng.random() < 0.6:
                    tag = TAGS[1 + rng.integers(len(TAGS) - 1)]  # the fix removes most export pain
                ticket_rows.append((a, w, tag, rng.random(), rng.exponential(4.0)))

        answers = alive & (rng.random(n) < 0.07)
        latent = satisfaction - 2.5 * trouble - 0.8 * pain
        for a in np.flatnonzero(answers):
            score = float(np.clip(np.round(rng.normal(latent[a], 1.0)), 0, 10))
            last_nps[a] = score
            survey_rows.append((a, w, "nps", score))
            if rng.random() < 0.5:
                survey_rows.append((a, w, "csat", float(np.clip(np.round(score / 2), 1, 5))))
        if w % 4 == 3:
            downgrade = trouble & (downgrade_week < 0) & (rng.random(n) < 0.3)
            downgrade_week[downgrade] = w

        recent = ev_hist[:, max(0, w - 3) : w + 1].sum(axis=1)
        prior = ev_hist[:, max(0, w - 7) : max(0, w - 3)].sum(axis=1)
        decline = np.where(w >= 7, np.maximum(0, -np.log((1 + recent) / (1 + prior))), 0.0)
        tickets_4w = tk_hist[:, max(0, w - 3) : w + 1].sum(axis=1)
        logit = (
            PLANTED["base"]
            + PLANTED["usage_decline"] * decline
            + PLANTED["tickets"] * np.log1p(tickets_4w)
            + PLANTED["low_nps"] * (last_nps <= 6)
        )
        leaves = alive & (created_week <= w - 4) & (rng.random(n) < _sigmoid(logit))
        churn_week[leaves] = w

    ids = np.array([f"syn-{i:05d}" for i in range(n)])
    _write(
        warehouse,
        rng,
        t0,
        weeks,
        ids,
        seats,
        users_n,
        created_week,
        churn_week,
        price,
        downgrade_week,
        usage_pref,
        ev_rows,
        ticket_rows,
        survey_rows,
    )
    return SyntheticTruth(
        dict(PLANTED), n, int((churn_week >= 0).sum()), int(ev_hist.sum()), start, weeks
    )


def _write(
    wh,
    rng,
    t0,
    weeks,
    ids,
    seats,
    users_n,
    created_week,
    churn_week,
    price,
    downgrade_week,
    usage_pref,
    ev_rows,
    ticket_rows,
    survey_rows,
) -> None:
    n = len(ids)
    week_ts = np.datetime64(t0, "s")
    created = week_ts + (created_week * 7 * 86400 + 36000).astype("timedelta64[s]")
    churned = np.where(
        churn_week >= 0,
        week_ts + ((churn_week * 7 + 3) * 86400).astype("timedelta64[s]"),
        np.datetime64("NaT"),
    )
    wh.write(
        "accounts",
        pa.table(
            {
                "account_id": ids,
                "name": [f"Synthetic {i}" for i in range(n)],
                "plan": np.where(price > 50, "enterprise", np.where(price > 20, "pro", "starter")),
                "segment": np.where(
                    seats >= 50, "enterprise", np.where(seats >= 12, "mid-market", "smb")
                ),
                "created_at": pa.array(created.astype("datetime64[us]")),
                "churned_at": pa.array(churned.astype("datetime64[us]")),
                "attributes": [json.dumps({"seats": int(s)}) for s in seats],
            }
        ),
    )
    offsets = np.r_[0, np.cumsum(users_n)]
    user_ids = np.array([f"{ids[a]}-u{j:03d}" for a in range(n) for j in range(users_n[a])])
    wh.write(
        "users",
        pa.table(
            {
                "user_id": user_ids,
                "account_id": np.repeat(ids, users_n),
                "created_at": pa.array(np.repeat(created, users_n).astype("datetime64[us]")),
            }
        ),
    )
    acc = np.concatenate([r[0] for r in ev_rows])
    active = np.concatenate([r[1] for r in ev_rows])
    week = np.concatenate([np.full(len(r[0]), r[2]) for r in ev_rows])
    user = offsets[acc] + (rng.random(len(acc)) * np.maximum(active, 1)).astype(int)
    n_feat = np.maximum(1, np.round(usage_pref[acc] * len(FEATURES))).astype(int)
    feature = np.minimum((rng.random(len(acc)) ** 2 * n_feat).astype(int), len(FEATURES) - 1)
    ts = week_ts + (week * 7 * 86400 + rng.integers(0, 7 * 86400, len(acc))).astype(
        "timedelta64[s]"
    )
    # A fresh warehouse and unique ids: events skip the importer's dedupe, and the string
    # columns are built as dictionary arrays (numpy string arrays convert slowly).
    n_ev = len(acc)
    _insert_fresh(
        wh,
        "events",
        pa.table(
            {
                "message_id": pa.array(np.char.add("m", np.arange(n_ev).astype(str))),
                "timestamp": pa.array(ts.astype("datetime64[us]")),
                "type": _take(["track"], np.zeros(n_ev, dtype=int)),
                "event": _take(FEATURES, feature),
                "user_id": _take(user_ids, user),
                "actor_id": _take(user_ids, user),
                "account_id": _take(ids, acc),
                "properties": _take(["{}"], np.zeros(n_ev, dtype=int)),
            }
        ),
    )
    if ticket_rows:
        a, w, tag, u, solve = (np.array(c) for c in zip(*ticket_rows, strict=True))
        opened = week_ts + (w * 7 * 86400 + (u * 7 * 86400).astype(int)).astype("timedelta64[s]")
        solved = opened + (solve * 86400).astype("timedelta64[s]")
        still_open = rng.random(len(a)) < 0.05
        wh.write(
            "tickets",
            pa.table(
                {
                    "ticket_id": [f"t{i}" for i in range(len(a))],
                    "created_at": pa.array(opened.astype("datetime64[us]")),
                    "solved_at": pa.array(
                        np.where(still_open, np.datetime64("NaT"), solved).astype("datetime64[us]")
                    ),
                    "account_id": ids[a.astype(int)],
                    "priority": rng.choice(
                        ["low", "normal", "high", "urgent"], len(a), p=[0.3, 0.55, 0.12, 0.03]
                    ),
                    "status": np.where(still_open, "open", "solved"),
                    "tags": [json.dumps([t]) for t in tag],
                }
            ),
        )
    if survey_rows:
        a, w, kind, score = (np.array(c) for c in zip(*survey_rows, strict=True))
        at = week_ts + (w.astype(int) * 7 * 86400 + 50000).astype("timedelta64[s]")
        wh.write(
            "surveys",
            pa.table(
                {
                    "response_id": [f"s{i}" for i in range(len(a))],
                    "responded_at": pa.array(at.astype("datetime64[us]")),
                    "account_id": ids[a.astype(int)],
                    "survey": kind,
                    "score": score.astype(float),
                    "comment": np.where(score.astype(float) <= 2, "exports keep failing", ""),
                }
            ),
        )
    months = np.arange(
        np.datetime64(t0, "M") - 36, np.datetime64(t0 + timedelta(weeks=weeks), "M") + 1
    )
    rows: dict[str, list] = {"account_id": [], "period_start": [], "mrr": [], "status": []}
    for i in range(n):
        first = created[i].astype("datetime64[M]")
        end = churned[i].astype("datetime64[M]") if churn_week[i] >= 0 else months[-1]
        for m in months[(months >= first) & (months <= end)]:
            is_churn = churn_week[i] >= 0 and m == end
            down = downgrade_week[i] >= 0 and m >= (
                week_ts + np.timedelta64(int(downgrade_week[i]) * 7, "D")
            ).astype("datetime64[M]")
            rows["account_id"].append(ids[i])
            rows["period_start"].append(m.astype("datetime64[D]").astype(date))
            rows["mrr"].append(0.0 if is_churn else seats[i] * price[i] * (0.8 if down else 1.0))
            rows["status"].append("churned" if is_churn else "active")
    wh.write("revenue", pa.table(rows))
    wh.write(
        "releases",
        pa.table(
            {
                "release_id": ["export-timeout-fix"],
                "title": ["Exports no longer time out"],
                "kind": ["fix"],
                "shipped_at": pa.array(
                    [np.datetime64(t0 + timedelta(weeks=EXPORT_FIX_WEEK), "us")]
                ),
            }
        ),
    )


def _take(values, index: np.ndarray) -> pa.Array:
    dictionary = pa.array([str(v) for v in values], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), dictionary).cast(pa.string())


def _insert_fresh(wh: Warehouse, name: str, rows: pa.Table) -> None:
    schema = TABLES[name].schema.to_pyarrow()
    columns = [
        rows.column(f.name).cast(f.type)
        if f.name in rows.column_names
        else pa.nulls(len(rows), f.type)
        for f in schema
    ]
    wh.backend.insert(name, pa.Table.from_arrays(columns, schema=schema))
