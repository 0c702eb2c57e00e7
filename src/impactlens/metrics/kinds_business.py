"""survey, tickets and revenue: metrics over the business tables.

survey   nps: numerator = 100 x (promoters 9-10 - detractors 0-6), denominator = answers
         satisfied_share: CSAT 4-5 (CES 5-7) / answers; mean: Σ score / answers.
         Scores outside the survey's scale (NPS 0-10, CSAT 1-5, CES 1-7) are ignored.
tickets  count: tickets created; per_active_account: tickets / accounts with any event
         in the group; median_hours_to_resolution: solved tickets, solved_at - created_at.
revenue  monthly: paying MRR of an account in month m is its ``mrr`` when ``status`` is
         active, else 0; flows compare each account's month with the month before.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from impactlens.errors import UserError
from impactlens.metrics.kinds_events import grouped_events
from impactlens.metrics.kinds_funnel import quantiles
from impactlens.metrics.query import (
    Aggregated,
    Query,
    SeriesGrouping,
    count_distinct,
    divide,
    no_reason,
    numerator_value,
)
from impactlens.metrics.sources import apply_fields, table_rows
from impactlens.metrics.spec import SURVEY_SCALES, RevenueMetric, SurveyMetric, TicketsMetric

SATISFIED = {"csat": 4, "ces": 5}


def compile_survey(metric: SurveyMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    low, high = SURVEY_SCALES[metric.survey]
    rows = table_rows(
        q.warehouse, "surveys", (*metric.filters, *q.filters), q.segment, metric.actor
    )
    rows = rows.filter((rows.survey == metric.survey) & rows.score.between(low, high))
    rows = q.grouping.assign(rows)
    one = ibis.literal(1, "int64")
    zero = ibis.literal(0, "int64")
    promoters = ibis.ifelse(rows.score >= 9, one, zero).sum()
    detractors = ibis.ifelse(rows.score <= 6, one, zero).sum()
    satisfied = ibis.ifelse(rows.score >= SATISFIED.get(metric.survey, 9), one, zero).sum()
    n = rows.count()
    if metric.stat == "nps":
        extras = {"promoters": promoters, "detractors": detractors}
        numerator = 100 * (promoters - detractors)
    elif metric.stat == "satisfied_share":
        extras = {"satisfied": satisfied}
        numerator = satisfied
    else:
        extras = {}
        numerator = rows.score.sum()
    table = rows.group_by(keys).agg(numerator=numerator.cast("float64"), denominator=n, **extras)
    value, reason = divide("no answers")
    return Aggregated(
        table, ("numerator", "denominator", *extras), value, reason, True, tuple(extras)
    )


def compile_tickets(metric: TicketsMetric, q: Query) -> Aggregated:
    keys = list(q.keys)
    filters = (*metric.filters, *q.filters)
    rows = q.grouping.assign(table_rows(q.warehouse, "tickets", filters, q.segment, metric.actor))
    if metric.stat == "count":
        table = rows.group_by(keys).agg(numerator=rows.count())
        table = table.mutate(denominator=ibis.null("float64"))
        return Aggregated(table, ("numerator",), numerator_value, no_reason, False)
    if metric.stat == "per_active_account":
        tickets = rows.group_by(keys).agg(numerator=rows.count())
        event_filters = tuple(f for f in metric.filters if not f.field.startswith("ticket."))
        active = grouped_events(q, (), event_filters, "account")
        accounts = count_distinct(active, q.keys, "actor", "denominator")
        zero = ibis.literal(0, "int64")
        both = tickets.mutate(denominator=zero).union(
            accounts.mutate(numerator=zero).select(*tickets.columns, "denominator")
        )
        table = both.group_by(keys).agg(
            numerator=both.numerator.sum(), denominator=both.denominator.sum()
        )
        value, reason = divide("no active accounts")
        return Aggregated(table, ("numerator", "denominator"), value, reason, True)
    solved = rows.filter(rows.solved_at.notnull() & (rows.solved_at >= rows.ts))
    solved = solved.mutate(
        h=solved.solved_at.delta(solved.ts, unit="second").cast("float64") / 3600
    )
    sums = {"numerator": lambda t: t.h.sum(), "denominator": lambda t: t.count()}
    table = quantiles(solved, keys, "h", {"median": 0.5, "p90": 0.9}, q.engine, also=sums)
    table = table.mutate(mean=table.numerator / table.denominator.cast("float64"))
    if "actor_id" in keys:
        value, reason = divide("no solved tickets")
        return Aggregated(
            table, ("numerator", "denominator"), value, reason, True, ("mean", "median", "p90")
        )

    def median(t: ir.Table) -> ir.Value:
        return t.median

    def why(t: ir.Table) -> ir.Value:
        return ibis.ifelse(
            t.denominator == 0, ibis.literal("no solved tickets"), ibis.null("string")
        )

    return Aggregated(
        table, ("numerator", "denominator"), median, why, False, ("mean", "median", "p90")
    )


def revenue_rows(q: Query, metric: RevenueMetric) -> ir.Table:
    """Revenue as core columns: ``aid``, ``ts`` (month start), ``mrr`` paid (0 unless active)."""
    rev = q.warehouse.table("revenue")
    rows = rev.select(
        aid=rev.account_id,
        uid=ibis.null("string"),
        ts=rev.period_start.truncate("M").cast("timestamp"),
        paid=ibis.ifelse(rev.status == "active", rev.mrr.fill_null(0), 0.0),
    )
    rows = rows.filter(rows.aid.notnull() & rows.ts.notnull())
    rows = apply_fields(q.warehouse, rows, (*metric.filters, *q.filters), q.segment)
    return rows.mutate(actor=rows.aid, weight=ibis.literal(1, "int64"))


def _month_index(ts: ir.TimestampValue) -> ir.IntegerValue:
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def compile_revenue(metric: RevenueMetric, q: Query) -> Aggregated:
    g = q.grouping
    if isinstance(g, SeriesGrouping) and g.timebase.grain != "month":
        raise UserError(
            f"{metric.name} is a monthly revenue metric: use grain month (--by month), "
            f"not {g.timebase.grain}"
        )
    keys = list(q.keys)
    parts = ["segment"] if q.segment is not None else []
    rows = revenue_rows(q, metric)
    rows = rows.mutate(_m=_month_index(rows.ts))
    monthly = rows.group_by(["aid", *parts, "_m"]).agg(cur=rows.paid.sum(), ts=rows.ts.min())
    zero = ibis.literal(0.0, "float64")
    shifted = monthly.select(
        "aid",
        *parts,
        _m=monthly._m + 1,
        cur=zero,
        prev=monthly.cur,
        ts=monthly.ts + ibis.interval(months=1),
    )
    both = monthly.select("aid", *parts, "_m", "cur", prev=zero, ts=monthly.ts).union(
        shifted.select("aid", *parts, "_m", "cur", "prev", "ts")
    )
    months = both.group_by(["aid", *parts, "_m"]).agg(
        cur=both.cur.sum(), prev=both.prev.sum(), ts=both.ts.min()
    )
    # The month after the last month with revenue data is unknown, not churned.
    months = months.filter(months._m <= monthly._m.max())
    months = months.mutate(uid=ibis.null("string"), actor=months.aid)
    months = g.assign(months, wall_clock=True)
    stat = metric.stat
    cur, prev = months.cur, months.prev
    had = prev > 0
    f = ibis.ifelse
    flows = {
        "mrr": (cur, None),
        "new_mrr": (f(~had & (cur > 0), cur, 0.0), None),
        "expansion_mrr": (f(had & (cur > prev), cur - prev, 0.0), None),
        "contraction_mrr": (f(had & (cur > 0) & (cur < prev), prev - cur, 0.0), None),
        "churned_mrr": (f(had & (cur == 0), prev, 0.0), None),
        "net_new_mrr": (cur - prev, None),
        "nrr": (f(had, cur, 0.0), f(had, prev, 0.0)),
        "grr": (f(had, ibis.least(cur, prev), 0.0), f(had, prev, 0.0)),
        "logo_churn_rate": (f(had & (cur == 0), 1.0, 0.0), f(had, 1.0, 0.0)),
        "arpa": (cur, f(cur > 0, 1.0, 0.0)),
    }
    num, den = flows[stat]
    per_actor = "actor_id" in keys
    if den is None and per_actor:
        den = months.cur * 0.0 + 1.0  # per account: the monthly average over the window
    if den is None:
        table = months.group_by(keys).agg(numerator=num.sum(), accounts=f(cur > 0, 1, 0).sum())
        table = table.mutate(denominator=ibis.null("float64"))
        return Aggregated(
            table, ("numerator", "accounts"), numerator_value, no_reason, False, ("accounts",)
        )
    table = months.group_by(keys).agg(numerator=num.sum(), denominator=den.sum())
    why = {"arpa": "no paying accounts"}.get(stat, "no paying accounts at the start of the month")
    value, reason = divide(why)
    return Aggregated(table, ("numerator", "denominator"), value, reason, True)
