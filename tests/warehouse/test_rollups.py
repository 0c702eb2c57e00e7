"""The activity rollup, built from the hourly rollup, holds exactly the rows raw events give."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pyarrow as pa

from impactlens.warehouse.rollups import (
    ACTIVITY_TABLE,
    forget_pairs_except,
    rebuild_rollups,
    refresh_after_import,
    register_pairs,
    request_pairs,
)
from impactlens.warehouse.schema import PAIR_DEFS_TABLE, PAIRS_TABLE


def activity_rollup_expr(events):
    """The reference: events of any name per (hour, actor, account), straight from raw events."""
    rows = events.filter(events.timestamp.notnull())
    return rows.group_by(
        hour=rows.timestamp.truncate("h"), actor_id=rows.actor_id, account_id=rows.account_id
    ).agg(n=rows.count())


def _rows(table) -> list[tuple]:
    data = table.to_pyarrow().to_pylist()
    return sorted((r["hour"], r["actor_id"], r["account_id"] or "", r["n"]) for r in data)


def _events(prefix: str, start: datetime, n: int) -> pa.Table:
    # Several events of different names per (hour, actor); some without an account.
    return pa.Table.from_pylist(
        [
            {
                "message_id": f"{prefix}{i}",
                "timestamp": start + timedelta(minutes=4 * i),
                "event": ["A", "B", "C"][i % 3],
                "actor_id": f"u{i % 4}",
                "account_id": None if i % 5 == 0 else f"a{i % 2}",
            }
            for i in range(n)
        ]
    )


def test_activity_rollup_matches_raw_events_after_rebuild_and_refresh(warehouse) -> None:
    warehouse.write("events", _events("m", datetime(2026, 3, 1, 8), 60))
    rebuild_rollups(warehouse)
    expected = _rows(activity_rollup_expr(warehouse.table("events")))
    assert sum(r[3] for r in expected) == 60 and len(expected) < 60  # rows were merged
    assert _rows(warehouse.table(ACTIVITY_TABLE)) == expected

    # new events sharing hour 11 with the old ones: only the touched hours are recomputed
    warehouse.write("events", _events("x", datetime(2026, 3, 1, 11, 30), 40))
    refresh_after_import(warehouse, datetime(2026, 3, 1, 11, 30), datetime(2026, 3, 1, 14, 6))
    expected = _rows(activity_rollup_expr(warehouse.table("events")))
    assert sum(r[3] for r in expected) == 100
    assert _rows(warehouse.table(ACTIVITY_TABLE)) == expected


def test_forget_pairs_except_drops_every_other_definition_with_its_pairs(warehouse) -> None:
    start = datetime(2026, 3, 1, 8)
    rows = [
        {"message_id": f"p{i}", "timestamp": start + timedelta(minutes=7 * i),
         "event": ["A", "B"][i % 2], "actor_id": f"u{i % 3}", "account_id": f"a{i % 4 // 2}"}
        for i in range(30)
    ]  # fmt: skip
    warehouse.write("events", pa.Table.from_pylist(rows))
    rebuild_rollups(warehouse)
    user = register_pairs(warehouse, "A", "B", "user", 3600)
    account = register_pairs(warehouse, "A", "B", "account", 3600)
    asked = request_pairs(warehouse, "B", "A", "user", 60)  # only requested: dropped too

    def pair_rows() -> Counter:
        return Counter(warehouse.table(PAIRS_TABLE).pair_key.to_pyarrow().to_pylist())

    before = pair_rows()
    assert before[user] > 0 and before[account] > 0
    assert forget_pairs_except(warehouse, {user}) == sorted([account, asked])
    assert warehouse.table(PAIR_DEFS_TABLE).pair_key.to_pyarrow().to_pylist() == [user]
    assert pair_rows() == Counter({user: before[user]})
    assert forget_pairs_except(warehouse, {user}) == []  # nothing else left
    assert forget_pairs_except(warehouse, set()) == [user]
    assert pair_rows() == Counter() and warehouse.count(PAIR_DEFS_TABLE) == 0
