"""Derived tables maintained at import time: hourly per-actor event rollups.

``_impactlens_event_hourly`` holds one row per (UTC hour, event, actor, account)
with the number of events; ``_impactlens_actor_hourly`` one row per (UTC hour,
actor, account) over all events, which is what "active" metrics (any event)
need, several times smaller. Count, unique, ratio and stickiness metrics read them
instead of raw events when nothing they need is lost (no event-property or flag
fields, a time zone whose offsets are whole hours); the metrics layer decides
(impactlens.metrics.planner). An hour is the coarsest bucket that still puts
every event in the right local day of any whole-hour time zone.

``refresh_after_import`` is called by the importer inside the import's
transaction, after new events were written, with the UTC range they span. It
recomputes the hours in that range. A reader trusts the rollups only while
they hold exactly as many events as the events table (Σ n = count of events
with a timestamp, checked on every query: two sums over small tables).
Anything that adds events without the importer (a test's Warehouse.write)
therefore makes readers fall back to raw events, and the next refresh, finding
the rollups still short after recomputing its range, rebuilds them whole.
Changing an existing event's actor or account (a back-fill) is not detected:
the importer must refresh the range it touched.

>>> refresh_after_import(warehouse, datetime(2026, 3, 1, 8, 5), datetime(2026, 3, 2, 9, 0))  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.warehouse.schema import ACTIVITY_TABLE, ROLLUP_TABLE


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
    if min_timestamp is not None and max_timestamp is not None:
        lo, hi = _hour(min_timestamp), _hour(max_timestamp) + timedelta(hours=1)
        hour = sg.column("hour", quoted=True)
        for table, build in _build(warehouse, lo, hi):
            stmt = sg.delete(sg.table(table, quoted=True)).where(
                (hour >= _timestamp(lo)) & (hour < _timestamp(hi))
            )
            warehouse.execute_statement(stmt)
            warehouse.backend.insert(table, build())
    if not rollup_is_fresh(warehouse):
        rebuild_rollups(warehouse)


def rebuild_rollups(warehouse: Any) -> None:
    """Recompute the rollups from the whole events table (migrations, repairs)."""
    for table, build in _build(warehouse, None, None):
        warehouse.execute_statement(sg.delete(sg.table(table, quoted=True)))
        warehouse.backend.insert(table, build())


def rollup_is_fresh(warehouse: Any) -> bool:
    """True when each rollup holds exactly the events of the events table."""
    try:
        events = warehouse.table("events")
        covered = [warehouse.table(t).n.sum().fill_null(0) for t in ROLLUPS]
    except Exception:  # an engine or warehouse without the rollup tables
        return False
    total = events.filter(events.timestamp.notnull()).count()
    sums = (
        ibis.literal(0)
        .name("x")
        .as_table()
        .select(total=total.as_scalar(), **{f"n{i}": c.as_scalar() for i, c in enumerate(covered)})
    )
    row = sums.to_pyarrow().to_pylist()[0]
    return all(row[f"n{i}"] == row["total"] for i in range(len(covered)))
