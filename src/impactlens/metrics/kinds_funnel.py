"""conversion and duration: metrics that follow one actor from one event to the next.

conversion  entry = the actor's first step-1 event in the group; step k is reached
            at the earliest step-k event at or after step k-1 and at most
            ``within`` after the entry. value = reached last step / entered.
duration    each ``from_event`` pairs with the actor's next ``to_event`` at or after
            it (at most ``within`` later, when given); the pair's duration counts
            in the group of its ``from_event``. value = median, mean or p90.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import ibis
import ibis.expr.types as ir

from impactlens.metrics.engines import ENGINE_READS
from impactlens.metrics.query import Aggregated, Query, divide
from impactlens.metrics.sources import event_rows
from impactlens.metrics.spec import ConversionMetric, DurationMetric, EventStep
from impactlens.warehouse.rollups import pair_key, with_next
from impactlens.warehouse.schema import PAIRS_TABLE

UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
QUANTILES = {"median": 0.5, "p90": 0.9}


def _step_rows(q: Query, metric, step: EventStep, *, segment: bool) -> ir.Table:
    filters = (*metric.filters, *step.filters, *q.filters)
    return event_rows(
        q.warehouse, (step.event,), filters, q.segment if segment else None, metric.actor
    )


def compile_conversion(metric: ConversionMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    within = ibis.interval(seconds=int(metric.within.total_seconds()))
    lo, hi = q.grouping.bounds
    first = q.grouping.assign(_step_rows(q, metric, metric.steps[0], segment=True))
    entered = first.group_by([*keys, "actor"]).agg(t0=first.ts.min())
    # One table per step: the actors that reached it and when. Each is joined only from
    # the step before (a chain), never back into a table it came from: ClickHouse cannot
    # resolve the aliases of a table joined into its own descendant.
    reached = [entered.mutate(t=entered.t0)]
    horizon = ibis.literal(hi + metric.within)
    for step in metric.steps[1:]:
        prev = reached[-1]
        rows = _step_rows(q, metric, step, segment=False)
        rows = rows.filter((rows.ts >= ibis.literal(lo)) & (rows.ts <= horizon))
        later = rows.select(_a=rows.actor, _t=rows.ts)
        cand = prev.join(later, prev.actor == later._a)
        cand = cand.filter((cand._t >= cand.t) & (cand._t <= cand.t0 + within))
        reached.append(cand.group_by([*keys, "actor", "t0"]).agg(t=cand._t.min()))
    marks = ibis.union(
        *(r.select(*keys, _s=ibis.literal(k, "int64")) for k, r in enumerate(reached, start=1)),
        distinct=False,
    )
    last = len(metric.steps)
    steps = {f"step_{k}": (marks._s == k).cast("int64").sum() for k in range(1, last + 1)}
    table = marks.group_by(keys).agg(**steps)
    table = table.mutate(numerator=table[f"step_{last}"], denominator=table.step_1)
    value, reason = divide("nobody entered the funnel")
    extras = tuple(steps)
    return Aggregated(table, ("numerator", "denominator", *extras), value, reason, True, extras)


def quantiles(
    rows: ir.Table,
    keys: list[str],
    column: str,
    qs: dict[str, float],
    engine: str,
    also: dict[str, Callable[[ir.Table], ir.Value]] | None = None,
) -> ir.Table:
    """Exact quantiles per group by linear interpolation (numpy's default, R type 7).

    The engine's own aggregate where it is exact (ENGINE_READS), else ranks and
    interpolation written out, so every engine gives the same number. ``also``
    are more aggregates per group (functions of the rows), computed in the same
    pass: a second aggregate joined on the keys would read the rows twice.
    """
    also = also or {}
    if ENGINE_READS[engine].exact_quantile:
        return rows.group_by(keys).agg(
            **{name: agg(rows) for name, agg in also.items()},
            **{name: rows[column].cast("float64").quantile(q) for name, q in qs.items()},
        )
    ranked = rows.mutate(
        _r=ibis.row_number().over(group_by=keys, order_by=rows[column]),
        _n=rows[column].count().over(group_by=keys),
    )
    aggs = {}
    for name, q in qs.items():
        h = (ranked._n - 1).cast("float64") * q
        lo = h.floor().cast("int64")
        frac = h - lo.cast("float64")
        x = ranked[column].cast("float64")
        part = ibis.ifelse(ranked._r == lo, x * (1 - frac), 0.0) + ibis.ifelse(
            ranked._r == lo + 1, x * frac, 0.0
        )
        aggs[name] = part.sum()
    return ranked.group_by(keys).agg(**{name: agg(ranked) for name, agg in also.items()}, **aggs)


def durations(q: Query, metric: DurationMetric) -> ir.Table:
    """One row per (from_event, next to_event) pair: the group keys and ``d`` in the metric's unit."""
    keys = list(q.keys)
    if q.rollup:  # the pair table kept at import (metrics.planner decided it is exact here)
        paired = q.grouping.assign(pair_rows(q.warehouse, metric))
    else:
        lo, hi = q.grouping.bounds
        a = q.grouping.assign(_step_rows(q, metric, metric.from_event, segment=True))
        b = _step_rows(q, metric, metric.to_event, segment=False)
        horizon = hi + (metric.within or timedelta(days=3650))
        b = b.filter((b.ts >= ibis.literal(lo)) & (b.ts <= ibis.literal(horizon)))
        paired = with_next(a.select(*keys, actor=a.actor, ts=a.ts), b.select("actor", "ts"))
    seconds = paired._next.delta(paired.ts, unit="second")
    if metric.within is not None:
        paired = paired.filter(seconds <= int(metric.within.total_seconds()))
        seconds = paired._next.delta(paired.ts, unit="second")
    return paired.select(*keys, d=seconds.cast("float64") / UNIT_SECONDS[metric.unit])


def pair_definition(metric: DurationMetric) -> tuple[str, str, str, int] | None:
    """(from event, to event, actor, within seconds) of the metric's pair table, or None
    when the metric has no upper bound (a new event could pair with any earlier one)."""
    if metric.within is None:
        return None
    within = int(metric.within.total_seconds())
    return metric.from_event.event, metric.to_event.event, metric.actor, within


def pair_rows(warehouse, metric: DurationMetric) -> ir.Table:
    """The metric's kept pairs as ``ts``, ``actor``, ``_next`` (see warehouse/rollups.py)."""
    definition = pair_definition(metric)
    assert definition is not None  # the planner only chooses pairs for a bounded metric
    table = warehouse.table(PAIRS_TABLE)
    rows = table.filter(table.pair_key == pair_key(*definition))
    return rows.select(ts=rows.ts, actor=rows.actor, _next=rows.next_ts)


def compile_duration(metric: DurationMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    pairs = durations(q, metric)
    sums = {"numerator": lambda t: t.d.sum(), "denominator": lambda t: t.d.count()}
    table = quantiles(pairs, keys, "d", QUANTILES, q.engine, also=sums)
    table = table.mutate(mean=table.numerator / table.denominator.cast("float64"))

    # Per actor the value is the actor's mean, so ratio-of-sums across actors is the pooled mean.
    if "actor_id" in keys or metric.stat == "mean":
        value, reason = divide("no completed pair")
        ratio = True
    else:
        stat = metric.stat

        def value(t: ir.Table) -> ir.Value:
            return t[stat]

        def reason(t: ir.Table) -> ir.Value:
            return ibis.ifelse(
                t.denominator == 0, ibis.literal("no completed pair"), ibis.null("string")
            )

        ratio = False
    return Aggregated(
        table, ("numerator", "denominator"), value, reason, ratio, ("mean", "median", "p90")
    )
