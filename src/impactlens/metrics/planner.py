"""Whether a query may read the hourly event rollup instead of raw events.

The rollup (warehouse/rollups.py) keeps events per UTC hour, event, actor and
account. A metric can use it without changing any number when:

- its kind only needs which local day an event falls in and how many events
  there were (count, unique, ratio of those, stickiness), or, for adoption,
  its counts do (active actors and adopters: a first use before a period's end
  is decided by its hour, since period ends fall on whole hours); adoption's
  time to first use still reads raw events (kinds_cohort);
- no filter or segment reads event properties or flags (the rollup has none);
- the time zone's offsets are whole hours over the queried range;
- it is a series (per-actor windows may start mid-hour);
- the rollups hold exactly the events of the events table (``rollup_is_fresh``).

A ratio of counts without filters, segment or distinct actors reads the hourly
counts (one row per hour and event) instead. A duration metric with ``within``
and without filters or segment reads its pair table (each from-event with the
actor's next to-event, exact times) once it is kept: the first query asks for
it (``request_pairs``), the next import builds it, or ``keep_pairs`` builds it
at once (``impactlens import`` calls it for metrics.yaml, and
``forget_unused_pairs`` drops the definitions no metric uses); any duration query with a filter, a segment or no ``within`` reads raw
events.

``source="auto"`` uses it when all hold, ``"events"`` never, ``"rollup"``
insists (a UserError says which condition fails).
"""

from __future__ import annotations

from typing import Any

from impactlens.errors import UserError
from impactlens.metrics.fields import parse_field
from impactlens.metrics.kinds_funnel import pair_definition
from impactlens.metrics.query import Query, SeriesGrouping
from impactlens.metrics.spec import DurationMetric, EventCount, MetricBase, RatioMetric
from impactlens.metrics.timebase import whole_hour_offsets
from impactlens.warehouse.rollups import (
    forget_pairs_except,
    pair_key,
    pairs_kept,
    register_pairs,
    request_pairs,
    rollup_is_fresh,
)

ROLLUP_KINDS = ("count", "unique", "ratio", "stickiness", "adoption")
STALE = "the rollups do not cover the events table (run an import or rebuild_rollups)"
SOURCES = ("auto", "events", "rollup")


def _fields(metric: MetricBase, query: Query) -> list[str]:
    fields = [f.field for f in (*metric.filters, *query.filters)]
    if isinstance(metric, RatioMetric):
        for ref in (metric.numerator, metric.denominator):
            part = ref if isinstance(ref, EventCount) else metric.part(ref)
            fields += [f.field for f in getattr(part, "filters", ())]
    if query.segment is not None:
        fields.append(query.segment.text)
    return fields


def pairs_blocker(warehouse: Any, metric: DurationMetric, query: Query) -> str | None:
    """Why this duration query cannot read its pair table, or None when it can.

    A definition not kept yet is requested here (one row, when the warehouse can be
    written): the next import builds it; until then raw events.
    """
    definition = pair_definition(metric)
    if definition is None:
        return "a duration without within can pair with any earlier event"
    if not isinstance(query.grouping, SeriesGrouping):
        return "per-actor queries read raw events"
    steps = (metric.from_event, metric.to_event)
    if _fields(metric, query) or any(step.filters for step in steps):
        return "filters and segments need event properties or attributes the pairs do not keep"
    if not rollup_is_fresh(warehouse):
        return STALE
    if pairs_kept(warehouse, pair_key(*definition)):
        return None
    try:
        request_pairs(warehouse, *definition)
    except Exception:  # noqa: BLE001 - a read-only warehouse: raw events, nothing requested
        return "its pairs are not kept and the warehouse is read-only (see keep_pairs)"
    return "its pairs are requested: the next import builds them"


def catalog_pairs(catalog: Any) -> dict[str, tuple[str, str, str, int]]:
    """The pair definition of every duration metric of ``catalog`` that can have one
    (``within`` given), by key; metrics sharing a definition share its entry."""
    found = {}
    for metric in catalog:
        definition = pair_definition(metric) if isinstance(metric, DurationMetric) else None
        if definition is not None:
            found[pair_key(*definition)] = definition
    return found


def keep_pairs(warehouse: Any, catalog: Any) -> list[str]:
    """Build and keep the pairs of every duration metric of ``catalog`` that can have them
    (``within`` given) now, from the connection that imports; their keys.

    >>> keep_pairs(warehouse, load_metrics("metrics.yaml"))  # doctest: +SKIP
    ['["Report Created", "Report Exported", "user", 86400]']
    """
    return [register_pairs(warehouse, *d) for d in catalog_pairs(catalog).values()]


def forget_unused_pairs(warehouse: Any, catalog: Any) -> list[str]:
    """Drop the pair definitions (kept or requested) and pairs no metric of ``catalog``
    uses, e.g. a metric that left metrics.yaml or changed its ``within``; their keys.

    >>> forget_unused_pairs(warehouse, load_metrics("metrics.yaml"))  # doctest: +SKIP
    []
    """
    return forget_pairs_except(warehouse, catalog_pairs(catalog))


def rollup_blocker(warehouse: Any, metric: MetricBase, query: Query) -> str | None:
    """Why this query cannot read the rollup, or None when it can."""
    if isinstance(metric, DurationMetric):
        return pairs_blocker(warehouse, metric, query)
    if metric.kind not in ROLLUP_KINDS:
        return f"{metric.kind} metrics need exact event times"
    if not isinstance(query.grouping, SeriesGrouping):
        return "per-actor windows may start mid-hour"
    for text in _fields(metric, query):
        if parse_field(text).namespace in ("event", "flag"):
            return f"{text} reads event properties, which the rollup does not keep"
    tb = query.grouping.timebase
    if not whole_hour_offsets(tb.timezone, *tb.exact_range):
        return f"{tb.timezone} has offsets that are not whole hours"
    if not rollup_is_fresh(warehouse):
        return STALE
    return None


def use_rollup(warehouse: Any, metric: MetricBase, query: Query, source: str) -> bool:
    if source not in SOURCES:
        raise UserError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "events":
        return False
    blocker = rollup_blocker(warehouse, metric, query)
    if source == "rollup" and blocker is not None:
        raise UserError(f"{metric.name} cannot read the hourly rollup: {blocker}")
    return blocker is None
