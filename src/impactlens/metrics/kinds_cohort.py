"""retention, stickiness and adoption: metrics over actors' active days.

retention   cohort = actors whose first-ever cohort event falls in the group; an
            actor is retained when a return event falls on local day N
            (``period: day``) or in days [7N, 7N+6] after the cohort day
            (``period: week``). value = retained / cohort ("empty cohort" when 0).
stickiness  per local day d: short(d) = actors active on d (DAU) or in [d-6, d]
            (WAU); MAU(d) = actors active in [d-29, d]. value = Σ short / Σ MAU
            over the days of the period (the ratio of the period's averages).
adoption    value = active actors of the group who used the feature in it
            (``cumulative``: at any time before the group's end) / active actors.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from impactlens.metrics.kinds_funnel import quantiles
from impactlens.metrics.query import (
    UNIT_COLUMN,
    Aggregated,
    Grouping,
    Query,
    SeriesGrouping,
    count_distinct,
    divide,
    literal_table,
)
from impactlens.metrics.sources import event_rows
from impactlens.metrics.spec import AdoptionMetric, RetentionMetric, StickinessMetric
from impactlens.metrics.timebase import local_date, next_period, truncate_date, utc_bound

PERIOD_DAYS = {"day": 1, "week": 7}
MONTH_WINDOW = 30


def _rows(q: Query, metric, names, *, segment: bool, exact: bool = False) -> ir.Table:
    """Matching rows; from the hourly rollup when the planner allows it, unless ``exact``
    (a part that needs each event's own time)."""
    filters = (*metric.filters, *q.filters)
    seg = q.segment if segment else None
    rollup = q.rollup and not exact
    return event_rows(q.warehouse, names, filters, seg, metric.actor, rollup=rollup)


def first_rows(rows: ir.Table, grouping: Grouping | None = None) -> ir.Table:
    """Each actor's first row (ties resolve to the smallest uid, aid and segment, on every engine).

    A series grouping needs neither uid nor aid; without a segment the first time
    alone is the answer, and the join back to the rows is skipped.
    """
    if isinstance(grouping, SeriesGrouping):
        rows = rows.select("actor", "ts", *(["segment"] if "segment" in rows.columns else []))
    first = rows.group_by("actor").agg(_first=rows.ts.min())
    extra_columns = [c for c in ("uid", "aid", "segment") if c in rows.columns]
    if not extra_columns:
        return first.rename(ts="_first")
    at = rows.join(first, (rows.actor == first.actor) & (rows.ts == first._first))
    extra = {c: at[c].min() for c in extra_columns}
    return at.group_by("actor").agg(ts=at._first.min(), **extra)


def compile_retention(metric: RetentionMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    span = PERIOD_DAYS[metric.period]
    first_day, last_day = metric.n * span, metric.n * span + span - 1
    horizon = timedelta(days=last_day + 2)
    cohort = q.grouping.assign(
        first_rows(_rows(q, metric, metric.cohort_event, segment=True), q.grouping)
    )
    cohort = cohort.mutate(_cday=q.grouping.local_day(cohort.ts, horizon))
    lo, hi = q.grouping.bounds
    back = _rows(q, metric, metric.return_event, segment=False)
    back = back.filter((back.ts >= ibis.literal(lo)) & (back.ts < ibis.literal(hi + horizon)))
    back = back.select(_a=back.actor, _day=q.grouping.local_day(back.ts, horizon)).distinct()
    hits = cohort.join(back, cohort.actor == back._a)
    offset = hits._day.delta(hits._cday, unit="day")
    hits = hits.filter((offset >= first_day) & (offset <= last_day))
    retained = count_distinct(hits, q.grouping.keys, "actor", "numerator")
    size = count_distinct(cohort, q.grouping.keys, "actor", "denominator")
    table = size.left_join(retained, keys).select(*keys, "denominator", "numerator")
    value, reason = divide("empty cohort")
    return Aggregated(table, ("numerator", "denominator"), value, reason, ratio=True)


def _marks(days: ir.Table, window: int, parts: list[str]) -> ir.Table:
    """+1 on each active day number, -1 where that day's ``window`` ends (or the next active day).

    Per actor the covered stretches never overlap, so a running sum of the marks
    is the number of actors active within the last ``window`` days.
    """
    w = ibis.window(group_by=[*parts, "actor"], order_by="_k")
    ends = days.mutate(_nk=days._k.lead().over(w))
    stop = ibis.least(ends._k + window, ends._nk.fill_null(ends._k + window))
    plus = ends.select(*parts, _k=ends._k, _v=ibis.literal(1, "int64"))
    minus = ends.select(*parts, _k=stop, _v=ibis.literal(-1, "int64"))
    marks = plus.union(minus)
    return marks.group_by([*parts, "_k"]).agg(_v=marks._v.sum())


def _running(days: ir.Table, grid: ir.Table, window: int, parts: list[str], name: str) -> ir.Table:
    marks = _marks(days, window, parts)
    joined = grid.left_join(marks, [*parts, "_k"]).select(*grid.columns, _v=marks._v.fill_null(0))
    upto = ibis.window(group_by=parts or None, order_by="_k", rows=(None, 0))
    return joined.mutate(**{name: joined._v.sum().over(upto)}).drop("_v")


def _calendar(base: date, count: int, grain: str | None) -> ir.Table:
    """Day numbers 0..count-1 from ``base`` (and their period start, by grain)."""
    if grain is None:
        return literal_table({"_k": "int64"}, [{"_k": k} for k in range(count)])
    rows = [
        {"_k": k, "period_start": truncate_date(base + timedelta(days=k), grain)}
        for k in range(count)
    ]
    return literal_table({"_k": "int64", "period_start": "date"}, rows)


def compile_stickiness(metric: StickinessMetric, q: Query) -> Aggregated:
    """Σ short-window actives / Σ 30-day actives over the group's days (see module doc)."""
    short = 1 if metric.ratio == "dau_mau" else 7
    g = q.grouping
    lo, hi = g.bounds
    tz = g.timebase.timezone if isinstance(g, SeriesGrouping) else g.timezone
    first = local_date(lo, tz)
    last = local_date(hi - timedelta(microseconds=1), tz)
    base = first - timedelta(days=MONTH_WINDOW - 1)
    count = (last - base).days + 1
    rows = _rows(q, metric, metric.event, segment=True)
    rows = rows.filter(
        (rows.ts >= ibis.literal(utc_bound(base, tz))) & (rows.ts < ibis.literal(hi))
    )
    day = g.local_day(rows.ts).delta(ibis.literal(base), unit="day")
    if isinstance(g, SeriesGrouping):
        parts = ["segment"] if g.segmented else []
        days = rows.select(*parts, "actor", _k=day).distinct()
        grid = _calendar(base, count, g.timebase.grain)
        if parts:
            grid = grid.cross_join(days.select("segment").distinct())
    else:
        parts = ["actor_id"]
        rows = rows.mutate(actor_id=rows[UNIT_COLUMN[g.unit]]).filter(ibis._.actor_id.notnull())
        days = rows.select("actor_id", "actor", _k=day).distinct()
        grid = _calendar(base, count, None).cross_join(_actor_windows(g, days, base))
    grid = _running(days, grid, short, parts, "_short")
    grid = _running(days, grid, MONTH_WINDOW, parts, "_long")
    grid = grid.filter(grid._k >= MONTH_WINDOW - 1)
    if not isinstance(g, SeriesGrouping):
        # Clip to each actor's window only now: activity before it still counts toward MAU.
        grid = grid.filter((grid._k >= grid._sk) & (grid._k < grid._ek))
    keys = list(q.keys)
    if isinstance(g, SeriesGrouping):
        n = grid.count().cast("float64")
        table = grid.group_by(keys).agg(
            numerator=grid._short.sum().cast("float64") / n,
            denominator=grid._long.sum().cast("float64") / n,
        )
    else:
        table = grid.group_by(keys).agg(numerator=grid._short.sum(), denominator=grid._long.sum())
    value, reason = divide("nobody active in the last 30 days")
    return Aggregated(table, ("numerator", "denominator"), value, reason, ratio=True)


def _actor_windows(g, days: ir.Table, base: date) -> ir.Table:
    """Per actor the day numbers [_sk, _ek) of its window (actors table or actors seen)."""
    far = ibis.literal(10**6, "int64")
    if g.actors is None:
        # Activity in the 29 days before the window counts toward MAU inside it.
        seen = days.select("actor_id").distinct()
        return seen.mutate(_sk=ibis.literal(0, "int64"), _ek=far)
    cols = g.actors.columns

    def day_number(column: str, default: ir.Value) -> ir.Value:
        if column not in cols:
            return default
        ts = g.actors[column]
        return ibis.ifelse(
            ts.isnull(), default, g.local_day(ts).delta(ibis.literal(base), unit="day")
        )

    return g.actors.select(
        "actor_id",
        _sk=day_number("start_at", ibis.literal(0, "int64")),
        _ek=day_number("end_at", far),
    )


def _group_ends(q: Query) -> ir.Table | None:
    """UTC end of each series period (capped at the range end); None per actor (``hi``)."""
    g = q.grouping
    if not isinstance(g, SeriesGrouping):
        return None
    tb = g.timebase
    ends = [min(utc_bound(next_period(p, tb.grain), tb.timezone), tb.utc_end) for p in tb.periods()]
    rows = [{"period_start": p, "_end": e} for p, e in zip(tb.periods(), ends, strict=True)]
    return literal_table({"period_start": "date", "_end": "timestamp"}, rows)


def compile_adoption(metric: AdoptionMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    plain = [k for k in keys if k != "segment"]
    active = q.grouping.assign(_rows(q, metric, metric.active_event, segment=True))
    groups = active.select(*keys, "actor").distinct()
    feature = _rows(q, metric, metric.feature_event, segment=False)
    if metric.cumulative:
        uses = feature.group_by("actor").agg(_first_use=feature.ts.min())
        ends = _group_ends(q)
        if ends is None:
            timed = groups.mutate(_end=ibis.literal(q.grouping.bounds[1]))
        else:
            timed = groups.join(ends, "period_start")
        hits = timed.join(uses, "actor")
        hits = hits.filter(hits._first_use < hits._end)
    else:
        used = q.grouping.assign(feature).select(*plain, "actor").distinct()
        hits = groups.join(used, [*plain, "actor"])
    adopters = count_distinct(hits, q.keys, "actor", "numerator")
    actives = count_distinct(groups, q.keys, "actor", "denominator")
    # Time to first use: from the actor's first event of any kind to its first feature use,
    # counted in the group where the first use falls.
    anything = _rows(q, metric, (), segment=False, exact=True)
    seen = anything.group_by(_sa=anything.actor).agg(_first_seen=anything.ts.min())
    feature_rows = _rows(q, metric, metric.feature_event, segment=True, exact=True)
    firsts = first_rows(feature_rows, q.grouping)
    firsts = firsts.join(seen, firsts.actor == seen._sa)
    firsts = firsts.mutate(
        _days=firsts.ts.delta(firsts._first_seen, unit="second").cast("float64") / 86400
    )
    firsts = q.grouping.assign(firsts)
    median = {"median_days_to_first_use": 0.5}
    ttf = quantiles(
        firsts, keys, "_days", median, q.engine, also={"first_users": lambda t: t.count()}
    )
    table = actives.left_join(adopters, keys).select(*keys, "denominator", "numerator")
    table = table.left_join(ttf, keys).select(
        *table.columns, "first_users", "median_days_to_first_use"
    )
    value, reason = divide("no active actors")
    extras = ("first_users", "median_days_to_first_use")
    return Aggregated(
        table, ("numerator", "denominator", "first_users"), value, reason, True, extras
    )
