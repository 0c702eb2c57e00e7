"""Shared arithmetic of the two-sample tests: arm moments, effect, its variance, Welch df.

Every test (fixed-horizon, sequential, Bayesian) reduces a pair of sufficient
statistics to the same two numbers, an effect estimate and its variance, and
differs only in what it does with them. Keeping that reduction here means the
delta method, the ratio variance and the CUPED adjustment are written once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from impactlens.stats.results import EMPTY_ARM, ZERO_BASELINE, ZERO_DENOMINATOR, ZERO_VARIANCE
from impactlens.stats.sufficient import (
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    Statistic,
)


@dataclass(frozen=True)
class ArmMoments:
    """One arm reduced to what the tests use.

    ``mean`` is the mean the effect is computed on (CUPED-adjusted when theta != 0);
    ``unadjusted_mean`` is the plain mean, used as the baseline of a relative lift.
    """

    n: int
    mean: float
    unadjusted_mean: float
    variance: float


@dataclass(frozen=True)
class PreparedPair:
    """Control and treatment moments, plus CUPED's theta and the unadjusted moments."""

    control: ArmMoments
    treatment: ArmMoments
    theta: float | None = None
    unadjusted: tuple[ArmMoments, ArmMoments] | None = None


def compute_theta(
    control: RegressionAdjustedStatistic, treatment: RegressionAdjustedStatistic
) -> float:
    """CUPED coefficient cov(post, pre) / var(pre) on both arms pooled (as gbstats).

    Pooling keeps theta independent of the assignment, so the adjusted difference
    stays unbiased. Returns 0.0 (no adjustment) when either pooled variance is zero.
    """
    pooled = control + treatment
    if pooled.pre.variance <= 0 or pooled.post.variance <= 0:
        return 0.0
    return pooled.covariance / pooled.pre.variance


def _moments(stat: Statistic, theta: float = 0.0) -> ArmMoments:
    if isinstance(stat, RegressionAdjustedStatistic):
        return ArmMoments(
            stat.n, stat.adjusted_mean(theta), stat.mean, stat.adjusted_variance(theta)
        )
    return ArmMoments(stat.n, stat.mean, stat.mean, stat.variance)


def prepare_pair(control: Statistic, treatment: Statistic) -> PreparedPair:
    """Reduce two statistics of the same kind to arm moments (CUPED-adjusted if RA)."""
    if type(control) is not type(treatment):
        raise TypeError(
            "control and treatment must be the same kind of statistic, got "
            f"{type(control).__name__} and {type(treatment).__name__}"
        )
    if not isinstance(
        control, MeanStatistic | ProportionStatistic | RatioStatistic | RegressionAdjustedStatistic
    ):
        raise TypeError(f"not a sufficient statistic: {type(control).__name__}")
    if isinstance(control, RegressionAdjustedStatistic):
        assert isinstance(treatment, RegressionAdjustedStatistic)
        empty = control.n == 0 or treatment.n == 0
        theta = 0.0 if empty else compute_theta(control, treatment)
        return PreparedPair(
            _moments(control, theta),
            _moments(treatment, theta),
            theta,
            (_moments(control), _moments(treatment)),
        )
    return PreparedPair(_moments(control), _moments(treatment))


def degenerate_error(
    pair: PreparedPair, control: Statistic, treatment: Statistic, relative: bool
) -> str | None:
    """The error code for data no test can analyse, or None when the data is usable."""
    if pair.control.n == 0 or pair.treatment.n == 0:
        return EMPTY_ARM
    ratios = isinstance(control, RatioStatistic) and isinstance(treatment, RatioStatistic)
    if ratios and (control.d_sum == 0 or treatment.d_sum == 0):  # type: ignore[union-attr]
        return ZERO_DENOMINATOR
    if relative and pair.control.unadjusted_mean == 0:
        return ZERO_BASELINE
    if not (pair.control.variance > 0 and pair.treatment.variance > 0):
        return ZERO_VARIANCE
    return None


def effect_estimate(control: ArmMoments, treatment: ArmMoments, relative: bool) -> float:
    """Absolute difference, or relative lift over the unadjusted control mean."""
    diff = treatment.mean - control.mean
    return diff / control.unadjusted_mean if relative else diff


def effect_variance(control: ArmMoments, treatment: ArmMoments, relative: bool) -> float:
    """Variance of :func:`effect_estimate`.

    Absolute: s_t^2/n_t + s_c^2/n_c. Relative (delta method, as gbstats):
    s_t^2/(mu_c^2 n_t) + s_c^2 mu_t^2/(mu_c^4 n_c), with unadjusted means.
    """
    vc, vt = control.variance / control.n, treatment.variance / treatment.n
    if not relative:
        return vt + vc
    mu_c, mu_t = control.unadjusted_mean, treatment.unadjusted_mean
    return vt / mu_c**2 + vc * mu_t**2 / mu_c**4


def welch_dof(control: ArmMoments, treatment: ArmMoments) -> float:
    """Welch-Satterthwaite degrees of freedom of the absolute difference."""
    vc, vt = control.variance / control.n, treatment.variance / treatment.n
    denom = vt**2 / (treatment.n - 1) + vc**2 / (control.n - 1)
    return (vt + vc) ** 2 / denom


def variance_reduction(pair: PreparedPair, relative: bool) -> float | None:
    """1 - Var(adjusted effect) / Var(unadjusted effect); None when not CUPED."""
    if pair.unadjusted is None:
        return None
    raw = effect_variance(*pair.unadjusted, relative)
    if not raw > 0:
        return None
    return 1.0 - effect_variance(pair.control, pair.treatment, relative) / raw


def describe(pair: PreparedPair) -> dict[str, Any]:
    """The descriptive figures every result carries, NaN where undefined."""
    c, t = pair.control, pair.treatment
    diff = t.mean - c.mean if c.n and t.n else math.nan
    base = c.unadjusted_mean
    return {
        "n_control": c.n,
        "n_treatment": t.n,
        "mean_control": c.unadjusted_mean,
        "mean_treatment": t.unadjusted_mean,
        "variance_control": c.variance,
        "variance_treatment": t.variance,
        "absolute_effect": diff,
        "relative_effect": diff / base if base and not math.isnan(base) else math.nan,
        "theta": pair.theta,
    }
