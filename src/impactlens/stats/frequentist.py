"""Fixed-horizon two-sided tests: Welch t-test on means and proportions, ratio metrics.

The effect is the relative lift (delta method) or the absolute difference; the
interval and p-value use Student's t with Welch-Satterthwaite degrees of freedom,
exactly as gbstats' ``TwoSidedTTest`` does, so results agree with GrowthBook.

Example:
    >>> from impactlens.stats.sufficient import ProportionStatistic
    >>> r = welch_test(ProportionStatistic(4000, 400), ProportionStatistic(4000, 480))
    >>> round(r.effect, 3), round(r.p_value, 4)
    (0.2, 0.0091)
"""

from __future__ import annotations

import math

from scipy import special

from impactlens.stats.effects import (
    degenerate_error,
    describe,
    effect_estimate,
    effect_variance,
    prepare_pair,
    variance_reduction,
    welch_dof,
)
from impactlens.stats.results import FrequentistResult
from impactlens.stats.sufficient import (
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    Statistic,
)

WELCH = "welch_t"
RATIO = "ratio_delta_t"


def check_alpha(alpha: float) -> None:
    """Reject a significance level outside (0, 1): that is a caller's bug, not data."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def degenerate_result(
    method: str, description: dict, *, alpha: float, relative: bool, error: str, **extra: object
) -> FrequentistResult:
    """A result for data that cannot be tested: descriptive figures kept, the rest NaN."""
    nan = math.nan
    return FrequentistResult(
        method=method,
        relative=relative,
        alpha=alpha,
        effect=nan,
        standard_error=nan,
        ci_lower=nan,
        ci_upper=nan,
        p_value=nan,
        error=error,
        **description,
        **extra,  # type: ignore[arg-type]
    )


def t_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float,
    relative: bool,
    method: str,
) -> FrequentistResult:
    """Two-sided Welch t-test on any pair of statistics (the engine behind the wrappers)."""
    check_alpha(alpha)
    pair = prepare_pair(control, treatment)
    description = describe(pair)
    error = degenerate_error(pair, control, treatment, relative)
    reduction = None if error else variance_reduction(pair, relative)
    if error is not None:
        return degenerate_result(method, description, alpha=alpha, relative=relative, error=error)
    c, t = pair.control, pair.treatment
    effect = effect_estimate(c, t, relative)
    se = math.sqrt(effect_variance(c, t, relative))
    dof = welch_dof(c, t)
    # scipy.special's t functions are the kernels scipy.stats.t uses, minus the overhead.
    p_value = float(2.0 * special.stdtr(dof, -abs(effect) / se))
    half_width = float(special.stdtrit(dof, 1.0 - alpha / 2.0)) * se
    return FrequentistResult(
        method=method,
        relative=relative,
        alpha=alpha,
        effect=effect,
        standard_error=se,
        ci_lower=effect - half_width,
        ci_upper=effect + half_width,
        p_value=min(p_value, 1.0),
        dof=dof,
        variance_reduction=reduction,
        **description,
    )


def welch_test(
    control: MeanStatistic | ProportionStatistic,
    treatment: MeanStatistic | ProportionStatistic,
    *,
    alpha: float = 0.05,
    relative: bool = True,
) -> FrequentistResult:
    """Welch's unequal-variance t-test of a mean or a proportion, two-sided.

    ``relative=True`` tests the lift (treatment - control) / control with the
    delta-method variance; ``relative=False`` tests the absolute difference.
    """
    if not isinstance(control, MeanStatistic | ProportionStatistic):
        raise TypeError("welch_test takes MeanStatistic or ProportionStatistic arms")
    return t_test(control, treatment, alpha=alpha, relative=relative, method=WELCH)


def ratio_test(
    control: RatioStatistic,
    treatment: RatioStatistic,
    *,
    alpha: float = 0.05,
    relative: bool = True,
) -> FrequentistResult:
    """Two-sided t-test of a ratio of means (e.g. clicks per search) via the delta method.

    Also the cluster-robust test when accounts are assigned but the metric is per
    user: numerator = account total, denominator = the account's users.
    """
    if not isinstance(control, RatioStatistic):
        raise TypeError("ratio_test takes RatioStatistic arms")
    return t_test(control, treatment, alpha=alpha, relative=relative, method=RATIO)
