"""Derived tables maintained at import time: hourly per-actor event rollups.

``_impactlens_event_hourly`` holds one row per (UTC hour, event, actor, account)
with the number of events; ``_impactlens_actor_hourly`` one row per (UTC hour,
actor, account) over all events, which is what "active" metrics (any event)
need, several times smaller; ``_impactlens_event_counts`` one row per (UTC hour,
event) with its events (all, with a user, with an account), for counts that need no
actor; ``_impactlens_pairs`` per registered (from event, to event, actor, within)
definition each from-event with the actor's next to-event within the bound, for
duration metrics (``register_pairs`` builds one now, ``request_pairs`` at the next
refresh; refreshed from ``within`` before the stale hours on; ``forget_pairs`` and
``forget_pairs_except`` drop definitions, which ``impactlens import`` does for those
metrics.yaml no longer uses: service/imports.py). Count, unique, ratio and stickiness metrics read them
instead of raw events when nothing they need is lost (no event-property or flag
fields, a time zone whose offsets are whole hours); the metrics layer decides
(impactlens.metrics.planner). An hour is the coarsest bucket that still puts
every event in the right local day of any whole-hour time zone.

Writers that make rollup hours stale record them with ``mark_pending`` (a
row of ``_impactlens_rollup_pending``) in the same transaction as the change:
the file importer after writing a file's events, the account back-fill for the
hours of the events it changed. ``refresh_pending`` recomputes the pending
hours and clears their marks, a week of hours per transaction; ``import_path`` calls it once
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

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.warehouse.parts import has_parts
from impactlens.warehouse.schema import (
    ACTIVITY_TABLE,
    COUNTS_TABLE,
    PAIR_DEFS_TABLE,
    PAIRS_TABLE,
    PART_ROWS_TABLE,
    PARTS_TABLE,
    PENDING_TABLE,
    ROLLUP_TABLE,
)


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


def counts_from_hourly_expr(
    hourly: ir.Table, lo: datetime | None = None, hi: datetime | None = None
) -> ir.Table:
    """Events per (hour, event) for hours with lo <= hour < hi: all (``n``), with a user
    (``n_user``), with an account (``n_account``).

    What a count metric without filters, segment or distinct actors needs (a ratio of
    counts): a few rows per hour instead of one per actor, summed from the hourly rollup.
    """
    rows = _between(hourly, "hour", lo, hi)
    zero = ibis.literal(0, "int64")
    return rows.group_by("hour", "event").agg(
        n=rows.n.sum(),
        n_user=rows.n.sum(where=rows.actor_id.notnull()).fill_null(zero),
        n_account=rows.n.sum(where=rows.account_id.notnull()).fill_null(zero),
    )


def with_next(froms: ir.Table, tos: ir.Table) -> ir.Table:
    """``froms`` (``actor``, ``ts``, other columns) with ``_next``: the earliest ``ts`` of
    ``tos`` (``actor``, ``ts``) of the same actor at or after it; rows without one are dropped.

    From-rows sort before to-rows at the same instant, so "at or after" holds. The order
    is reversed so the frame is a running one (start to current row), which engines keep
    incrementally, instead of current row to end (DuckDB: a segment tree, ~15% slower).
    """
    a = froms.mutate(_b=ibis.literal(0, "int8"))
    other = {c: ibis.null(a[c].type()) for c in a.columns if c not in ("actor", "ts", "_b")}
    b = tos.select(**other, actor=tos.actor, ts=tos.ts, _b=ibis.literal(1, "int8"))
    both = a.union(b.select(*a.columns))
    after = ibis.window(
        group_by="actor", order_by=[ibis.desc("ts"), ibis.desc("_b")], rows=(None, 0)
    )
    nxt = ibis.ifelse(both._b == 1, both.ts, ibis.null("timestamp")).min().over(after)
    paired = both.mutate(_next=nxt)
    return paired.filter((paired._b == 0) & paired._next.notnull()).drop("_b")


ACTOR_COLUMN = {"user": "actor_id", "account": "account_id"}


def pair_key(from_event: str, to_event: str, actor: str, within_s: int) -> str:
    """The key of a next-event definition in ``_impactlens_pair_defs`` and ``_impactlens_pairs``."""
    return json.dumps([from_event, to_event, actor, int(within_s)])


def pairs_expr(
    events: ir.Table,
    definition: dict[str, Any],
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> ir.Table:
    """Pair rows of one definition for from-events with lo <= timestamp < hi.

    Each ``from_event`` of an actor (user: ``actor_id``, account: ``account_id``) with the
    actor's next ``to_event`` at or after it, kept when that is at most ``within_s``
    seconds later (whole-second difference, as the duration metric counts it). To-events
    are read up to ``hi + within_s``: a later one can never pair within the bound.
    """
    column, within = ACTOR_COLUMN[definition["actor"]], int(definition["within_s"])
    rows = events.filter(events.timestamp.notnull() & events[column].notnull())
    a = _between(rows.filter(rows.event == definition["from_event"]), "timestamp", lo, hi)
    b = _between(rows.filter(rows.event == definition["to_event"]), "timestamp", lo, None)
    if hi is not None:
        b = b.filter(b.timestamp <= ibis.literal(hi + timedelta(seconds=within)))
    paired = with_next(
        a.select(actor=a[column], ts=a.timestamp), b.select(actor=b[column], ts=b.timestamp)
    )
    paired = paired.filter(paired._next.delta(paired.ts, unit="second") <= within)
    return paired.select(
        pair_key=ibis.literal(definition["pair_key"]),
        ts=paired.ts,
        actor=paired.actor,
        next_ts=paired._next,
    )


def pair_definitions(warehouse: Any, *, ready: bool = True) -> list[dict[str, Any]]:
    """The kept (``ready``) or only requested next-event definitions."""
    defs = warehouse.table(PAIR_DEFS_TABLE)
    return defs.filter(defs.ready == ready).to_pyarrow().to_pylist()


def refresh_pairs(warehouse: Any, lo: datetime | None, hi: datetime | None) -> None:
    """Recompute every kept definition's pairs that events in [lo, hi) can change (open
    bounds: everything).

    A from-event earlier than ``lo - within`` can only pair with a to-event before ``lo``,
    so [lo - within, hi) is recomputed.
    """
    key_col, ts = sg.column("pair_key", quoted=True), sg.column("ts", quoted=True)
    for definition in pair_definitions(warehouse):
        start = None if lo is None else lo - timedelta(seconds=int(definition["within_s"]))
        where: sge.Expression = key_col.eq(sge.Literal.string(definition["pair_key"]))
        if start is not None and hi is not None:
            where = where & (ts >= _timestamp(start)) & (ts < _timestamp(hi))
        warehouse.execute_statement(sg.delete(sg.table(PAIRS_TABLE, quoted=True)).where(where))
        warehouse.backend.insert(
            PAIRS_TABLE, pairs_expr(warehouse.table("events"), definition, start, hi)
        )


def build_requested_pairs(warehouse: Any) -> None:
    """Build the requested definitions whole; from then on they are kept."""
    for definition in pair_definitions(warehouse, ready=False):
        _build_pairs(warehouse, definition)


def _definition(from_event: str, to_event: str, actor: str, within_s: int) -> dict[str, Any]:
    if actor not in ACTOR_COLUMN:
        raise ValueError(f"actor must be user or account, got {actor!r}")
    return {
        "pair_key": pair_key(from_event, to_event, actor, within_s),
        "from_event": from_event,
        "to_event": to_event,
        "actor": actor,
        "within_s": int(within_s),
    }


def _build_pairs(warehouse: Any, definition: dict[str, Any]) -> None:
    """The definition's pairs from all events, and its row marked kept (in one transaction)."""
    with warehouse.transaction():
        _delete_pairs(warehouse, definition["pair_key"])
        row = {**definition, "ready": True}
        warehouse.backend.insert(PAIR_DEFS_TABLE, pa.Table.from_pylist([row]))
        warehouse.backend.insert(PAIRS_TABLE, pairs_expr(warehouse.table("events"), definition))


