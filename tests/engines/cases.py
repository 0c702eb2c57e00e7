"""One seeded world and one query per metric kind, shared by every engine."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from impactlens.metrics import parse_metrics
from metrics.reference_business import ref_revenue, ref_survey, ref_tickets
from metrics.reference_kinds import (
    ref_adoption,
    ref_conversion,
    ref_count,
    ref_duration,
    ref_ratio,
    ref_retention,
    ref_stickiness,
    ref_unique,
)
from metrics.worlds import ACCOUNTS, BASE, EDGES, NAMES, USERS, World

CATALOG = parse_metrics(
    """
metrics:
  - {name: searches, kind: count, event: Search Performed, higher_is_better: true}
  - {name: active_accounts, kind: unique, actor: account, higher_is_better: true}
  - name: ctr
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: searches
    higher_is_better: true
  - name: activation
    kind: conversion
    steps: [Signed Up, Session Started, Report Created]
    within: 3d
    higher_is_better: true
  - name: time_to_click
    kind: duration
    from_event: Search Performed
    to_event: Search Result Clicked
    within: 2d
    stat: p90
    unit: minutes
    higher_is_better: false
  - {name: day1, kind: retention, cohort_event: Signed Up, period: day, n: 1, higher_is_better: true}
  - {name: dau_mau, kind: stickiness, higher_is_better: true}
  - {name: wau_mau, kind: stickiness, ratio: wau_mau, actor: account, higher_is_better: true}
  - name: adoption
    kind: adoption
    feature_event: Search Performed
    actor: account
    cumulative: true
    higher_is_better: true
  - {name: nps, kind: survey, survey: nps, higher_is_better: true}
  - {name: csat, kind: survey, survey: csat, higher_is_better: true}
  - {name: tickets, kind: tickets, stat: per_active_account, actor: account, higher_is_better: false}
  - name: resolution
    kind: tickets
    stat: median_hours_to_resolution
    actor: account
    higher_is_better: false
  - {name: mrr, kind: revenue, stat: mrr, higher_is_better: true}
  - {name: nrr, kind: revenue, stat: nrr, higher_is_better: true}
