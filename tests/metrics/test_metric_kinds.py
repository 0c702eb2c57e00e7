"""Every metric kind against its brute-force reference, on Hypothesis-generated worlds.

Each example builds a small DuckDB warehouse with Warehouse.write, runs the
metric per period (random grain, time zone, range, segment, filters) and per
actor (random window, dates or UTC datetimes, sometimes an actors table with
per-actor start/end), and compares every column with tests/metrics/reference*.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.metrics import parse_metrics
from impactlens.metrics.spec import (
    AdoptionMetric,
    ConversionMetric,
    CountMetric,
    DurationMetric,
    RetentionMetric,
    RevenueMetric,
    StickinessMetric,
    SurveyMetric,
    TicketsMetric,
    UniqueMetric,
)
from metrics.checks import FILTERS, SEGMENTS, actor_case, actor_windows, series_case, windows
from metrics.reference_business import ref_revenue, ref_survey, ref_tickets
from metrics.reference_kinds import (
    ref_adoption,
    ref_conversion,
    ref_count,
    ref_duration,
    ref_ratio,
    ref_retention,
    ref_stickiness,
    ref_unique,
)
from metrics.worlds import NAMES, build_warehouse, business, worlds

EXAMPLES = settings(
    max_examples=int(os.environ.get("IMPACTLENS_METRIC_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
names = st.lists(st.sampled_from(NAMES), max_size=2, unique=True).map(tuple)
filters = st.lists(st.sampled_from(FILTERS), max_size=2).map(tuple)
segments = st.sampled_from(SEGMENTS)
actors = st.sampled_from(["user", "account"])


def _split(fs, draw_bool):
    """Filters go either on the metric or on the call: both paths must agree."""
    return (fs, ()) if draw_bool else ((), fs)


@EXAMPLES
@given(worlds(), windows(), actor_windows(), names, filters, segments, actors, st.booleans())
def test_count_and_unique(world, win, aw, event, fs, segment, actor, on_metric) -> None:
    own, call = _split(fs, on_metric)
    wh = build_warehouse(world)
    for cls, kind, ref in ((CountMetric, "count", ref_count), (UniqueMetric, "unique", ref_unique)):
        metric = cls(
            name="m", kind=kind, event=event, actor=actor, filters=own, higher_is_better=True
        )
        series_case(wh, world, metric, ref, win, segment=segment, filters=call)
        actor_case(wh, world, metric, ref, aw, filters=call)
        actor_case(wh, world, metric, ref, aw, unit="account", filters=call)


RATIOS = """
metrics:
  - {name: searches, kind: count, event: Search Performed, higher_is_better: true}
  - {name: searchers, kind: unique, event: Search Performed, actor: account, higher_is_better: true}
  - name: ctr
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: searches
    higher_is_better: true
  - name: per_account
    kind: ratio
    numerator: {event: [Report Created, Signed Up], aggregate: actors}
    denominator: searchers
    actor: account
    higher_is_better: true
    filters: [{field: event.source, op: exists}]