def register_pairs(
    warehouse: Any, from_event: str, to_event: str, actor: str, within_s: int
) -> str:
    """Keep the pairs of this definition from now on, built now from all events; its key.

    Call it from the connection that imports (or while nothing else writes): a build on
    another connection would not see an import committed while it runs. A definition
    already kept is left as it is. Every later refresh and rebuild keeps it exact;
    ``forget_pairs`` drops it.

    >>> register_pairs(warehouse, "Report Created", "Report Exported", "user", 86400)  # doctest: +SKIP
    '["Report Created", "Report Exported", "user", 86400]'
    """
    definition = _definition(from_event, to_event, actor, within_s)
    if not pairs_kept(warehouse, definition["pair_key"]):
        _build_pairs(warehouse, definition)
    return definition["pair_key"]


def request_pairs(warehouse: Any, from_event: str, to_event: str, actor: str, within_s: int) -> str:
    """Ask for this definition's pairs: the next refresh (an import) builds them; its key.

    Safe from a reading connection while another one imports: the request is one new
    row, and the build happens inside the importer's own refresh transaction.
    """
    definition = _definition(from_event, to_event, actor, within_s)
    defs = warehouse.table(PAIR_DEFS_TABLE)
    known = defs.filter(defs.pair_key == definition["pair_key"]).count().to_pyarrow().as_py()
    if not known:
        row = {**definition, "ready": False}
        warehouse.backend.insert(PAIR_DEFS_TABLE, pa.Table.from_pylist([row]))
    return definition["pair_key"]


