"""From sums to comparisons: the chosen test per metric and arm, corrections, timelines.

Pure: takes :class:`~impactlens.service.experiments.collect.MetricData` (sums the
warehouse returned) and calls :mod:`impactlens.stats`; no query runs here, which
is what lets the benchmark time the statistics apart from the warehouse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from impactlens.service.experiments.collect import MetricData
from impactlens.service.experiments.results import (
    Comparison,
    MetricReadout,
    TimelinePoint,
    UserLevelComparison,
)
from impactlens.service.experiments.sums import (
    RATIO,
    UnitSums,
    build_statistic,
    pool,
    statistic_kind,
)
from impactlens.stats.bayesian import bayesian_test
from impactlens.stats.cuped import cuped_test
from impactlens.stats.frequentist import ratio_test, welch_test
from impactlens.stats.multiple import adjust_p_values
from impactlens.stats.power import mde_relative
from impactlens.stats.results import ZERO_BASELINE
from impactlens.stats.sequential import sequential_test
from impactlens.stats.sufficient import RatioStatistic, RegressionAdjustedStatistic, Statistic

METHODS = ("frequentist", "sequential", "bayesian")
CORRECTIONS = ("holm", "benjamini_hochberg")
CORRECTED_ROLES = ("primary", "secondary")


@dataclass(frozen=True)
class TestSettings:
    method: str = "frequentist"
    alpha: float = 0.05
    tuning: float = 5000.0  # sequential: total units at which the interval is tightest


def run_test(
    settings: TestSettings,
    control: Statistic,
    treatment: Statistic,
    *,
    relative: bool,
    higher_is_better: bool,
) -> Any:
    """The chosen test on one pair of arms (ratio, CUPED or Welch for the fixed horizon)."""
    alpha = settings.alpha
    if settings.method == "bayesian":
        return bayesian_test(
            control, treatment, alpha=alpha, relative=relative, inverse=not higher_is_better
        )
    if settings.method == "sequential":
        return sequential_test(
            control, treatment, alpha=alpha, relative=relative, tuning=settings.tuning
        )
    if isinstance(control, RatioStatistic):
        return ratio_test(control, treatment, alpha=alpha, relative=relative)  # type: ignore[arg-type]
    if isinstance(control, RegressionAdjustedStatistic):
        return cuped_test(control, treatment, alpha=alpha, relative=relative)  # type: ignore[arg-type]
    return welch_test(control, treatment, alpha=alpha, relative=relative)  # type: ignore[arg-type]


def _test_pair(settings, c: UnitSums, t: UnitSums, kind: str, cuped: bool, hib: bool):
    """Relative lift; an absolute difference when the control's mean is 0 (no lift exists)."""
    # CUPED needs units in both arms, and a ratio a denominator to linearise around.
    cuped = cuped and c.n > 1 and t.n > 1 and (kind != RATIO or (c.d_sum > 0 and t.d_sum > 0))
    sc, st = build_statistic(c, kind, cuped=cuped), build_statistic(t, kind, cuped=cuped)
    result = run_test(settings, sc, st, relative=True, higher_is_better=hib)
    if result.error == ZERO_BASELINE:
        result = run_test(settings, sc, st, relative=False, higher_is_better=hib)
    return result


def _cumulative(days: list[tuple[Any, UnitSums]], grid: list[Any]) -> list[UnitSums]:
    by_day = dict(days)
    out, total = [], UnitSums()
    for day in grid:
        total = total + by_day.get(day, UnitSums())
        out.append(total)
    return out


def _timeline(settings, control_days, treat_days, kind, cuped, hib) -> tuple[TimelinePoint, ...]:
    grid = sorted({d for d, _ in control_days} | {d for d, _ in treat_days})
    points = []
    for day, c, t in zip(
        grid, _cumulative(control_days, grid), _cumulative(treat_days, grid), strict=True
    ):
        if c.n < 2 or t.n < 2:
            continue
        r = _test_pair(settings, c, t, kind, cuped, hib)
        if r.error is None:
            points.append(TimelinePoint(day, c.n, t.n, r.effect, r.ci_lower, r.ci_upper))
    return tuple(points)


def _user_level(settings, data: MetricData, control: str, variation: str, hib: bool):
    """Unadjusted, per user and per account: same lift, two variances (cluster metrics only)."""
    if data.user_level is None:
        return None
    uc, ut = (pool([s for _, s in data.user_level.get(v, [])]) for v in (control, variation))
    ac, at = (pool([s for _, s in data.days.get(v, [])]) for v in (control, variation))
    kind = statistic_kind(uc + ut, data.plan.metric.kind, cluster=False)
    u = _test_pair(settings, uc, ut, kind, False, hib)
    a = _test_pair(settings, ac, at, RATIO, False, hib)
    return UserLevelComparison(
        uc.n, ut.n, u.effect,
        u.ci_lower, u.ci_upper, getattr(u, "p_value", math.nan),
        a.ci_lower, a.ci_upper, getattr(a, "p_value", math.nan),
    )  # fmt: skip