"""
)

REFS = {
    "searches": ref_count,
    "active_accounts": ref_unique,
    "ctr": partial(ref_ratio, catalog=CATALOG),
    "activation": ref_conversion,
    "time_to_click": ref_duration,
    "day1": ref_retention,
    "dau_mau": ref_stickiness,
    "wau_mau": ref_stickiness,
    "adoption": ref_adoption,
    "nps": ref_survey,
    "csat": ref_survey,
    "tickets": ref_tickets,
    "resolution": ref_tickets,
    "mrr": ref_revenue,
    "nrr": ref_revenue,
}


@dataclass(frozen=True)
class Case:
    """A series query and, unless the kind has none here, a per-actor query."""

    metric: str
    grain: str = "week"
    segment: str | None = None
    filters: tuple[dict, ...] = ()
    per_actor: bool = True
    windows: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.metric}-{self.grain}-{self.segment or 'all'}"


START, END = date(2026, 3, 3), date(2026, 3, 31)


def _unknown_ids(prefix: str) -> list[str]:
    """30 ids that match nothing: with one real id, a list too long to be written literally."""
    return [f"{prefix}-{i}" for i in range(30)]


TZ = "America/New_York"
WINDOWS = {
    "u0": (BASE + timedelta(days=5, hours=3), None),
    "u1": (None, BASE + timedelta(days=20)),
    "u3": (None, None),
    "a0": (BASE + timedelta(days=9), None),
    "a1": (None, None),
    "nobody": (None, None),
}
CASES = (
    Case("searches", "day", "plan", ({"field": "user.role", "value": "member"},)),
    Case("active_accounts", "week", "account.tier"),
    Case("ctr", "week", "flag.search_v2"),
    Case("activation", "week", "event.source"),
    Case("time_to_click", "day", None, ({"field": "event.n", "op": "<", "value": 5},)),
    Case("day1", "week", "plan"),
    Case("dau_mau", "week", "plan"),
    Case("wau_mau", "month", None),
    Case("adoption", "week", "plan"),
    Case("nps", "month", "plan"),
    Case("csat", "week", None),
    Case("tickets", "week", "plan"),
    Case("resolution", "week", None),
    Case("mrr", "month", "plan"),
    Case("nrr", "month", None),
    # Lists longer than LITERAL_LIST_LIMIT are a constant table: IN / NOT IN a subquery.
    Case(
        "searches",
        "week",
        None,
        ({"field": "account.account_id", "op": "not_in", "value": ["a1", *_unknown_ids("gone")]},),
    ),
    Case(
        "ctr",
        "day",
        None,
        ({"field": "user.user_id", "op": "in", "value": [*USERS[:4], *_unknown_ids("nobody")]},),
    ),
    Case(
        "searches",
        "day",
        None,
        ({"field": "event.n", "op": "not_in", "value": list(range(3, 40))},),
    ),
)


def seeded_world(seed: int = 7, events: int = 160) -> World:
    rng = random.Random(seed)
    w = World()
    for aid, plan in zip(ACCOUNTS, ("pro", "free", None), strict=True):
        w.accounts.append(
            {
                "account_id": aid,
                "plan": plan,
                "segment": "smb",
                "attributes": json.dumps({"tier": rng.choice([1, 2])}),
            }
        )
    for i, uid in enumerate(USERS):
        w.users.append(
            {
                "user_id": uid,
                "account_id": None if i == 5 else ACCOUNTS[i % 3],
                "attributes": json.dumps({"role": rng.choice(["admin", "member"])}),
            }
        )
    for k in range(events):
        uid = rng.choice(USERS)
        props: dict[str, Any] = rng.choice(
            [
                {},
                {"flags": {"search_v2": rng.random() < 0.5}},
                {"n": rng.randrange(8), "source": rng.choice(["organic", "paid"])},
            ]
        )
        second = rng.choice(EDGES) if rng.random() < 0.4 else rng.randrange(86400)
        w.events.append(
            {
                "message_id": f"m{k}",
                "event": rng.choice(NAMES),
                "actor_id": uid,
                "user_id": uid,
                "account_id": w.account_of(uid),
                "properties": json.dumps(props),
                "timestamp": BASE + timedelta(days=rng.randrange(36), seconds=second),
            }
        )
    for k in range(40):
        uid = rng.choice(USERS)
        survey = rng.choice(["nps", "csat"])
        w.surveys.append(
            {
                "response_id": f"r{k}",
                "user_id": uid,
                "account_id": w.account_of(uid),
                "survey": survey,
                "score": float(rng.randrange(11 if survey == "nps" else 6)),
                "responded_at": BASE + timedelta(seconds=rng.randrange(36 * 86400)),
            }
        )
    for k in range(30):
        uid = rng.choice(USERS)
        created = BASE + timedelta(seconds=rng.randrange(36 * 86400))
        w.tickets.append(
            {
                "ticket_id": f"t{k}",
                "user_id": uid,
                "account_id": w.account_of(uid),
                "created_at": created,
                "priority": "high",
                "solved_at": created + timedelta(seconds=rng.randrange(5 * 86400))
                if rng.random() < 0.8
                else None,
            }
        )
    for aid in ACCOUNTS:
        for month in range(6):
            if rng.random() < 0.8:
                w.revenue.append(
                    {
                        "account_id": aid,
                        "period_start": date(2025 + (10 + month) // 12, (10 + month) % 12 + 1, 1),
                        "mrr": float(rng.choice([0, 50, 100, 150])),
                        "plan": "pro",
                        "status": rng.choice(["active", "active", "churned"]),
                    }
                )
    return w


def window_for(case: Case) -> dict:
    if case.metric in ("mrr", "nrr"):
        return {
            "timezone": "UTC",
            "grain": "month",
            "start": date(2025, 11, 1),
            "end": date(2026, 5, 1),
        }
    return {"timezone": TZ, "grain": case.grain, "start": START, "end": END}


def actor_window(case: Case) -> dict:
    start, end = window_for(case)["start"], window_for(case)["end"]
    windows = {k: v for k, v in WINDOWS.items()}
    return {
        "start": start,
        "end": end,
        "timezone": window_for(case)["timezone"],
        "as_datetime": False,
        "windows": windows,
    }


def moment(days: int) -> datetime:
    return BASE + timedelta(days=days)