def forget_pairs(warehouse: Any, key: str) -> None:
    """Stop keeping a definition's pairs (e.g. its metric left metrics.yaml)."""
    with warehouse.transaction():
        _delete_pairs(warehouse, key)


def forget_pairs_except(warehouse: Any, keys: Any) -> list[str]:
    """Drop every definition, kept or only requested, whose key is not in ``keys``, with its
    pairs, in one transaction; the keys dropped.

    >>> forget_pairs_except(warehouse, {pair_key("Report Created", "Report Exported", "user", 86400)})  # doctest: +SKIP
    ['["Signed Up", "Report Created", "account", 259200]']
    """
    keep = set(keys)
    known = warehouse.table(PAIR_DEFS_TABLE).pair_key.to_pyarrow().to_pylist()
    dropped = sorted(set(known) - keep)
    with warehouse.transaction():
        for key in dropped:
            _delete_pairs(warehouse, key)
    return dropped


def _delete_pairs(warehouse: Any, key: str) -> None:
    """A definition's row and its pairs, deleted (inside the caller's transaction)."""
    where = sg.column("pair_key", quoted=True).eq(sge.Literal.string(key))
    for table in (PAIR_DEFS_TABLE, PAIRS_TABLE):
        warehouse.execute_statement(sg.delete(sg.table(table, quoted=True)).where(where))


def pairs_kept(warehouse: Any, key: str) -> bool:
    """True when the definition's pairs are built and kept by every refresh."""
    try:
        defs = warehouse.table(PAIR_DEFS_TABLE)
    except Exception:  # an engine or warehouse without the table
        return False
    kept = defs.filter((defs.pair_key == key) & defs.ready)
    return bool(kept.count().to_pyarrow().as_py())


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
        (COUNTS_TABLE, lambda: counts_from_hourly_expr(warehouse.table(ROLLUP_TABLE), lo, hi)),
    ]


ROLLUPS = (ROLLUP_TABLE, ACTIVITY_TABLE, COUNTS_TABLE)


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


# A refresh recomputes at most this many hours per transaction, so its memory stays
# bounded by a week of events whatever the import marked (the large demo marks all
# 180 days at once: as one statement its group-by ran out of the import's 1 GB).
REFRESH_SLICE = timedelta(days=7)


def refresh_pending(warehouse: Any) -> int:
    """Recompute the pending hours and clear their marks, a week of hours per transaction.

    Each slice's recomputation and the removal of its hours from the marks commit
    together, so an interruption leaves the remaining hours marked (readers keep
    using raw events until a later refresh finishes). Rebuilds the rollups whole
    if they are still short of the events table afterwards (events written
    without marking). Returns the number of hour slices recomputed.

    >>> refresh_pending(warehouse)  # doctest: +SKIP
    1
    """
    done = 0
    for lo, hi in pending_ranges(warehouse):
        unmarked = lo
        for start, end in _slices(warehouse, lo, hi):
            with warehouse.transaction():
                _recompute(warehouse, start, end)
                _unmark(warehouse, unmarked, end)
            done += 1
            unmarked = end
        if unmarked < hi:  # weeks with neither events nor rollup rows: nothing to recompute
            with warehouse.transaction():
                _unmark(warehouse, unmarked, hi)
    with warehouse.transaction():
        build_requested_pairs(warehouse)
        if not rollup_is_fresh(warehouse):
            rebuild_rollups(warehouse)
    return done


