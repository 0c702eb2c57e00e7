"""Small random worlds (events, accounts, users, surveys, tickets, revenue) for metric tests.

Timestamps cluster around midnights (UTC and local midnights of the test time
zones) and span both 2026 daylight-saving changes (US 8 March, EU 29 March),
so "which day is this event in" is exercised where it is hardest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pyarrow as pa
import sqlglot as sg
from hypothesis import strategies as st

from impactlens.warehouse import TABLES, Warehouse
from impactlens.warehouse.rollups import ROLLUPS
from impactlens.warehouse.schema import PAIR_DEFS_TABLE, PAIRS_TABLE, PENDING_TABLE

BASE = datetime(2026, 3, 1)
DAYS = 36
NAMES = (
    "Signed Up",
    "Session Started",
    "Search Performed",
    "Search Result Clicked",
    "Report Created",
)
USERS = tuple(f"u{i}" for i in range(6))
ACCOUNTS = ("a0", "a1", "a2")
TIMEZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin")
# Seconds into a UTC day that sit next to a midnight somewhere: UTC, New York (EST/EDT),
# Kolkata (+5:30), Berlin (CET/CEST).
EDGES = (
    0,
    1,
    86399,
    4 * 3600,
    5 * 3600 - 1,
    5 * 3600,
    18 * 3600 + 1800,
    18 * 3600 + 1799,
    22 * 3600,
    23 * 3600,
)


@dataclass
class World:
    events: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    surveys: list[dict] = field(default_factory=list)
    tickets: list[dict] = field(default_factory=list)
    revenue: list[dict] = field(default_factory=list)

    def account_of(self, uid: str | None) -> str | None:
        return next((u["account_id"] for u in self.users if u["user_id"] == uid), None)


def timestamps() -> st.SearchStrategy[datetime]:
    second = st.one_of(st.sampled_from(EDGES), st.integers(0, 86399))
    return st.builds(
        lambda d, s: BASE + timedelta(days=d, seconds=s), st.integers(0, DAYS - 1), second
    )


@st.composite
def worlds(draw, max_events: int = 40) -> World:
    w = World()
    plans = draw(
        st.lists(st.sampled_from(["free", "pro", "enterprise", None]), min_size=3, max_size=3)
    )
    for aid, plan in zip(ACCOUNTS, plans, strict=True):
        tier = draw(st.sampled_from([1, 2, None]))
        attrs = json.dumps({"tier": tier} if tier is not None else {})
        w.accounts.append(
            {
                "account_id": aid,
                "plan": plan,
                "segment": "smb" if aid != "a2" else "mid",
                "attributes": attrs,
            }
        )
    for i, uid in enumerate(USERS):
        account = None if i == 5 else ACCOUNTS[i % 3]
        role = draw(st.sampled_from(["admin", "member"]))
        w.users.append(
            {"user_id": uid, "account_id": account, "attributes": json.dumps({"role": role})}
        )
    n = draw(st.integers(0, max_events))
    for k in range(n):
        uid = draw(st.sampled_from(USERS[:5]) if k % 7 else st.sampled_from(USERS))
        props: dict = {}
        kind = draw(st.integers(0, 3))
        if kind == 1:
            props = {"flags": {"search_v2": draw(st.booleans())}}
        elif kind == 2:
            props = {
                "n": draw(st.integers(0, 6)),
                "source": draw(st.sampled_from(["organic", "paid"])),
            }
        w.events.append(
            {
                "message_id": f"m{k}",
                "timestamp": draw(timestamps()),
                "event": draw(st.sampled_from(NAMES)),
                "actor_id": uid,
                "user_id": uid,
                "account_id": w.account_of(uid),
                "properties": json.dumps(props),
            }
        )
    return w


@st.composite
def business(draw, world_strategy=None) -> World:
    """A world with surveys, tickets and revenue too (fewer events)."""
    w = draw(worlds(max_events=15) if world_strategy is None else world_strategy)
    for k in range(draw(st.integers(0, 25))):
        uid = draw(st.sampled_from(USERS))
        survey = draw(st.sampled_from(["nps", "csat", "ces"]))
        top = {"nps": 10, "csat": 5, "ces": 7}[survey]
        score = draw(st.one_of(st.integers(0, top), st.just(11)))
        w.surveys.append(
            {
                "response_id": f"r{k}",
                "responded_at": draw(timestamps()),
                "user_id": uid,
                "account_id": w.account_of(uid),
                "survey": survey,
                "score": float(score),
            }
        )
    for k in range(draw(st.integers(0, 15))):
        uid = draw(st.sampled_from(USERS))
        created = draw(timestamps())
        solved = draw(st.one_of(st.none(), st.integers(0, 10 * 86400)))
        w.tickets.append(
            {
                "ticket_id": f"t{k}",
                "created_at": created,
                "solved_at": None if solved is None else created + timedelta(seconds=solved),
                "account_id": w.account_of(uid),
                "user_id": uid,
                "priority": draw(st.sampled_from(["low", "high"])),
            }
        )
    for aid in ACCOUNTS:
        for month in range(draw(st.integers(0, 4)), 6):
            if draw(st.integers(0, 4)) == 0:
                continue
            w.revenue.append(
                {
                    "account_id": aid,
                    "period_start": date(2025 + (10 + month) // 12, (10 + month) % 12 + 1, 1),
                    "mrr": float(draw(st.sampled_from([0, 50, 100, 150]))),
                    "plan": "pro",
                    "status": draw(st.sampled_from(["active", "active", "churned", "trial"])),
                }
            )
    return w


_SHARED: dict[str, Warehouse] = {}
TABLES_USED = ("events", "accounts", "users", "surveys", "tickets", "revenue")
DERIVED = (*ROLLUPS, PENDING_TABLE, PAIR_DEFS_TABLE, PAIRS_TABLE)


def build_warehouse(world: World, *, fresh: bool = False) -> Warehouse:
    """A DuckDB warehouse holding ``world``.

    Property tests run hundreds of examples, so by default one in-memory
    warehouse per process is emptied and refilled (creating the schema costs
    ~1 s). Rows go in with a plain insert: Warehouse.write's dedupe and upsert
    are tested in tests/warehouse and are not what these tests measure; with
    ``fresh`` a new warehouse is built through Warehouse.write itself.
    """
    if fresh:
        wh = Warehouse.connect("duckdb://:memory:")
        wh.ensure_schema()
        for name in TABLES_USED:
            if getattr(world, name):
                wh.write(name, pa.Table.from_pylist(getattr(world, name)))
        return wh
    wh = _SHARED.get("duckdb")
    if wh is None:
        wh = _SHARED["duckdb"] = Warehouse.connect("duckdb://:memory:")
        wh.ensure_schema()
    load(world, wh)
    return wh


def load(world: World, wh: Warehouse) -> None:
    """Replace the contents of the six tables of ``wh`` by ``world``; empty the derived tables
    (rollups, pair definitions), so a previous example's can never pass as this one's."""
    for name in DERIVED:
        wh.execute_statement(sg.delete(name))
    for name in TABLES_USED:
        wh.execute_statement(sg.delete(name))
        rows = getattr(world, name)
        if rows:
            schema = TABLES[name].schema.to_pyarrow()
            wh.backend.insert(name, pa.Table.from_pylist(rows, schema=schema))
