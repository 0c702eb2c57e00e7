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
recomputes the hours in that range and records how many events the rollup
covers; a reader trusts the rollup only while that number equals the events
table's row count. Anything that changes events without the importer (a test's
Warehouse.write, a back-fill of account ids) therefore makes readers fall back
to raw events until ``refresh_after_import`` (for that range) or
``rebuild_rollups`` runs.

>>> refresh_after_import(warehouse, datetime(2026, 3, 1, 8, 5), datetime(2026, 3, 2, 9, 0))  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.warehouse.schema import ACTIVITY_TABLE, META_TABLE, ROLLUP_TABLE

ROLLUP_STATE_KEY = "rollup.event_hourly.events"


def hourly_rollup_expr(
    events: ir.Table, lo: datetime | None = None, hi: datetime | None = None
) -> ir.Table:
    """Events per (hour, event, actor, account) for events with lo <= timestamp < hi."""
    rows = events.filter(events.timestamp.notnull())
    if lo is not None:
        rows = rows.filter(rows.timestamp >= ibis.literal(lo))
    if hi is not None:
        rows = rows.filter(rows.timestamp < ibis.literal(hi))
    return rows.group_by(
        hour=rows.timestamp.truncate("h"),
        event=rows.event,
        actor_id=rows.actor_id,
        account_id=rows.account_id,
    ).agg(n=rows.count())


def activity_rollup_expr(
    events: ir.Table, lo: datetime | None = None, hi: datetime | None = None
) -> ir.Table:
    """Events of any name per (hour, actor, account) for events with lo <= timestamp < hi."""
    rows = events.filter(events.timestamp.notnull())
    if lo is not None:
        rows = rows.filter(rows.timestamp >= ibis.literal(lo))
    if hi is not None:
        rows = rows.filter(rows.timestamp < ibis.literal(hi))
    return rows.group_by(
        hour=rows.timestamp.truncate("h"), actor_id=rows.actor_id, account_id=rows.account_id
    ).agg(n=rows.count())


ROLLUPS = ((ROLLUP_TABLE, hourly_rollup_expr), (ACTIVITY_TABLE, activity_rollup_expr))


def _hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _timestamp(value: datetime) -> sge.Expression:
    return sge.cast(sge.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S")), "timestamp")


def refresh_after_import(
    warehouse: Any, min_timestamp: datetime | None, max_timestamp: datetime | None
) -> None:
    """Bring the rollup up to date for events in [min_timestamp, max_timestamp] (naive UTC)."""
    if min_timestamp is None or max_timestamp is None:
        _record(warehouse)
        return
    lo, hi = _hour(min_timestamp), _hour(max_timestamp) + timedelta(hours=1)
    hour = sg.column("hour", quoted=True)
    for table, build in ROLLUPS:
        stmt = sg.delete(sg.table(table, quoted=True)).where(
            (hour >= _timestamp(lo)) & (hour < _timestamp(hi))
        )
        warehouse.execute_statement(stmt)
        warehouse.backend.insert(table, build(warehouse.table("events"), lo, hi))
    _record(warehouse)


def rebuild_rollups(warehouse: Any) -> None:
    """Recompute the whole rollup from the events table (migrations, repairs)."""
    for table, build in ROLLUPS:
        warehouse.execute_statement(sg.delete(sg.table(table, quoted=True)))
        warehouse.backend.insert(table, build(warehouse.table("events")))
    _record(warehouse)


def _record(warehouse: Any) -> None:
    covered = str(warehouse.count("events"))
    warehouse.delete_where_in(META_TABLE, pa.table({"key": [ROLLUP_STATE_KEY]}))
    warehouse.backend.insert(META_TABLE, pa.table({"key": [ROLLUP_STATE_KEY], "value": [covered]}))


def rollup_is_fresh(warehouse: Any) -> bool:
    """True when the rollup covers exactly the events table (see the module docstring)."""
    try:
        meta = warehouse.table(META_TABLE)
        rows = meta.filter(meta.key == ROLLUP_STATE_KEY).select("value").to_pyarrow()
    except Exception:  # an engine or warehouse without the meta table: no rollup
        return False
    if rows.num_rows == 0:
        return False
    return int(rows.column(0)[0].as_py()) == warehouse.count("events")
