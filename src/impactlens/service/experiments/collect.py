"""From the warehouse to sums: each metric per exposed unit, summed per arm and exposure day.

The metrics layer computes every metric per actor with each actor's own window
(``actors_table``: from its first exposure to the end of the analysis); this
module only adds the experiment's rules around it and aggregates in the
warehouse, so one query per metric returns a handful of rows.

Rules (docs/experiments.md gives the reasons):

- **Maturity**: a metric that needs time after exposure (retention on day N,
  conversion within a window) counts only units exposed long enough before the
  end for the outcome to be observable; the others are left out of its
  denominator and counted.
- **Entry grace**: for metrics anchored on an entry event (conversion,
  duration, retention), the entry may precede the logged exposure by
  ``entry_grace`` (default 1 hour): exposures are usually logged just after the
  event that triggers them (a sign-up), and without the grace every such funnel
  would be empty.
- **CUPED** covariate: the same metric's numerator over ``pre_days`` before
  exposure, for count, unique, ticket and ratio metrics, whose windows the
  metrics layer bounds exactly (funnels and retention follow an entry forward
  in time and could leak post-exposure behaviour into the covariate).
- **Accounts as units** (``unit: account``) with a per-user metric: the per-user
  numerators and denominators are summed per account (cluster-robust delta
  method); the user-level sums come along for the comparison the readout shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from impactlens.domain import Experiment
from impactlens.metrics import metric_per_actor_expr
from impactlens.service.experiments.exposure import AnalysisWindow, Population
from impactlens.service.experiments.sums import D_KNOWN, UnitSums, sums_aggregation

ENTRY_GRACE = timedelta(hours=1)
PRE_DAYS = 14
ANCHORED_KINDS = frozenset({"conversion", "duration", "retention"})
CUPED_KINDS = frozenset({"count", "unique", "tickets", "ratio"})
ROLES = ("primary", "secondary", "guardrail")
USER_PREFIX = "u_"

DaySums = dict[str, list[tuple[date, UnitSums]]]


@dataclass(frozen=True)
class MetricPlan:
    """How one metric is analysed in one experiment."""

    metric: Any  # impactlens.metrics.MetricBase
    role: str
    level: str  # whose values the metrics layer computes: user | account
    cluster: bool  # per-user values summed per account (accounts are the units)
    maturity: timedelta
    grace: timedelta
    cuped: bool
    skipped: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class MetricData:
    """Sums per variation and exposure day (``user_level``: the same per user, cluster only)."""

    plan: MetricPlan
    days: DaySums
    user_level: DaySums | None = None
    immature_units: int = 0
    seconds: float = 0.0


def maturity(metric: Any) -> timedelta:
    """How long after exposure the metric's outcome takes to be observable."""
    if metric.kind == "retention":
        span = 1 if metric.period == "day" else 7
        return timedelta(days=metric.n * span + span)
    if metric.kind in ("conversion", "duration"):
        return metric.within or timedelta(0)
    return timedelta(0)


def plan_metrics(
    experiment: Experiment,
    catalog: Any,
    *,
    cuped: bool,
    entry_grace: timedelta = ENTRY_GRACE,
) -> list[MetricPlan]:
    """Primary, secondary and guardrail metrics in that order (a repeated name keeps its first role)."""
    named = [(experiment.primary_metric, "primary")] if experiment.primary_metric else []
    named += [(m, "secondary") for m in experiment.secondary_metrics]
    named += [(m, "guardrail") for m in experiment.guardrails]
    plans: list[MetricPlan] = []
    seen: set[str] = set()
    for name, role in named:
        if name in seen:
            continue
        seen.add(name)
        metric = catalog.get(name)
        plans.append(_plan(experiment, metric, role, cuped, entry_grace))
    return plans


def _plan(experiment, metric, role, cuped, entry_grace) -> MetricPlan:
    accounts = experiment.unit == "account"
    level = "account" if accounts and metric.actor == "account" else "user"
    skipped = note = None
    if metric.kind == "revenue" and level == "user":
        skipped = "revenue is recorded per account and cannot be split between users' arms"
    elif metric.actor == "account" and level == "user":
        note = "defined per account; measured here per exposed user (rows linked to the user)"
    return MetricPlan(
        metric=metric,
        role=role,
        level=level,
        cluster=accounts and level == "user",
        maturity=maturity(metric),
        grace=entry_grace if metric.kind in ANCHORED_KINDS else timedelta(0),
        cuped=cuped and metric.kind in CUPED_KINDS,
        skipped=skipped,
        note=note,
    )