def _slices(warehouse: Any, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """The ``REFRESH_SLICE``-long pieces of [lo, hi) that hold events or rollup rows.

    Only those can change: a mark may span decades of empty hours (a stray timestamp
    in 2000 and another in 2100), which would otherwise be thousands of empty slices.
    A range of one slice or less (the server loader's batch) is taken as it is,
    without looking.
    """
    if hi - lo <= REFRESH_SLICE:
        return [(lo, hi)]
    step = int(REFRESH_SLICE.total_seconds())
    found: set[int] = set()
    for table, column in (("events", "timestamp"), (ROLLUP_TABLE, "hour")):
        rows = _between(warehouse.table(table), column, lo, hi)
        offset = rows[column].epoch_seconds() - int(lo.replace(tzinfo=UTC).timestamp())
        piece = (offset // step).name("piece")
        found.update(rows.select(piece).distinct().to_pyarrow().column("piece").to_pylist())
    return [
        (lo + k * REFRESH_SLICE, min(lo + (k + 1) * REFRESH_SLICE, hi))
        for k in sorted(int(k) for k in found if k is not None)
    ]


def _recompute(warehouse: Any, lo: datetime, hi: datetime) -> None:
    hour = sg.column("hour", quoted=True)
    for table, build in _build(warehouse, lo, hi):
        stmt = sg.delete(sg.table(table, quoted=True)).where(
            (hour >= _timestamp(lo)) & (hour < _timestamp(hi))
        )
        warehouse.execute_statement(stmt)
        warehouse.backend.insert(table, build())
    refresh_pairs(warehouse, lo, hi)


def _unmark(warehouse: Any, lo: datetime, hi: datetime) -> None:
    """Take the hours [lo, hi) out of the pending marks (what is left of each mark stays)."""
    left = [
        piece
        for mark_lo, mark_hi in pending_ranges(warehouse)
        for piece in ((mark_lo, min(mark_hi, lo)), (max(mark_lo, hi), mark_hi))
        if piece[0] < piece[1]
    ]
    table = sg.table(PENDING_TABLE, quoted=True)
    warehouse.execute_statement(sg.delete(table))
    for piece_lo, piece_hi in left:
        warehouse.execute_statement(
            sge.insert(sg.select(_timestamp(piece_lo), _timestamp(piece_hi)), table)
        )


def rebuild_rollups(warehouse: Any) -> None:
    """Recompute the rollups from the whole events table (migrations, repairs)."""
    for table, build in _build(warehouse, None, None):
        warehouse.execute_statement(sg.delete(sg.table(table, quoted=True)))
        warehouse.backend.insert(table, build())
    refresh_pairs(warehouse, None, None)
    build_requested_pairs(warehouse)


def rollup_is_fresh(warehouse: Any) -> bool:
    """True when no hour is pending and each rollup holds exactly the events of the events table."""
    try:
        events = warehouse.table("events")
        covered = [warehouse.table(t).n.sum().fill_null(0) for t in ROLLUPS]
        pending = warehouse.table(PENDING_TABLE).count()
    except Exception:  # an engine or warehouse without the rollup tables
        return False
    if has_parts(warehouse):
        # Every event in a part has a timestamp (the row checks reject one without):
        # count the parts from their catalog rather than scan their timestamps.
        rows = warehouse.table(PART_ROWS_TABLE)
        parts = warehouse.table(PARTS_TABLE).rows.sum().fill_null(0)
        total = rows.filter(rows.timestamp.notnull()).count().as_scalar() + parts.as_scalar()
    else:
        total = events.filter(events.timestamp.notnull()).count().as_scalar()
    sums = (
        ibis.literal(0)
        .name("x")
        .as_table()
        .select(
            total=total,
            pending=pending.as_scalar(),
            **{f"n{i}": c.as_scalar() for i, c in enumerate(covered)},
        )
    )
    row = sums.to_pyarrow().to_pylist()[0]
    return row["pending"] == 0 and all(row[f"n{i}"] == row["total"] for i in range(len(covered)))
