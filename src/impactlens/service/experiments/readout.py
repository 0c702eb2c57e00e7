"""``analyze_experiment``: exposures -> metrics per unit -> sums -> tests -> recommendation."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any

from impactlens.errors import Problem, UserError, ValidationError
from impactlens.metrics import MetricCatalog, load_metrics
from impactlens.service.catalog import get_experiment, latest_decisions
from impactlens.service.experiments.analysis import (
    CORRECTIONS,
    METHODS,
    TestSettings,
    apply_correction,
    compare_metric,
)
from impactlens.service.experiments.collect import (
    ENTRY_GRACE,
    PRE_DAYS,
    MetricData,
    MetricPlan,
    collect_metric,
    plan_metrics,
)
from impactlens.service.experiments.exposure import analysis_window, exposed_population
from impactlens.service.experiments.recommend import percent, recommend
from impactlens.service.experiments.results import (
    ExperimentReadout,
    MetricReadout,
    Timings,
)
from impactlens.stats.srm import srm_test

IMBALANCE_P = 0.01  # a pre-exposure difference this unlikely is worth a sentence


def resolve_catalog(
    workspace_or_catalog: Any, warehouse: Any, timezone: str | None = None
) -> tuple[MetricCatalog, str]:
    """A workspace's metrics.yaml and time zone, or a catalog given directly (UTC by default)."""
    if isinstance(workspace_or_catalog, MetricCatalog):
        return workspace_or_catalog, timezone or "UTC"
    ws = workspace_or_catalog
    return load_metrics(ws.metrics_path), timezone or ws.config.timezone


def _check_metrics(experiment: Any, catalog: MetricCatalog) -> None:
    named = [("primary_metric", experiment.primary_metric)] if experiment.primary_metric else []
    named += [("secondary_metrics", m) for m in experiment.secondary_metrics]
    named += [("guardrails", m) for m in experiment.guardrails]
    problems = [
        Problem(
            f"experiment {experiment.experiment_id!r} names metric {name!r}, which "
            f"{catalog.path or 'metrics.yaml'} does not define",
            field=field,
            hint=f"defined: {', '.join(catalog.names) or 'none'}",
        )
        for field, name in named
        if name not in catalog
    ]
    if problems:
        raise ValidationError(problems, f"experiment {experiment.experiment_id!r} cannot be read")


def analyze_experiment(
    warehouse: Any,
    workspace_or_catalog: Any,
    experiment_id: str,
    *,
    as_of: datetime | None = None,
    method: str = "frequentist",
    cuped: bool = True,
    correction: str = "holm",
    alpha: float = 0.05,
    entry_grace: timedelta = ENTRY_GRACE,
    pre_days: int = PRE_DAYS,
    timezone: str | None = None,
) -> ExperimentReadout:
    """Read an experiment end to end and recommend ship, iterate or abandon.

    ``method``: ``frequentist`` (fixed-horizon Welch / delta-method / CUPED t-tests),
    ``sequential`` (always-valid intervals) or ``bayesian`` (chance to win, risk).
    ``correction``: ``holm`` or ``benjamini_hochberg`` across primary and secondary
    metrics x arms. docs/experiments.md states every rule.

    >>> readout = analyze_experiment(wh, workspace, "onboarding-checklist")  # doctest: +SKIP
    >>> readout.recommendation.decision  # doctest: +SKIP
    'ship'
    """
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if correction not in CORRECTIONS:
        raise UserError(f"unknown correction {correction!r}; use one of {', '.join(CORRECTIONS)}")
    catalog, tz = resolve_catalog(workspace_or_catalog, warehouse, timezone)
    experiment = get_experiment(warehouse, experiment_id)
    if len(experiment.variations) < 2:
        raise UserError(f"experiment {experiment_id!r} declares fewer than two variations")
    _check_metrics(experiment, catalog)
    began = time.perf_counter()
    window = analysis_window(warehouse, experiment, as_of)
    population = exposed_population(warehouse, experiment, window)
    plans = plan_metrics(experiment, catalog, cuped=cuped, entry_grace=entry_grace)
    try:
        collected = [
            None
            if plan.skipped
            else collect_metric(
                warehouse, catalog, plan, population, window, timezone=tz, pre_days=pre_days
            )
            for plan in plans
        ]
    finally:
        population.release()
    query_seconds = time.perf_counter() - began
    began = time.perf_counter()
    exposure = population.summary
    srm = srm_test(exposure.units, experiment.intended_weights)
    settings = TestSettings(method, alpha, float(max(exposure.total_units, 2)))
    readouts = [
        _metric_readout(settings, plan, data, experiment.variations, pre_days)
        for plan, data in zip(plans, collected, strict=True)
    ]
    readouts = apply_correction(readouts, settings, correction)
    recommendation = recommend(readouts, srm, window, exposure, alpha=alpha)
    stats_seconds = time.perf_counter() - began
    return ExperimentReadout(
        experiment=experiment,
        window=window,
        method=method,
        correction="none (Bayesian)" if method == "bayesian" else correction,
        alpha=alpha,
        cuped=cuped,
        exposure=exposure,
        srm=srm,
        metrics=tuple(readouts),
        recommendation=recommendation,
        decision=latest_decisions(warehouse, "experiment").get(experiment_id),
        warnings=tuple(_warnings(exposure)),
        timings=Timings(query_seconds, stats_seconds),
    )


