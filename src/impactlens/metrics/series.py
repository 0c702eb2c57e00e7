"""The metrics layer's public queries: a metric over time, and a metric per actor.

Both return a :class:`MetricFrame` (an Arrow table with its metric); the
``*_expr`` variants return the Ibis expression instead, so a caller can
aggregate in the warehouse (e.g. n / sum / sum of squares per variation)
without pulling rows. ``explain_metric`` prints the SQL without running it.

>>> from impactlens.metrics import parse_metrics
>>> from impactlens.warehouse import Warehouse
>>> wh = Warehouse.connect("duckdb://:memory:"); _ = wh.ensure_schema()
>>> m = parse_metrics("metrics: [{name: n, kind: count, higher_is_better: true}]").get("n")
>>> metric_series(wh, m, grain="day", start=date(2026, 1, 1), end=date(2026, 1, 3)).table.num_rows
2
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from impactlens.errors import UserError
from impactlens.metrics import plans
from impactlens.metrics.catalog import MetricCatalog
from impactlens.metrics.fields import parse_field
from impactlens.metrics.frame import MetricFrame
from impactlens.metrics.kinds import COMPILERS
from impactlens.metrics.planner import use_rollup
from impactlens.metrics.query import (
    ActorGrouping,
    Aggregated,
    Query,
    SeriesGrouping,
    literal_table,
)
from impactlens.metrics.sources import NO_SEGMENT, event_rows, table_rows
from impactlens.metrics.spec import FilterSpec, MetricBase
from impactlens.metrics.timebase import Timebase, utc_bound

# Where the population of a per-actor query comes from, when no actors table is given.
POPULATION_SOURCE = {"survey": "surveys", "tickets": "tickets", "revenue": "revenue"}


def _resolve(metric: MetricBase | str, catalog: MetricCatalog | None) -> MetricBase:
    if isinstance(metric, str):
        if catalog is None:
            raise UserError(f"metric {metric!r} given by name: pass catalog=")
        return catalog.get(metric)
    return metric


def _filters(filters: Sequence[FilterSpec | dict]) -> tuple[FilterSpec, ...]:
    return tuple(f if isinstance(f, FilterSpec) else FilterSpec.model_validate(f) for f in filters)


def _aggregate(metric: MetricBase, q: Query) -> Aggregated:
    return COMPILERS[metric.kind](metric, q)


def metric_series_expr(
    warehouse: Any,
    metric: MetricBase | str,
    *,
    grain: str = "day",
    start: date,
    end: date,
    timezone: str = "UTC",
    segment: str | None = None,
    filters: Sequence[FilterSpec | dict] = (),
    catalog: MetricCatalog | None = None,
    source: str = "auto",
    actors: ir.Table | None = None,
) -> ir.Table:
    """The Ibis expression behind :func:`metric_series` (see there)."""
    return _series(
        warehouse, metric, grain, start, end, timezone, segment, filters, catalog, source, actors
    )[0]


# Kinds whose rows all pass through the grouping with their actor (``actors=`` narrows them).
ACTOR_KINDS = ("count", "unique", "ratio")


def _grouping(
    metric: MetricBase, timebase: Timebase, segment: str | None, actors
) -> SeriesGrouping:
    if actors is None:
        return SeriesGrouping(timebase, segment is not None)
    if metric.kind not in ACTOR_KINDS:
        raise UserError(f"{metric.name}: actors= works for {', '.join(ACTOR_KINDS)} metrics")
    if "actor_id" not in actors.columns:
        raise UserError("actors needs an actor_id column (and may have segment)")
    if segment is not None and "segment" in actors.columns:
        raise UserError("give segment= or an actors table with a segment column, not both")
    return SeriesGrouping(timebase, segment is not None or "segment" in actors.columns, actors)


def _series(
    warehouse, metric, grain, start, end, timezone, segment, filters, catalog, source, actors=None
):
    metric = _resolve(metric, catalog)
    timebase = Timebase(timezone, start, end, grain)
    seg = parse_field(segment) if segment else None
    grouping = _grouping(metric, timebase, segment, actors)
    q = Query(warehouse, grouping, seg, _filters(filters), catalog)
    q = Query(**{**q.__dict__, "rollup": use_rollup(warehouse, metric, q, source)})
    agg = _aggregate(metric, q)
    keys = list(q.keys)
    calendar = literal_table(
        {"period_start": "date"}, [{"period_start": p} for p in timebase.periods()]
    )
    if grouping.segmented:
        segments = agg.table.select("segment").distinct()
        calendar = calendar.cross_join(segments)
    table = calendar.left_join(agg.table, keys).select(
        *keys, *[c for c in agg.table.columns if c not in keys]
    )
    return _finish(table, agg, keys), agg


def metric_series(
    warehouse: Any,
    metric: MetricBase | str,
    *,
    grain: str = "day",
    start: date,
    end: date,
    timezone: str = "UTC",
    segment: str | None = None,
    filters: Sequence[FilterSpec | dict] = (),
    catalog: MetricCatalog | None = None,
    source: str = "auto",
    actors: ir.Table | None = None,
) -> MetricFrame:
    """The metric per period (and segment) over local days [start, end).

    Periods are cut in ``timezone`` (weeks start on Monday); every period that
    overlaps the range is present, with 0 for counts and a null ``value`` plus
    a ``reason`` where a ratio has nothing to divide by. Columns:
    ``period_start``, [``segment``], ``value``, ``numerator``, ``denominator``,
    the kind's extras (docs/metrics.md), ``reason``.

    ``segment`` is a field such as ``plan``, ``account.segment``,
    ``user.role``, ``event.flags.search_v2`` or ``flag.search_v2``; ``filters``
    add conditions to the metric's own. ``source`` is ``auto`` (the hourly
    rollup when it is fresh and the metric allows it), ``events`` or ``rollup``.

    ``actors`` (an Ibis table over the warehouse with ``actor_id``, in the
    metric's unit, and optionally ``segment``) keeps only those actors' rows and
    splits them by its ``segment``: a segment decided per actor by a query of
    the caller's (a flag's arms in a window), with the rollup still usable.
    Count, unique and ratio metrics only.
    """
    resolved = _resolve(metric, catalog)
    rollup = _rollup_choice(
        warehouse, resolved, grain, start, end, timezone, segment, filters, source, actors
    )
    key = plans.plan_key(
        warehouse,
        resolved,
        grain=grain,
        start=start,
        end=end,
        timezone=timezone,
        segment=segment,
        filters=[f.model_dump() for f in _filters(filters)],
        rollup=rollup,
        actors=None if actors is None else str(warehouse.backend.compile(actors)),
    )
    plan = plans.lookup(warehouse, key)
    if plan is None:
        source = "rollup" if rollup else "events"
        expr, agg = _series(
            warehouse, resolved, grain, start, end, timezone, segment, filters, catalog, source,
            actors,
        )  # fmt: skip
        segmented = segment is not None or (actors is not None and "segment" in actors.columns)
        keys = ("period_start", "segment") if segmented else ("period_start",)
        plan = plans.Plan(str(warehouse.backend.compile(expr)), agg.ratio, keys)
        plans.remember(warehouse, key, plan)
    table = plans.run(warehouse, plan)
    return MetricFrame(
        resolved,
        table,
        grain=grain,
        ratio=plan.ratio,
        start=start,
        end=end,
        timezone=timezone,
        segment=segment,
    )


def _rollup_choice(
    warehouse, metric, grain, start, end, timezone, segment, filters, source, actors=None
) -> bool:
    timebase = Timebase(timezone, start, end, grain)
    seg = parse_field(segment) if segment else None
    q = Query(warehouse, _grouping(metric, timebase, segment, actors), seg, _filters(filters))
    return use_rollup(warehouse, metric, q, source)


def metric_per_actor_expr(
    warehouse: Any,
    metric: MetricBase | str,
    *,
    start: date | datetime,
    end: date | datetime,
    actor: str | None = None,
    actors_table: ir.Table | None = None,
    timezone: str = "UTC",
    filters: Sequence[FilterSpec | dict] = (),
    catalog: MetricCatalog | None = None,
    source: str = "events",
) -> ir.Table:
    """The Ibis expression behind :func:`metric_per_actor` (see there)."""
    return _per_actor(
        warehouse, metric, start, end, actor, actors_table, timezone, filters, catalog, source
    )[0]


def _per_actor(
    warehouse, metric, start, end, actor, actors_table, timezone, filters, catalog, source
):
    metric = _resolve(metric, catalog)
    unit = actor or metric.actor
    if unit not in ("user", "account"):
        raise UserError(f"actor must be user or account, got {unit!r}")
    if metric.kind == "revenue" and unit != "account":
        raise UserError(f"{metric.name} is a revenue metric: per-actor values are per account")
    if actors_table is not None and "actor_id" not in actors_table.columns:
        raise UserError("actors_table needs an actor_id column (and may have start_at, end_at)")
    lo, hi = utc_bound(start, timezone), utc_bound(end, timezone)
    if hi <= lo:
        raise UserError(f"empty window: end {end} is not after start {start}")
    grouping = ActorGrouping(unit, lo, hi, timezone, actors_table)
    q = Query(warehouse, grouping, None, _filters(filters), catalog)
    q = Query(**{**q.__dict__, "rollup": use_rollup(warehouse, metric, q, source)})
    agg = _aggregate(metric, q)
    population = actors_table if actors_table is not None else _population(metric, q)
    table = population.left_join(agg.table, "actor_id")
    table = table.select(*population.columns, *[c for c in agg.table.columns if c != "actor_id"])
    return _finish(table, agg, list(population.columns)), agg


def _population(metric: MetricBase, q: Query) -> ir.Table:
    """Actors with any row of the metric's source in the window (so zeros are listed too)."""
    source = POPULATION_SOURCE.get(metric.kind, "events")
    if source == "events":
        rows = event_rows(
            q.warehouse, (), (*metric.filters, *q.filters), None, metric.actor, rollup=q.rollup
        )
    elif source == "revenue":
        from impactlens.metrics.kinds_business import revenue_rows

        rows = revenue_rows(q, metric)  # type: ignore[arg-type]  # kind is revenue
    else:
        rows = table_rows(q.warehouse, source, (), None, metric.actor)
    rows = q.grouping.assign(rows)
    return rows.select("actor_id").distinct()


