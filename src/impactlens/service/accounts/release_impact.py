"""Who a release reached and what happened to those customers afterwards.

Audience (releases.yaml ``audience``):
- ``accounts: [...]``: those accounts;
- ``flag: key``: accounts whose events carry ``properties.flags.<key> = true`` after shipping;
- ``filter: "plan = 'enterprise'"``: accounts matching ``column = 'v'``, ``column != 'v'`` or
  ``column in ('a', 'b')`` joined by ``and`` (columns: account_id, name, plan, segment, or an
  attribute key); any other filter is reported and the release is treated as shipped to everyone;
- nothing: everyone, i.e. every account active in [ship, ship + W).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np

from impactlens.service.accounts.config import HealthConfig
from impactlens.service.accounts.feedback import LinkedFeedback, release_feedback, release_row
from impactlens.service.accounts.health import HealthReport, compute_health
from impactlens.service.accounts.panel import week_of
from impactlens.service.accounts.voice import (
    RateRatio,
    SurveyScore,
    only_accounts,
    rate_ratio,
    summarize_row,
    survey_stats,
)
from impactlens.warehouse import Warehouse

_COND = re.compile(r"^\s*(\w+)\s*(=|!=|\bin\b)\s*(.+?)\s*$", re.IGNORECASE)
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
ACCOUNT_COLUMNS = ("account_id", "name", "plan", "segment")


def filter_predicate(accounts: ir.Table, text: str) -> ir.BooleanValue | None:
    """An Ibis predicate for a simple audience filter, or None when it is not that simple."""
    predicate = None
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _COND.match(part)
        if not m:
            return None
        column, op, rhs = m.group(1), m.group(2).lower(), m.group(3)
        values = [v.replace("''", "'") for v in _QUOTED.findall(rhs)]
        if not values or (op != "in" and len(values) != 1):
            return None
        if column in ACCOUNT_COLUMNS:
            col = accounts[column]
        else:
            col = accounts.attributes.cast("json")[column].str
        cond = col.isin(values) if op == "in" else (col == values[0])
        cond = ~cond if op == "!=" else cond
        predicate = (
            cond.fill_null(False) if predicate is None else predicate & cond.fill_null(False)
        )
    return predicate


def flag_seen(events: ir.Table, flag: str) -> ir.BooleanValue:
    value = events.properties.cast("json")["flags"][flag].cast("string")
    return value.isin(["true", '"true"']).fill_null(False)


@dataclass(frozen=True)
class Audience:
    kind: str  # accounts | flag | filter | everyone
    accounts: tuple[str, ...]
    users: int
    note: str | None = None


def release_audience(warehouse: Warehouse, release: dict, window_days: int = 28) -> Audience:
    """The accounts (and how many users) a release reached (rules: module doc)."""
    ship: datetime = release["shipped_at"]
    ev = warehouse.table("events")
    ev = ev.filter(ev.timestamp >= ibis.literal(ship), ev.account_id.notnull())
    in_window = ev.filter(ev.timestamp < ibis.literal(ship + timedelta(days=window_days)))
    note, kind, listed = None, "everyone", None
    if release.get("audience_accounts"):
        kind, listed = "accounts", [str(a) for a in json.loads(release["audience_accounts"])]
    elif release.get("audience_flag"):
        seen = ev.filter(flag_seen(ev, release["audience_flag"]))
        row = (
            seen.aggregate(
                users=seen.actor_id.nunique(), accounts=seen.account_id.collect(distinct=True)
            )
            .to_pyarrow()
            .to_pylist()[0]
        )
        return Audience("flag", tuple(sorted(row["accounts"] or [])), int(row["users"] or 0))
    elif release.get("audience_filter"):
        acc = warehouse.table("accounts")
        predicate = filter_predicate(acc, release["audience_filter"])
        if predicate is None:
            note = f"audience filter {release['audience_filter']!r} is not a simple filter; counted as everyone"
        else:
            kind = "filter"
            listed = [str(a) for a in acc.filter(predicate).account_id.to_pyarrow().to_pylist()]
    active = only_accounts(in_window, listed)
    row = (
        active.aggregate(
            users=active.actor_id.nunique(), accounts=active.account_id.collect(distinct=True)
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    reached = listed if listed is not None else (row["accounts"] or [])
    return Audience(kind, tuple(sorted(reached)), int(row["users"] or 0), note)


@dataclass(frozen=True)
class ReleaseCustomerImpact:
    """A release seen from its customers: reach, revenue, health, sentiment, tickets."""

    release_id: str
    title: str | None
    shipped_at: datetime
    audience: str
    accounts_reached: int
    users_reached: int
    arr_reached: float  # 12 x MRR at shipping of the accounts reached
    arr_reached_now: float  # 12 x latest MRR of the same accounts
    health_before: dict[str, int]  # bands in the last complete week before shipping
    health_now: dict[str, int]  # bands in the latest week of the data
    churned_after: int  # reached accounts that churned in the window after shipping
    nps_before: SurveyScore
    nps_after: SurveyScore
    csat_before: SurveyScore
    csat_after: SurveyScore
    tickets: RateRatio  # all tickets of the reached accounts, after vs before
    feedback: LinkedFeedback  # tickets and comments about this release, reached accounts
    window_days: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def assess_release_customers(
    warehouse: Warehouse,
    release_id: str,
    *,
    window_days: int = 28,
    health: HealthReport | None = None,
    health_config: HealthConfig | None = None,
) -> ReleaseCustomerImpact:
    """How many accounts and users a release reached, their ARR and health, and what changed.

    Sentiment and tickets compare [ship - W, ship) with [ship, ship + W) for the
    reached accounts (W shrinks to the data after shipping, see ``feedback``).
    """
    release = release_row(warehouse, release_id)
    ship: datetime = release["shipped_at"]
    audience = release_audience(warehouse, release, window_days)
    reached = list(audience.accounts)
    feedback = release_feedback(warehouse, release_id, window_days=window_days, accounts=reached)
    days = feedback.window_days
    health = health if health is not None else compute_health(warehouse, health_config)
    panel = health.panel
    idx = np.array([i for i in (panel.index_of(a) for a in reached) if i is not None], dtype=int)
    ship_day = np.datetime64(ship.date(), "D")
    end_day = np.datetime64(panel.as_of.date(), "D") if panel.as_of else ship_day
    arr_then = 12 * np.nansum(panel.mrr_on(idx, np.full(len(idx), ship_day)))
    arr_now = 12 * np.nansum(panel.mrr_on(idx, np.full(len(idx), end_day)))
    before_col = week_of(ship.date()) - 1 - panel.first_week
    health_before = health.band_counts(idx, before_col) if 0 <= before_col < panel.n_weeks else {}
    health_now = health.band_counts(idx, panel.n_weeks - 1) if panel.n_weeks else {}
    churn = panel.churn_day[idx] if len(idx) else np.array([], dtype="datetime64[D]")
    churned = int(np.sum(~np.isnat(churn) & (churn >= ship_day) & (churn < ship_day + days)))

    lo, hi = ship - timedelta(days=days), ship + timedelta(days=days)
    s = only_accounts(warehouse.table("surveys"), reached)
    s = s.filter(
        s.score.notnull(), s.responded_at >= ibis.literal(lo), s.responded_at < ibis.literal(hi)
    )
    s = s.mutate(survey=s.survey.lower(), after=s.responded_at >= ibis.literal(ship))
    rows = {
        (r["survey"], r["after"]): r
        for r in survey_stats(s, ["survey", "after"]).to_pyarrow().to_pylist()
    }
    empty = {"n": 0, "total": 0, "sum_squares": 0, "promoters": 0, "detractors": 0}

    def score(survey: str, after: bool) -> SurveyScore:
        return summarize_row(survey, rows.get((survey, after), empty))

    notes = [n for n in (audience.note, feedback.error) if n]
    if feedback.truncated:
        notes.append(
            f"windows shortened to {days} days: the data ends before {window_days} days after shipping"
        )
    return ReleaseCustomerImpact(
        release_id=release_id,
        title=release.get("title"),
        shipped_at=ship,
        audience=audience.kind,
        accounts_reached=len(reached),
        users_reached=audience.users,
        arr_reached=float(arr_then),
        arr_reached_now=float(arr_now),
        health_before=health_before,
        health_now=health_now,
        churned_after=churned,
        nps_before=score("nps", False),
        nps_after=score("nps", True),
        csat_before=score("csat", False),
        csat_after=score("csat", True),
        tickets=rate_ratio(feedback.before.all_tickets, feedback.after.all_tickets),
        feedback=feedback,
        window_days=days,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ReleaseReach:
    release_id: str
    title: str | None
    shipped_at: datetime
    how: str  # audience list | flag seen in its events | audience filter | shipped to everyone


def releases_for_account(warehouse: Warehouse, account_id: str) -> tuple[ReleaseReach, ...]:
    """Releases that reached an account: listed it, matched it, showed it their flag, or everyone."""
    acc_t = warehouse.table("accounts")
    acc_rows = acc_t.filter(acc_t.account_id == account_id).to_pyarrow().to_pylist()
    created = acc_rows[0]["created_at"] if acc_rows else None
    churned = acc_rows[0]["churned_at"] if acc_rows else None
    releases = warehouse.table("releases").order_by("shipped_at").to_pyarrow().to_pylist()
    ev = warehouse.table("events")
    ev = ev.filter(ev.account_id == account_id)
    flags = [r for r in releases if r.get("audience_flag") and not r.get("audience_accounts")]
    seen: dict[str, bool] = {}
    if flags:
        aggs = {
            f"r{i}": (
                flag_seen(ev, r["audience_flag"]) & (ev.timestamp >= ibis.literal(r["shipped_at"]))
            ).any()
            for i, r in enumerate(flags)
        }
        row = ev.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        seen = {r["release_id"]: bool(row[f"r{i}"]) for i, r in enumerate(flags)}
    out = []
    for r in releases:
        ship = r["shipped_at"]
        if r.get("audience_accounts"):
            how = "audience list" if account_id in json.loads(r["audience_accounts"]) else None
        elif r.get("audience_flag"):
            how = "flag seen in its events" if seen.get(r["release_id"]) else None
        elif r.get("audience_filter") and filter_predicate(acc_t, r["audience_filter"]) is not None:
            pred = filter_predicate(acc_t, r["audience_filter"])
            hit = acc_t.filter(pred & (acc_t.account_id == account_id)).count().to_pyarrow().as_py()
            how = "audience filter" if hit else None
        else:
            how = "shipped to everyone"
        if how == "shipped to everyone" or how == "audience filter":
            customer = (created is None or created <= ship) and (churned is None or churned > ship)
            how = how if customer else None
        if how:
            out.append(ReleaseReach(r["release_id"], r.get("title"), ship, how))
    return tuple(out)
