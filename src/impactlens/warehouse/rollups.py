"""Derived tables maintained at import time: hourly per-actor event rollups.

``_impactlens_event_hourly`` holds one row per (UTC hour, event, actor, account)
with the number of events; ``_impactlens_actor_hourly`` one row per (UTC hour,
actor, account) over all events, which is what "active" metrics (any event)
need, several times smaller. Count, unique, ratio and stickiness metrics read them
instead of raw events when nothing they need is lost (no event-property or flag
fields, a time zone whose offsets are whole hours); the metrics layer decides
(impactlens.metrics.planner). An hour is the coarsest bucket that still puts
every event in the right local day of any whole-hour time zone.

Writers that make rollup hours stale record them with ``mark_pending`` (a
row of ``_impactlens_rollup_pending``) in the same transaction as the change:
the file importer after writing a file's events, the account back-fill for the
hours of the events it changed. ``refresh_pending`` recomputes the pending
hours and clears the marks in one transaction; ``import_path`` calls it once
after its files, as its own timed step (docs/design/rollup-refresh.md).
``refresh_after_import`` (mark a range, then ``refresh_pending``) does both at
once inside the caller's transaction; the server's loader uses it.

A reader trusts the rollups only while no hour is pending and they hold
exactly as many events as the events table (Σ n = count of events with a
timestamp, checked on every query: sums and a count over small tables).
Anything that adds events without the importer (a test's Warehouse.write)
therefore makes readers fall back to raw events, and the next refresh, finding
the rollups still short after recomputing the pending hours, rebuilds them whole.

>>> refresh_after_import(warehouse, datetime(2026, 3, 1, 8, 5), datetime(2026, 3, 2, 9, 0))  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.warehouse.schema import ACTIVITY_TABLE, PENDING_TABLE, ROLLUP_TABLE


def hourly_rollup_expr(
    events: ir.Table, lo: datetime | None = None, hi: datetime | None = None
) -> ir.Table:
    """Events per (hour, event, actor, account) for events with lo <= timestamp < hi."""
    rows = _between(events.filter(events.timestamp.notnull()), "timestamp", lo, hi)
    return rows.group_by(
        hour=rows.timestamp.truncate("h"),
        event=rows.event,
        actor_id=rows.actor_id,
        account_id=rows.account_id,
    ).agg(n=rows.count())


def activity_from_hourly_expr(
    hourly: ir.Table, lo: datetime | None = None, hi: datetime | None = None
) -> ir.Table:
    """Events of any name per (hour, actor, account) for hours with lo <= hour < hi.

    Summing the per-event rows of an (hour, actor, account) of the (fresh)
    hourly rollup gives its events of any name, the same rows a group-by over
    raw events gives; reading the rollup instead of raw events is what an import
    pays for this table (the hourly rollup is never larger than the events).
    """
    rows = _between(hourly, "hour", lo, hi)
    return rows.group_by("hour", "actor_id", "account_id").agg(n=rows.n.sum())


def _between(rows: ir.Table, column: str, lo: datetime | None, hi: datetime | None) -> ir.Table:
    """``rows`` with lo <= column < hi (either bound may be open)."""
    if lo is not None:
        rows = rows.filter(rows[column] >= ibis.literal(lo))
    if hi is not None:
        rows = rows.filter(rows[column] < ibis.literal(hi))
    return rows


def _build(warehouse: Any, lo: datetime | None, hi: datetime | None) -> list[tuple[str, Any]]:
    """(table, expression) per rollup, in the order they must be written."""
    return [
        (ROLLUP_TABLE, lambda: hourly_rollup_expr(warehouse.table("events"), lo, hi)),
        (ACTIVITY_TABLE, lambda: activity_from_hourly_expr(warehouse.table(ROLLUP_TABLE), lo, hi)),
    ]


ROLLUPS = (ROLLUP_TABLE, ACTIVITY_TABLE)


def _hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _timestamp(value: datetime) -> sge.Expression:
    return sge.cast(sge.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S")), "timestamp")


def refresh_after_import(
    warehouse: Any, min_timestamp: datetime | None, max_timestamp: datetime | None
) -> None:
    """Bring the rollups up to date for events in [min_timestamp, max_timestamp] (naive UTC)."""
    mark_pending(warehouse, min_timestamp, max_timestamp)
    refresh_pending(warehouse)


def mark_pending(
    warehouse: Any, min_timestamp: datetime | None, max_timestamp: datetime | None
) -> None:
    """Record that the rollup hours of [min_timestamp, max_timestamp] are stale.

    Call it inside the transaction that changes those events, so a crash leaves
    either both or neither.
    """
    if min_timestamp is None or max_timestamp is None:
        return
    lo, hi = _hour(min_timestamp), _hour(max_timestamp) + timedelta(hours=1)
    warehouse.execute_statement(
        sge.insert(sg.select(_timestamp(lo), _timestamp(hi)), sg.table(PENDING_TABLE, quoted=True))
    )


# More pending ranges than this (after merging) are refreshed as one covering range.
MAX_PENDING_RANGES = 64


def pending_ranges(warehouse: Any) -> list[tuple[datetime, datetime]]:
    """The pending [lo, hi) hour ranges, overlapping and adjacent ones merged."""
    rows = warehouse.table(PENDING_TABLE).to_pyarrow().to_pylist()
    merged: list[tuple[datetime, datetime]] = []
    for row in sorted(rows, key=lambda r: r["lo"]):
        if merged and row["lo"] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], row["hi"]))
        else:
            merged.append((row["lo"], row["hi"]))
    if len(merged) > MAX_PENDING_RANGES:
        merged = [(merged[0][0], max(hi for _, hi in merged))]
    return merged


def refresh_pending(warehouse: Any) -> int:
    """Recompute the pending hours and clear the marks, in one transaction.

    Rebuilds the rollups whole if they are still short of the events table
    afterwards (events written without marking). Returns the number of hour
    ranges recomputed.

    >>> refresh_pending(warehouse)  # doctest: +SKIP
    1
    """
    with warehouse.transaction():
        ranges = pending_ranges(warehouse)
        hour = sg.column("hour", quoted=True)
        for lo, hi in ranges:
            for table, build in _build(warehouse, lo, hi):
                stmt = sg.delete(sg.table(table, quoted=True)).where(
                    (hour >= _timestamp(lo)) & (hour < _timestamp(hi))
                )
                warehouse.execute_statement(stmt)
                warehouse.backend.insert(table, build())
        if ranges:
            warehouse.execute_statement(sg.delete(sg.table(PENDING_TABLE, quoted=True)))
        if not rollup_is_fresh(warehouse):
            rebuild_rollups(warehouse)
    return len(ranges)


def rebuild_rollups(warehouse: Any) -> None:
    """Recompute the rollups from the whole events table (migrations, repairs)."""
    for table, build in _build(warehouse, None, None):
        warehouse.execute_statement(sg.delete(sg.table(table, quoted=True)))
        warehouse.backend.insert(table, build())


def rollup_is_fresh(warehouse: Any) -> bool:
    """True when no hour is pending and each rollup holds exactly the events of the events table."""
    try:
        events = warehouse.table("events")
        covered = [warehouse.table(t).n.sum().fill_null(0) for t in ROLLUPS]
        pending = warehouse.table(PENDING_TABLE).count()
    except Exception:  # an engine or warehouse without the rollup tables
        return False
    total = events.filter(events.timestamp.notnull()).count()
    sums = (
        ibis.literal(0)
        .name("x")
        .as_table()
        .select(
            total=total.as_scalar(),
            pending=pending.as_scalar(),
            **{f"n{i}": c.as_scalar() for i, c in enumerate(covered)},
        )
    )
    row = sums.to_pyarrow().to_pylist()[0]
    return row["pending"] == 0 and all(row[f"n{i}"] == row["total"] for i in range(len(covered)))