def collect_metric(
    warehouse: Any,
    catalog: Any,
    plan: MetricPlan,
    population: Population,
    window: AnalysisWindow,
    *,
    timezone: str = "UTC",
    pre_days: int = PRE_DAYS,
) -> MetricData:
    """Run the metric's aggregation in the warehouse; return its sums per arm and day."""
    began = time.perf_counter()
    units = population.accounts if plan.level == "account" else population.users
    assert units is not None
    immature = 0
    if plan.maturity > timedelta(0):
        late = units.start_at + ibis.interval(seconds=int(plan.maturity.total_seconds()))
        immature = int(units.filter(late > ibis.literal(window.end)).count().to_pyarrow().as_py())
        units = units.filter(late <= ibis.literal(window.end))
    per_unit = _per_unit(warehouse, catalog, plan, units, window, timezone, pre_days)
    if plan.cluster:
        days, user_level = _cluster_sums(per_unit, covariate=plan.cuped)
    else:
        days, user_level = _unit_sums(per_unit, covariate=plan.cuped), None
    return MetricData(plan, days, user_level, immature, time.perf_counter() - began)


def _metric_expr(warehouse, catalog, plan, actors: ir.Table, start, end, timezone) -> ir.Table:
    expr = metric_per_actor_expr(
        warehouse,
        plan.metric,
        start=start,
        end=end,
        actor=plan.level,
        actors_table=actors,
        timezone=timezone,
        catalog=catalog,
    )
    # The per-actor table comes sorted for display; only sums are taken from it here,
    # and a sort of every exposed unit is a tenth of the query at a million units.
    op = expr.op()
    return op.parent.to_expr() if isinstance(op, ops.Sort) else expr


def _per_unit(warehouse, catalog, plan, units, window, timezone, pre_days) -> ir.Table:
    """Unit-level m (numerator), d (denominator; 1 for a plain value), x (covariate)."""
    grace = ibis.interval(seconds=int(plan.grace.total_seconds()))
    start = window.start - plan.grace
    actors = units.select(
        "actor_id", "variation_id", "day", "account_id", start_at=units.start_at - grace
    )
    post = _metric_expr(warehouse, catalog, plan, actors, start, window.end, timezone)
    table = post.select(
        "actor_id",
        "variation_id",
        "day",
        "account_id",
        m=post.numerator.fill_null(0),
        d=post.denominator.fill_null(1),
        dk=post.denominator.notnull().cast("int64"),
    )
    if not plan.cuped:
        return table.mutate(x=ibis.null("float64"))
    pre_len = timedelta(days=pre_days)
    pre_actors = actors.select(
        "actor_id",
        start_at=actors.start_at - ibis.interval(days=pre_days),
        end_at=actors.start_at,
    )
    pre = _metric_expr(warehouse, catalog, plan, pre_actors, start - pre_len, window.end, timezone)
    # The covariate is the pre-exposure numerator (the value itself for a plain metric);
    # a ratio is linearised around it per post denominator (sums.linearised_ratio).
    pre = pre.select(_pid=pre.actor_id, _x=pre.numerator.fill_null(0))
    joined = table.left_join(pre, table.actor_id == pre._pid)
    return joined.select(*table.columns, x=joined._x.fill_null(0))


def _rows_to_days(rows: list[dict], prefix: str = "") -> DaySums:
    out: DaySums = {}
    for row in rows:
        values = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
        out.setdefault(row["variation_id"], []).append((row["day"], UnitSums.from_row(values)))
    return {v: sorted(days, key=lambda p: p[0]) for v, days in out.items()}


def _unit_sums(t: ir.Table, *, covariate: bool) -> DaySums:
    x = t.x if covariate else None
    aggs = sums_aggregation(t.m, t.d, x) | {D_KNOWN: t.dk.sum()}
    rows = t.group_by(["variation_id", "day"]).agg(**aggs).to_pyarrow().to_pylist()
    return _rows_to_days(rows)


def _cluster_sums(t: ir.Table, *, covariate: bool) -> tuple[DaySums, DaySums]:
    """Accounts as units (m = Σ users' m, d = Σ users' d, x = Σ users' x) and, in the same
    query, the user-level sums the readout compares them with."""
    x = t.x if covariate else None
    per_user = sums_aggregation(t.m, t.d, x) | {D_KNOWN: t.dk.sum()}
    acc = t.group_by(["variation_id", "account_id"]).agg(
        day=t.day.min(),
        _am=t.m.cast("float64").sum(),
        _ad=t.d.cast("float64").sum(),
        _ax=t.x.cast("float64").sum(),
        **{USER_PREFIX + name: value for name, value in per_user.items()},
    )
    aggs = sums_aggregation(acc._am, acc._ad, acc._ax if covariate else None)
    aggs |= {D_KNOWN: acc._am.count()}
    aggs |= {c: acc[c].sum() for c in acc.columns if c.startswith(USER_PREFIX)}
    rows = acc.group_by(["variation_id", "day"]).agg(**aggs).to_pyarrow().to_pylist()
    account_rows = [{k: v for k, v in r.items() if not k.startswith(USER_PREFIX)} for r in rows]
    user_rows = [
        {"variation_id": r["variation_id"], "day": r["day"]}
        | {k: v for k, v in r.items() if k.startswith(USER_PREFIX)}
        for r in rows
    ]
    return _rows_to_days(account_rows), _rows_to_days(user_rows, USER_PREFIX)
