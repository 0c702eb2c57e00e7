"""Synthetic product data for bench_metrics.py: sessions of events, like the demo company's.

Vectorised with numpy; written once to a DuckDB warehouse (through Ibis) and to
Parquet, so every contender reads the same rows. Users have sessions on some
days; a session is a burst of events within ~30 minutes, so the hourly rollup
compresses events the way real product data does.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 1, 1)
DAYS = 180
EVENTS_PER_SESSION = 12
# Event mix inside a session (after its Session Started), by weight.
MIX = {
    "Search Performed": 0.24,
    "Search Result Clicked": 0.10,
    "Dashboard Viewed": 0.22,
    "Report Created": 0.12,
    "Report Exported": 0.08,
    "Export Failed": 0.015,
    "Error Shown": 0.04,
    "User Invited": 0.01,
    "Onboarding Step Completed": 0.02,
    "Checkout Started": 0.004,
    "Checkout Completed": 0.002,
    "Experiment Viewed": 0.02,
}
PROPS = ("{}", '{"flags":{"search_v2":true}}', '{"flags":{"search_v2":false}}')


def generate(n_events: int, seed: int = 1) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n_users = max(n_events // 1000, 50)
    n_accounts = max(n_users // 10, 5)
    sessions = n_events // EVENTS_PER_SESSION
    user = rng.integers(0, n_users, sessions)
    # Users join over the first 150 days; sessions fall after the user's join day.
    joined = rng.integers(0, 150 * 86400, n_users)
    offset = joined[user] + rng.integers(0, DAYS * 86400, sessions) % np.maximum(
        DAYS * 86400 - joined[user], 1
    )
    start = np.datetime64(START, "s") + offset.astype("timedelta64[s]")
    size = rng.poisson(EVENTS_PER_SESSION - 1, sessions) + 1
    idx = np.repeat(np.arange(sessions), size)
    first = np.r_[0, np.cumsum(size)[:-1]]
    pos = np.arange(len(idx)) - np.repeat(first, size)
    ts = start[idx] + (pos * rng.integers(20, 180, len(idx))).astype("timedelta64[s]")
    names = ["Session Started", *MIX, "Signed Up"]
    weights = np.array(list(MIX.values()))
    kind = np.where(pos == 0, 0, 1 + rng.choice(len(MIX), len(idx), p=weights / weights.sum()))
    # Each user's first session starts with Signed Up.
    first_session = np.full(n_users, -1)
    order = np.argsort(offset, kind="stable")
    first_session[user[order][::-1]] = order[::-1]
    signup = (pos == 0) & (first_session[user[idx]] == idx)
    actor = user[idx]
    props = np.where(np.isin(kind, (1, 2)), 1 + (actor % 2), 0)
    kind[signup] = len(names) - 1
    account = actor % n_accounts
    events = pa.table(
        {
            "message_id": pa.nulls(len(idx), pa.string()),
            "timestamp": pa.array(ts.astype("datetime64[us]")),
            "type": _labels(np.zeros(len(idx), np.int32), ["track"]),
            "event": _labels(kind, names),
            "user_id": _labels(actor, [f"u{i}" for i in range(n_users)]),
            "anonymous_id": pa.nulls(len(idx), pa.string()),
            "actor_id": _labels(actor, [f"u{i}" for i in range(n_users)]),
            "account_id": _labels(account, [f"a{i}" for i in range(n_accounts)]),
            "properties": _labels(props, list(PROPS)),
            "received_at": pa.nulls(len(idx), pa.timestamp("us")),
        }
    )
    return {"events": events, **_business(rng, n_users, n_accounts)}


def _labels(codes: np.ndarray, labels: list[str]) -> pa.Array:
    """Strings from integer codes, built through a dictionary (fast for 50M rows)."""
    dictionary = pa.array(labels, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary).cast(
        pa.string()
    )


def _business(rng: np.random.Generator, n_users: int, n_accounts: int) -> dict[str, pa.Table]:
    plans = np.array(["free", "pro", "enterprise"], dtype=object)
    accounts = pa.table(
        {
            "account_id": [f"a{i}" for i in range(n_accounts)],
            "plan": pa.array(plans[rng.integers(0, 3, n_accounts)], pa.string()),
            "segment": pa.array(
                np.where(rng.random(n_accounts) < 0.8, "smb", "mid").astype(object), pa.string()
            ),
            "attributes": pa.array(["{}"] * n_accounts, pa.string()),
        }
    )
    n = n_users // 5
    surveys = pa.table(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "responded_at": pa.array(
                (
                    np.datetime64(START, "s")
                    + rng.integers(0, DAYS * 86400, n).astype("timedelta64[s]")
                ).astype("datetime64[us]")
            ),
            "user_id": [f"u{i}" for i in rng.integers(0, n_users, n)],
            "account_id": [f"a{i}" for i in rng.integers(0, n_accounts, n)],
            "survey": pa.array(
                np.array(["nps", "csat", "ces"], dtype=object)[rng.integers(0, 3, n)], pa.string()
            ),
            "score": rng.integers(1, 8, n).astype(float),
        }
    )
    m = n_accounts * 3
    created = np.datetime64(START, "s") + rng.integers(0, DAYS * 86400, m).astype("timedelta64[s]")
    tickets = pa.table(
        {
            "ticket_id": [f"t{i}" for i in range(m)],
            "created_at": pa.array(created.astype("datetime64[us]")),
            "solved_at": pa.array(
                (created + rng.integers(600, 5 * 86400, m).astype("timedelta64[s]")).astype(
                    "datetime64[us]"
                )
            ),
            "account_id": [f"a{i}" for i in rng.integers(0, n_accounts, m)],
            "priority": pa.array(np.full(m, "normal", dtype=object), pa.string()),
        }
    )
    months = [date(2026, k, 1) for k in range(1, 8)]
    rows = [
        (
            f"a{a}",
            mo,
            float(rng.choice([0, 49, 99, 499])),
            "active" if rng.random() < 0.93 else "churned",
        )
        for a in range(n_accounts)
        for mo in months
    ]
    revenue = pa.table(
        {
            "account_id": [r[0] for r in rows],
            "period_start": pa.array([r[1] for r in rows], pa.date32()),
            "mrr": [r[2] for r in rows],
            "plan": ["pro"] * len(rows),
            "status": [r[3] for r in rows],
        }
    )
    return {"accounts": accounts, "surveys": surveys, "tickets": tickets, "revenue": revenue}


def write(tables: dict[str, pa.Table], folder: Path) -> None:
    """Parquet files (polars and pandas read these) plus a manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=1 << 20)
    (folder / "manifest.json").write_text(json.dumps({k: v.num_rows for k, v in tables.items()}))


def end_date() -> date:
    return (START + timedelta(days=DAYS)).date()
