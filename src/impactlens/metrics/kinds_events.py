"""count, unique and ratio: additive event metrics.

count   numerator = events matching (Σ weight), extra ``actors`` = distinct actors; value = numerator
unique  numerator = distinct actors with a matching event;                      value = numerator
ratio   numerator / denominator, each a count or unique metric (by name or inline)
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from impactlens.errors import UserError
from impactlens.metrics.query import (
    Aggregated,
    Query,
    count_distinct,
    divide,
    no_reason,
    numerator_value,
)
from impactlens.metrics.sources import event_counts, event_rows
from impactlens.metrics.spec import (
    CountMetric,
    EventCount,
    FilterSpec,
    MetricBase,
    RatioMetric,
    UniqueMetric,
)


def grouped_events(
    q: Query, names: tuple[str, ...], filters: tuple[FilterSpec, ...], actor: str
) -> ir.Table:
    """Matching events with the grouping's keys, in the grouping's window."""
    rows = event_rows(q.warehouse, names, (*filters, *q.filters), q.segment, actor, rollup=q.rollup)
    return q.grouping.assign(rows)


def _counts_suffice(q: Query, filters: tuple[FilterSpec, ...]) -> bool:
    """True when every matching event counts once in its period: the hourly counts do.

    Not with filters, a segment or a grouping that keeps only some actors' rows.
    """
    narrowed = getattr(q.grouping, "actors", None) is not None
    return q.rollup and not (*filters, *q.filters) and q.keys == ("period_start",) and not narrowed


def _count(
    q: Query,
    names: tuple[str, ...],
    filters: tuple[FilterSpec, ...],
    actor: str,
    *,
    with_actors: bool = True,
) -> ir.Table:
    keys = list(q.keys)
    if not with_actors and _counts_suffice(q, filters):
        counts = q.grouping.assign(event_counts(q.warehouse, names, actor))
        return counts.group_by(keys).agg(numerator=counts.weight.sum().cast("int64"))
    rows = grouped_events(q, names, filters, actor)
    events = rows.group_by(keys).agg(numerator=rows.weight.sum().cast("int64"))
    if not with_actors:  # a ratio part: the distinct count would cost a second pass
        return events
    actors = count_distinct(rows, q.keys, "actor", "actors")
    return events.join(actors, keys)


def _unique(
    q: Query, names: tuple[str, ...], filters: tuple[FilterSpec, ...], actor: str
) -> ir.Table:
    rows = grouped_events(q, names, filters, actor)
    return count_distinct(rows, q.keys, "actor", "numerator")


def compile_count(metric: CountMetric, q: Query) -> Aggregated:
    table = _count(q, metric.events, metric.filters, metric.actor)
    return Aggregated(
        table.mutate(denominator=ibis.null("float64")),
        additive=("numerator", "actors"),
        value=numerator_value,
        reason=no_reason,
        ratio=False,
        extras=("actors",),
    )


def compile_unique(metric: UniqueMetric, q: Query) -> Aggregated:
    table = _unique(q, metric.events, metric.filters, metric.actor)
    return Aggregated(
        table.mutate(denominator=ibis.null("float64")),
        additive=("numerator",),
        value=numerator_value,
        reason=no_reason,
        ratio=False,
    )


def ratio_part(q: Query, part: str | EventCount, ratio: MetricBase) -> ir.Table:
    """One side of a ratio as (keys, numerator); the ratio's filters apply to both sides."""
    if isinstance(part, EventCount):
        filters = (*ratio.filters, *part.filters)
        if part.aggregate == "actors":
            return _unique(q, part.event, filters, ratio.actor)
        return _count(q, part.event, filters, ratio.actor, with_actors=False)
    metric = ratio.part(part) if isinstance(ratio, RatioMetric) else None
    if metric is None:
        if q.catalog is None:
            raise UserError(f"{ratio.name} refers to {part!r}: load it with its catalog")
        metric = q.catalog.get(part)
    filters = (*ratio.filters, *metric.filters)
    names: tuple[str, ...] = getattr(metric, "events", ())  # count and unique parts only
    if metric.kind == "unique":
        return _unique(q, names, filters, metric.actor)
    return _count(q, names, filters, metric.actor, with_actors=False)


def compile_ratio(metric: RatioMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    num = ratio_part(q, metric.numerator, metric)
    den = ratio_part(q, metric.denominator, metric)
    zero = ibis.literal(0, "int64")
    both = num.select(*keys, numerator=num.numerator.cast("int64"), denominator=zero).union(
        den.select(*keys, numerator=zero, denominator=den.numerator.cast("int64"))
    )
    table = both.group_by(keys).agg(
        numerator=both.numerator.sum(), denominator=both.denominator.sum()
    )
    value, reason = divide("denominator is 0")
    return Aggregated(table, ("numerator", "denominator"), value, reason, ratio=True)