def metric_per_actor(
    warehouse: Any,
    metric: MetricBase | str,
    *,
    start: date | datetime,
    end: date | datetime,
    actor: str | None = None,
    actors_table: ir.Table | None = None,
    timezone: str = "UTC",
    filters: Sequence[FilterSpec | dict] = (),
    catalog: MetricCatalog | None = None,
    source: str = "events",
) -> MetricFrame:
    """The metric per actor over [start, end): ``actor_id``, ``value``, ``numerator``, ``denominator``.

    ``actor`` (default: the metric's) is the unit: ``user`` or ``account``. A
    ``date`` bound is local midnight in ``timezone``, a naive ``datetime`` is UTC.
    Without ``actors_table`` the actors are those with any row of the metric's
    source in the window (so zeros appear). With ``actors_table`` (``actor_id``,
    optional ``start_at``/``end_at`` naive UTC, any other columns kept) each
    actor's rows count from ``max(start, start_at)`` to ``min(end, end_at)``,
    e.g. an experiment's exposures with each actor's first exposure time.

    Where ``ratio`` is true, value = numerator / denominator row by row, so
    Σ numerator / Σ denominator over actors is the pooled metric (ratio-of-sums).
    """
    expr, agg = _per_actor(
        warehouse, metric, start, end, actor, actors_table, timezone, filters, catalog, source
    )
    return MetricFrame(
        _resolve(metric, catalog),
        expr.to_pyarrow(),
        grain=None,
        ratio=agg.ratio,
        start=start,
        end=end,
        timezone=timezone,
        segment=None,
    )


