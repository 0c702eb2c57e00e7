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
    lo, hi = q.grouping.bounds
    a = q.grouping.assign(_step_rows(q, metric, metric.from_event, segment=True))
    b = _step_rows(q, metric, metric.to_event, segment=False)
    horizon = hi + (metric.within or timedelta(days=3650))
    b = b.filter((b.ts >= ibis.literal(lo)) & (b.ts <= ibis.literal(horizon)))
    a_part = a.select(*keys, actor=a.actor, ts=a.ts, _b=ibis.literal(0, "int8"))
    nulls = {k: ibis.null(a_part[k].type()) for k in keys}
    b_part = b.select(**nulls, actor=b.actor, ts=b.ts, _b=ibis.literal(1, "int8"))
    both = a_part.union(b_part)
    # From-events sort before to-events at the same instant, so "at or after" holds. The
    # order is reversed so the frame is a running one (start to current row), which engines
    # keep incrementally, instead of current row to end (DuckDB: a segment tree, ~15% slower).
    after = ibis.window(
        group_by="actor", order_by=[ibis.desc("ts"), ibis.desc("_b")], rows=(None, 0)
    )
    next_b = ibis.ifelse(both._b == 1, both.ts, ibis.null("timestamp")).min().over(after)
    paired = both.mutate(_next=next_b).filter((ibis._._b == 0) & ibis._._next.notnull())
    seconds = paired._next.delta(paired.ts, unit="second")
    if metric.within is not None:
        paired = paired.filter(seconds <= int(metric.within.total_seconds()))
        seconds = paired._next.delta(paired.ts, unit="second")
    return paired.select(*keys, d=seconds.cast("float64") / UNIT_SECONDS[metric.unit])


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