"""


@EXAMPLES
@given(worlds(), windows(), actor_windows(), filters, segments)
def test_ratio(world, win, aw, call, segment) -> None:
    catalog = parse_metrics(RATIOS)
    wh = build_warehouse(world)
    for name in ("ctr", "per_account"):
        metric = catalog.get(name)
        ref = partial(ref_ratio, catalog=catalog)
        series_case(wh, world, metric, ref, win, segment=segment, filters=call, catalog=catalog)
        actor_case(wh, world, metric, ref, aw, filters=call, catalog=catalog)


steps = st.lists(st.sampled_from(NAMES), min_size=2, max_size=3)
withins = st.integers(60, 5 * 86400).map(lambda s: timedelta(seconds=s))


@EXAMPLES
@given(worlds(), windows(), actor_windows(), steps, withins, filters, segments, actors)
def test_conversion(world, win, aw, path, within, fs, segment, actor) -> None:
    metric = ConversionMetric(
        name="m", kind="conversion", steps=path, within=within, actor=actor, higher_is_better=True
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_conversion, win, segment=segment, filters=fs)
    actor_case(wh, world, metric, ref_conversion, aw, filters=fs)


@EXAMPLES
@given(
    worlds(),
    windows(),
    actor_windows(),
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=2, unique=True),
    st.one_of(st.none(), withins),
    st.sampled_from(["median", "mean", "p90"]),
    st.sampled_from(["seconds", "hours"]),
    segments,
    filters,
)
def test_duration(world, win, aw, pair, within, stat, unit, segment, fs) -> None:
    metric = DurationMetric(
        name="m",
        kind="duration",
        from_event=pair[0],
        to_event=pair[1],
        within=within,
        stat=stat,
        unit=unit,
        higher_is_better=False,
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_duration, win, segment=segment, filters=fs)
    actor_case(wh, world, metric, ref_duration, aw, filters=fs)


@EXAMPLES
@given(
    worlds(),
    windows(),
    actor_windows(),
    names,
    names,
    st.sampled_from(["day", "week"]),
    st.integers(1, 2),
    segments,
    actors,
    filters,
)
def test_retention(world, win, aw, cohort, back, period, n, segment, actor, fs) -> None:
    metric = RetentionMetric(
        name="m",
        kind="retention",
        cohort_event=cohort,
        return_event=back,
        period=period,
        n=n,
        actor=actor,
        higher_is_better=True,
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_retention, win, segment=segment, filters=fs)
    actor_case(wh, world, metric, ref_retention, aw, filters=fs)


@EXAMPLES
@given(
    worlds(),
    windows(),
    actor_windows(),
    names,
    st.sampled_from(["dau_mau", "wau_mau"]),
    segments,
    actors,
    filters,
)
def test_stickiness(world, win, aw, event, ratio, segment, actor, fs) -> None:
    metric = StickinessMetric(
        name="m", kind="stickiness", ratio=ratio, event=event, actor=actor, higher_is_better=True
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_stickiness, win, segment=segment, filters=fs)
    actor_case(wh, world, metric, ref_stickiness, aw, filters=fs)
    actor_case(wh, world, metric, ref_stickiness, aw, unit="account", filters=fs)


@EXAMPLES
@given(
    worlds(),
    windows(),
    actor_windows(),
    st.sampled_from(NAMES),
    st.booleans(),
    segments,
    actors,
    filters,
)
def test_adoption(world, win, aw, feature, cumulative, segment, actor, fs) -> None:
    metric = AdoptionMetric(
        name="m",
        kind="adoption",
        feature_event=feature,
        cumulative=cumulative,
        actor=actor,
        higher_is_better=True,
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_adoption, win, segment=segment, filters=fs)
    actor_case(wh, world, metric, ref_adoption, aw, filters=fs)


@EXAMPLES
@given(
    business(),
    windows(),
    actor_windows(),
    st.sampled_from(["nps", "csat", "ces"]),
    st.sampled_from([None, "satisfied_share", "mean"]),
    st.sampled_from([None, "plan", "user.role"]),
    actors,
)
def test_survey(world, win, aw, survey, stat, segment, actor) -> None:
    stat = "nps" if stat is None and survey == "nps" else stat
    metric = SurveyMetric(
        name="m", kind="survey", survey=survey, stat=stat, actor=actor, higher_is_better=True
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_survey, win, segment=segment)
    actor_case(wh, world, metric, ref_survey, aw)


@EXAMPLES
@given(
    business(),
    windows(),
    actor_windows(),
    st.sampled_from(["count", "per_active_account", "median_hours_to_resolution"]),
    st.sampled_from([None, "plan"]),
    st.booleans(),
)
def test_tickets(world, win, aw, stat, segment, only_high) -> None:
    own = ({"field": "ticket.priority", "value": "high"},) if only_high else ()
    metric = TicketsMetric(
        name="m", kind="tickets", stat=stat, actor="account", filters=own, higher_is_better=False
    )
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_tickets, win, segment=segment)
    actor_case(wh, world, metric, ref_tickets, aw)


REVENUE_STATS = [
    "mrr",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "nrr",
    "grr",
    "logo_churn_rate",
    "arpa",
]


@EXAMPLES
@given(
    business(worlds(max_events=0)),
    st.sampled_from(REVENUE_STATS),
    st.sampled_from([None, "plan"]),
    st.integers(0, 5),
    st.integers(1, 6),
    actor_windows(),
)
def test_revenue(world, stat, segment, first, months, aw) -> None:
    from datetime import date

    metric = RevenueMetric(name="m", kind="revenue", stat=stat, higher_is_better=True)
    start = date(2025 + (10 + first) // 12, (10 + first) % 12 + 1, 1)
    stop = first + months
    end = date(2025 + (10 + stop) // 12, (10 + stop) % 12 + 1, 1)
    win = {"timezone": "America/New_York", "grain": "month", "start": start, "end": end}
    wh = build_warehouse(world)
    series_case(wh, world, metric, ref_revenue, win, segment=segment)
    aw = {**aw, "start": start, "end": end, "timezone": "UTC"}
    actor_case(wh, world, metric, ref_revenue, aw)