def _finish(table: ir.Table, agg: Aggregated, keys: list[str]) -> ir.Table:
    fills = {c: table[c].fill_null(0) for c in agg.additive}
    table = table.mutate(**fills)
    table = table.mutate(
        value=agg.value(table).cast("float64"),
        numerator=table.numerator.cast("float64"),
        denominator=table.denominator.cast("float64"),
        reason=agg.reason(table).cast("string"),
    )
    extras = [c for c in agg.extras if c not in keys]
    out = table.select(*keys, "value", "numerator", "denominator", *extras, "reason")
    return out.order_by(keys) if "period_start" in keys else out.order_by("actor_id")


def explain_metric(warehouse: Any, metric: MetricBase | str, **kwargs: Any) -> str:
    """The SQL :func:`metric_series` would run, in the warehouse's dialect, without running it."""
    expr = metric_series_expr(warehouse, metric, **kwargs)
    return str(ibis.to_sql(expr, dialect=warehouse.engine))


__all__ = [
    "NO_SEGMENT",
    "default_window",
    "explain_metric",
    "metric_per_actor",
    "metric_per_actor_expr",
    "metric_series",
    "metric_series_expr",
]


def default_window(
    warehouse: Any, grain: str, timezone: str, *, periods: int | None = None
) -> tuple[date, date]:
    """A sensible [start, end) ending with the last local day that has events.

    30 days, 12 weeks or 6 months by grain (or ``periods`` of them); today when
    the warehouse has no events yet.
    """
    from datetime import timedelta

    from impactlens.metrics.timebase import local_date, next_period, truncate_date

    last = warehouse.table("events").timestamp.max().to_pyarrow().as_py()
    last_day = local_date(last, timezone) if last is not None else date.today()
    end = last_day + timedelta(days=1)
    count = periods or {"day": 30, "week": 12, "month": 6}[grain]
    start = truncate_date(last_day, grain)
    for _ in range(count - 1):
        start = truncate_date(start - timedelta(days=1), grain)
    if grain != "day":
        end = next_period(truncate_date(last_day, grain), grain)
    return start, end