def _metric_readout(
    settings: TestSettings,
    plan: MetricPlan,
    data: MetricData | None,
    variations: tuple[str, ...],
    pre_days: int,
) -> MetricReadout:
    metric = plan.metric
    base = dict(
        metric=metric.name,
        label=metric.label,
        role=plan.role,
        kind=metric.kind,
        higher_is_better=metric.higher_is_better,
        unit="account" if plan.cluster or plan.level == "account" else "user",
        cluster=plan.cluster,
        maturity_days=plan.maturity / timedelta(days=1),
    )
    if data is None:
        return MetricReadout(**base, comparisons=(), skipped=plan.skipped)  # type: ignore[arg-type]
    comparisons = tuple(compare_metric(settings, data, variations))
    notes = [plan.note] if plan.note else []
    if data.immature_units:
        notes.append(
            f"{data.immature_units:,} units exposed less than {base['maturity_days']:g} days "
            "before the end are left out: their outcome cannot be observed yet."
        )
    if plan.grace:
        notes.append(
            f"The metric's entry event may precede the exposure by up to {_duration(plan.grace)} "
            "(exposures are logged just after the event that triggers them)."
        )
    for c in comparisons:
        if c.cuped and c.variance_reduction is not None:
            part = "numerator" if c.statistic == "ratio" else "value"
            notes.append(
                f"CUPED, with the metric's {part} over the {pre_days} days before exposure as "
                f"covariate, reduced the variance of the {c.variation} effect by "
                f"{percent(c.variance_reduction, False)}."
            )
        elif plan.cuped:
            notes.append("CUPED found no pre-exposure activity to adjust with; not applied.")
        if c.pre_p_value is not None and c.pre_p_value < IMBALANCE_P:
            notes.append(
                f"Before exposure the {c.variation} arm already differed from {c.control} by "
                f"{percent(c.pre_effect)} on this metric (p = {c.pre_p_value:.2g}): a chance "
                "imbalance that the unadjusted lift would include"
                + (" and CUPED removes." if c.cuped else ".")
            )
        if c.user_level is not None:
            notes.append(_cluster_note(c, settings.alpha))
    return MetricReadout(
        **base,  # type: ignore[arg-type]
        comparisons=comparisons,
        immature_units=data.immature_units,
        notes=tuple(dict.fromkeys(notes)),
    )


def _duration(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


def _cluster_note(c: Any, alpha: float) -> str:
    u = c.user_level
    level = f"{1 - alpha:.0%}"
    text = (
        f"Accounts were randomised, so this metric is tested per account "
        f"({c.n_control + c.n_treatment:,} accounts, cluster-robust delta method). Unadjusted, "
        f"the lift of {percent(u.effect)} has a {level} interval of {percent(u.account_ci_lower)} "
        f"to {percent(u.account_ci_upper)} per account; a user-level test treating the "
        f"{u.users_control + u.users_treatment:,} users as independent would report "
        f"{percent(u.user_ci_lower)} to {percent(u.user_ci_upper)}"
    )
    if math.isnan(u.width_ratio):
        return text + "."
    if u.width_ratio <= 1:
        return text + ": here the users of an account are not alike enough to matter."
    p_text = ""
    if not math.isnan(u.user_p_value):
        p_text = f" (p = {u.user_p_value:.3g} instead of {u.account_p_value:.3g})"
    return (
        text + f", an interval {u.width_ratio:.1f}x narrower{p_text}: "
        "it would overstate significance."
    )


def _warnings(exposure: Any) -> list[str]:
    out = []
    if exposure.exposed_users == 0:
        out.append("No exposures in the window: is `Experiment Viewed` being sent?")
    if exposure.multiple_variations:
        out.append(
            f"{exposure.multiple_variations:,} users saw more than one variation and are "
            "excluded from every metric."
        )
    if exposure.unknown_variation:
        out.append(
            f"{exposure.unknown_variation:,} users were exposed to a variation the experiment "
            f"does not declare ({', '.join(exposure.variations)}) and are excluded."
        )
    if exposure.mixed_accounts:
        out.append(
            f"{exposure.mixed_accounts:,} accounts ({exposure.users_in_mixed_accounts:,} users) "
            "had users in different variations and are excluded."
        )
    if exposure.users_without_account:
        out.append(
            f"{exposure.users_without_account:,} exposed users have no account and are excluded "
            "from this account-level experiment."
        )
    return out
