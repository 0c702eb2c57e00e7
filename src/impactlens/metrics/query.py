"""What a kind's compiler receives (:class:`Query`) and returns (:class:`Aggregated`).

A kind aggregates rows into components per *group*. Two groupings share every
compiler: :class:`SeriesGrouping` (one group per period and segment, rows in
the local-time range) and :class:`ActorGrouping` (one group per user or
account, rows inside each actor's own window). The public functions in
:mod:`impactlens.metrics.series` then densify the groups and compute the value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from impactlens.metrics.fields import FieldRef
from impactlens.metrics.spec import FilterSpec
from impactlens.metrics.timebase import Timebase, to_local

UNIT_COLUMN = {"user": "uid", "account": "aid"}


@dataclass(frozen=True)
class SeriesGrouping:
    """Groups are (period_start[, segment]); rows must fall in the timebase's range.

    ``actors`` (optional, ``actor_id`` and maybe ``segment``) keeps only the rows
    of those actors, and its ``segment`` column, when there, is the segment.
    """

    timebase: Timebase
    segmented: bool = False
    actors: ir.Table | None = field(default=None, compare=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return ("period_start", "segment") if self.segmented else ("period_start",)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.timebase.utc_start, self.timebase.utc_end

    def assign(self, rows: ir.Table, *, wall_clock: bool = False) -> ir.Table:
        """Rows in range with their ``period_start``.

        ``wall_clock``: ``ts`` is already a local calendar time (revenue months), not UTC.
        """
        tb = self.timebase
        if not wall_clock:
            rows = rows.filter(tb.in_range(rows.ts))
            return self._of_actors(rows.mutate(period_start=tb.period(rows.ts)))
        start, end = datetime.combine(tb.start, time(0)), datetime.combine(tb.end, time(0))
        rows = rows.filter((rows.ts >= ibis.literal(start)) & (rows.ts < ibis.literal(end)))
        local = (
            rows.ts.date() if tb.grain == "day" else rows.ts.truncate(tb.grain[0].upper()).date()
        )
        return self._of_actors(rows.mutate(period_start=local))

    def _of_actors(self, rows: ir.Table) -> ir.Table:
        if self.actors is None:
            return rows
        extra = {"segment": self.actors.segment.cast("string")} if self.segmented else {}
        keep = self.actors.select(_ak=self.actors.actor_id, **extra)
        return rows.join(keep, rows.actor == keep._ak).drop("_ak")

    def local_day(self, ts: ir.TimestampValue, horizon: timedelta = timedelta(0)) -> ir.DateValue:
        tb = self.timebase
        return to_local(
            ts, tb.timezone, tb.utc_start - timedelta(days=45), tb.utc_end + horizon
        ).date()


@dataclass(frozen=True)
class ActorGrouping:
    """Groups are actors (``actor_id``); each row counts inside its actor's window.

    ``actors`` (optional) has ``actor_id`` and may have ``start_at``/``end_at``
    (naive UTC): an actor's window is [max(lo, start_at), min(hi, end_at)).
    """

    unit: str
    lo: datetime
    hi: datetime
    timezone: str
    actors: ir.Table | None = None

    keys: tuple[str, ...] = field(default=("actor_id",), init=False)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.lo, self.hi

    def assign(self, rows: ir.Table, *, wall_clock: bool = False) -> ir.Table:
        rows = rows.filter((rows.ts >= ibis.literal(self.lo)) & (rows.ts < ibis.literal(self.hi)))
        rows = rows.mutate(actor_id=rows[UNIT_COLUMN[self.unit]]).filter(ibis._.actor_id.notnull())
        if self.actors is None:
            return rows
        cols = self.actors.columns
        null_ts = ibis.null("timestamp")
        windows = self.actors.select(
            _wk=self.actors.actor_id,
            _ws=self.actors.start_at if "start_at" in cols else null_ts,
            _we=self.actors.end_at if "end_at" in cols else null_ts,
        )
        rows = rows.join(windows, rows.actor_id == windows._wk)
        inside = (rows._ws.isnull() | (rows.ts >= rows._ws)) & (
            rows._we.isnull() | (rows.ts < rows._we)
        )
        return rows.filter(inside).drop("_wk", "_ws", "_we")

    def local_day(self, ts: ir.TimestampValue, horizon: timedelta = timedelta(0)) -> ir.DateValue:
        return to_local(ts, self.timezone, self.lo - timedelta(days=45), self.hi + horizon).date()


Grouping = SeriesGrouping | ActorGrouping


@dataclass(frozen=True)
class Query:
    """The warehouse, the catalog (for ratio parts), the grouping and call-time options."""

    warehouse: Any
    grouping: Grouping
    segment: FieldRef | None = None
    filters: tuple[FilterSpec, ...] = ()
    catalog: Any = None
    rollup: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return self.grouping.keys

    @property
    def engine(self) -> str:
        return self.warehouse.engine


@dataclass(frozen=True)
class Aggregated:
    """Components per group, and how the value follows from them.

    ``additive`` components are 0 for a group without rows (counts, sums);
    the others (means, quantiles) stay null there.
    """

    table: ir.Table
    additive: tuple[str, ...]
    value: Callable[[ir.Table], ir.Value]
    reason: Callable[[ir.Table], ir.Value]
    ratio: bool
    extras: tuple[str, ...] = ()


def divide(why: str) -> tuple[Callable[[ir.Table], ir.Value], Callable[[ir.Table], ir.Value]]:
    """value = numerator / denominator; null with ``why`` when the denominator is 0."""

    def value(t: ir.Table) -> ir.Value:
        den = t.denominator.cast("float64")
        return ibis.ifelse(den == 0, ibis.null("float64"), t.numerator.cast("float64") / den)

    def reason(t: ir.Table) -> ir.Value:
        return ibis.ifelse(t.denominator == 0, ibis.literal(why), ibis.null("string"))

    return value, reason


def numerator_value(t: ir.Table) -> ir.Value:
    return t.numerator.cast("float64")


def no_reason(t: ir.Table) -> ir.Value:
    return ibis.null("string")


def literal_table(columns: dict[str, str], rows: list[dict[str, Any]]) -> ir.Table:
    """A small constant table written into the query itself (an unnested array of structs).

    Unlike ``ibis.memtable`` nothing has to be registered with the engine, so the
    compiled SQL is self-contained: the same on every engine and safe to cache.
    """
    fields = ", ".join(f"{name}: {dtype}" for name, dtype in columns.items())
    array = ibis.literal(rows, type=f"array<struct<{fields}>>")
    return array.unnest().name("_row").as_table().unpack("_row")


LITERAL_LIST_LIMIT = 16


def isin_values(value: ir.Value, values: Sequence[Any]) -> ir.BooleanValue:
    """``value IN (values)``; a list longer than ``LITERAL_LIST_LIMIT`` is a constant table.

    A long list of literals costs one comparison per literal and row wherever the
    engine does not turn it into a join: DuckDB 1.5 does for ``IN`` but not for
    ``NOT (... IN ...)``, which took minutes per query for 800 holdout accounts
    on the large demo (docs/benchmarks.md). ``IN (SELECT ... FROM <constant
    table>)`` is a hash (anti-)join on DuckDB, Spark and ClickHouse, and the SQL
    stays self-contained. NULL handling is SQL's either way.

    >>> import ibis
    >>> t = ibis.table({"account_id": "string"}, name="events")
    >>> expr = t.filter(~isin_values(t.account_id, [f"acc-{i}" for i in range(800)]))
    """
    values = list(values)
    if len(values) <= LITERAL_LIST_LIMIT:
        return value.isin(values)
    dtype = str(value.type().copy(nullable=True))
    return value.isin(literal_table({"_v": dtype}, [{"_v": v} for v in values])._v)


def count_distinct(rows: ir.Table, keys: tuple[str, ...], column: str, name: str) -> ir.Table:
    """Exact distinct count per group on every engine (ClickHouse's nunique is approximate)."""
    distinct = rows.select(*keys, column).distinct()
    return distinct.group_by(list(keys)).agg(**{name: distinct.count()})