def _pre_period(settings, c: UnitSums, t: UnitSums, kind: str) -> tuple[float, float] | None:
    """The covariate compared between arms: randomisation makes it equal in expectation."""
    if not (c + t).has_covariate:
        return None
    pc, pt = (
        UnitSums(
            s.n,
            s.pre_sum,
            s.pre_sum_squares,
            s.d_sum,
            s.d_sum_squares,
            s.d_pre_sum_product,
            d_known=s.d_known,
        )
        for s in (c, t)
    )
    r = _test_pair(TestSettings("frequentist", settings.alpha), pc, pt, kind, False, True)
    return (r.effect, r.p_value) if r.error is None else None


def _mde(result: Any, alpha: float) -> float | None:
    if result.error is not None or not result.relative or not result.mean_control:
        return None
    return mde_relative(
        result.mean_control,
        result.variance_control,
        result.n_control,
        result.n_treatment,
        alpha=alpha,
    )


def compare_metric(
    settings: TestSettings, data: MetricData, variations: tuple[str, ...]
) -> list[Comparison]:
    """Each treatment arm against the control (the first variation), unadjusted."""
    plan, metric = data.plan, data.plan.metric
    control, hib = variations[0], metric.higher_is_better
    arms = {v: pool([s for _, s in data.days.get(v, [])]) for v in variations}
    kind = statistic_kind(pool(list(arms.values())), metric.kind, cluster=plan.cluster)
    cuped = plan.cuped and pool(list(arms.values())).has_covariate
    out = []
    for variation in variations[1:]:
        r = _test_pair(settings, arms[control], arms[variation], kind, cuped, hib)
        bayes = settings.method == "bayesian"
        pre = _pre_period(settings, arms[control], arms[variation], kind) if plan.cuped else None
        out.append(
            Comparison(
                variation=variation,
                control=control,
                method=r.method,
                statistic=kind,
                relative=r.relative,
                n_control=r.n_control,
                n_treatment=r.n_treatment,
                value_control=arms[control].value,
                value_treatment=arms[variation].value,
                variance_control=r.variance_control,
                effect=r.effect,
                absolute_effect=r.absolute_effect,
                ci_lower=r.ci_lower,
                ci_upper=r.ci_upper,
                p_value=None if bayes else r.p_value,
                adjusted_p_value=None if bayes else r.p_value,
                chance_to_win=r.chance_to_win if bayes else None,
                risk_control=r.risk_control if bayes else None,
                risk_treatment=r.risk_treatment if bayes else None,
                outcome=_outcome(settings, r, None if bayes else r.p_value, hib),
                mde=_mde(r, settings.alpha),
                variance_reduction=r.variance_reduction if r.theta is not None else None,
                cuped=r.theta is not None,
                error=r.error,
                pre_effect=pre[0] if pre else None,
                pre_p_value=pre[1] if pre else None,
                user_level=_user_level(settings, data, control, variation, hib),
                timeline=_timeline(
                    settings,
                    data.days.get(control, []),
                    data.days.get(variation, []),
                    kind,
                    cuped,
                    hib,
                ),
            )
        )
    return out


def _outcome(settings: TestSettings, result: Any, p_value: float | None, hib: bool) -> str:
    if result.error is not None:
        return "error"
    if settings.method == "bayesian":
        if result.chance_to_win >= 1.0 - settings.alpha:
            return "better"
        return "worse" if result.chance_to_win <= settings.alpha else "inconclusive"
    if p_value is None or math.isnan(p_value) or p_value >= settings.alpha:
        return "inconclusive"
    good = result.absolute_effect > 0 if hib else result.absolute_effect < 0
    return "better" if good else "worse"


def apply_correction(
    readouts: list[MetricReadout], settings: TestSettings, correction: str
) -> list[MetricReadout]:
    """Holm or BH across primary and secondary metrics x arms; guardrails stay unadjusted.

    A guardrail protects against harm: adjusting it would make a real regression
    easier to miss, so it is judged at the nominal level (docs/experiments.md).
    """
    if settings.method == "bayesian":
        return readouts
    family = [
        (i, j)
        for i, m in enumerate(readouts)
        if m.role in CORRECTED_ROLES
        for j, c in enumerate(m.comparisons)
        if c.p_value is not None
    ]
    if not family:
        return readouts
    p_values = [readouts[i].comparisons[j].p_value for i, j in family]
    adjusted = adjust_p_values(p_values, method=correction, alpha=settings.alpha).adjusted  # type: ignore[arg-type]
    out = list(readouts)
    for (i, j), p in zip(family, adjusted, strict=True):
        comps = list(out[i].comparisons)
        c = comps[j]
        outcome = "error" if c.error else _outcome(settings, c, p, out[i].higher_is_better)
        comps[j] = replace(c, adjusted_p_value=p, outcome=outcome)
        out[i] = replace(out[i], comparisons=tuple(comps))
    return out
