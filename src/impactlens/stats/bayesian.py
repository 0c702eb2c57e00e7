"""Bayesian analysis of the effect with a Gaussian prior (gbstats ``EffectBayesianABTest``).

The data give a normal likelihood for the effect, centred on the estimate with the
delta-method variance; a normal prior on the relative effect (flat when not proper)
gives a normal posterior. From it: chance to beat control, expected loss (risk) of
shipping either arm, and an equal-tailed credible interval.

Example:
    >>> from impactlens.stats.sufficient import ProportionStatistic
    >>> r = bayesian_test(ProportionStatistic(1000, 100), ProportionStatistic(1000, 130))
    >>> round(r.chance_to_win, 3)
    0.967
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
)
from impactlens.stats.frequentist import check_alpha
from impactlens.stats.results import ZERO_BASELINE, BayesianResult, GaussianPrior
from impactlens.stats.sufficient import Statistic

BAYESIAN = "bayesian_gaussian"

__all__ = ["BAYESIAN", "GaussianPrior", "bayesian_test", "expected_positive_part"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def expected_positive_part(mean: float, sd: float) -> float:
    """E[max(X, 0)] for X ~ N(mean, sd^2): sd * (phi(z) + z Phi(z)), z = mean / sd.

    For z < 0 both terms nearly cancel; the scaled complementary error function
    (erfcx) keeps the result accurate far into the tail.
    """
    z = mean / sd
    if z >= 0:
        return sd * (_INV_SQRT_2PI * math.exp(-0.5 * z * z) + z * float(special.ndtr(z)))
    bracket = _INV_SQRT_2PI + z * 0.5 * float(special.erfcx(-z / math.sqrt(2.0)))
    return sd * math.exp(-0.5 * z * z) * max(bracket, 0.0)


def _scaled_prior(prior: GaussianPrior, baseline: float, relative: bool) -> GaussianPrior:
    # The prior is stated on the relative effect; an absolute analysis rescales it
    # by the control mean, as gbstats does for prior_type="relative".
    if relative:
        return prior
    return GaussianPrior(prior.mean * abs(baseline), prior.variance * baseline**2, prior.proper)


def bayesian_test(
    control: Statistic,
    treatment: Statistic,
    *,
    prior: GaussianPrior | None = None,
    alpha: float = 0.05,
    relative: bool = True,
    inverse: bool = False,
) -> BayesianResult:
    """Normal-normal posterior of the effect; chance to win, risk, credible interval.

    ``prior`` is on the relative effect (default: flat, i.e. ``proper=False``).
    ``inverse=True`` is for metrics where lower is better: chance to win becomes
    P(effect < 0) and the two risks swap. The interval holds 1 - alpha of the posterior.
    """
    check_alpha(alpha)
    prior = prior if prior is not None else GaussianPrior()
    pair = prepare_pair(control, treatment)
    description = describe(pair)
    error = degenerate_error(pair, control, treatment, relative)
    if error is None and prior.proper and pair.control.unadjusted_mean == 0:
        error = ZERO_BASELINE  # an absolute-scale prior would have zero variance
    reduction = None if error else variance_reduction(pair, relative)
    nan = math.nan
    common = dict(
        method=BAYESIAN,
        relative=relative,
        alpha=alpha,
        inverse=inverse,
        prior=prior,
        variance_reduction=reduction,
        **description,
    )
    if error is not None:
        return BayesianResult(
            effect=nan,
            posterior_sd=nan,
            ci_lower=nan,
            ci_upper=nan,
            chance_to_win=nan,
            risk_control=nan,
            risk_treatment=nan,
            error=error,
            **common,  # type: ignore[arg-type]
        )
    c, t = pair.control, pair.treatment
    data_mean = effect_estimate(c, t, relative)
    data_variance = effect_variance(c, t, relative)
    scaled = _scaled_prior(prior, c.unadjusted_mean, relative)
    if scaled.proper:
        precision = 1.0 / data_variance + 1.0 / scaled.variance
        mean = (data_mean / data_variance + scaled.mean / scaled.variance) / precision
    else:
        precision, mean = 1.0 / data_variance, data_mean
    sd = math.sqrt(1.0 / precision)
    z = float(special.ndtri(1.0 - alpha / 2.0))
    chance = float(special.ndtr(mean / sd))
    # Loss of shipping control is the gain forgone, E[max(effect, 0)]; of shipping
    # treatment, E[max(-effect, 0)]. For an inverse metric the good direction flips.
    risk_control = expected_positive_part(mean, sd)
    risk_treatment = expected_positive_part(-mean, sd)
    if inverse:
        chance = float(special.ndtr(-mean / sd))
        risk_control, risk_treatment = risk_treatment, risk_control
    return BayesianResult(
        effect=mean,
        posterior_sd=sd,
        ci_lower=mean - z * sd,
        ci_upper=mean + z * sd,
        chance_to_win=chance,
        risk_control=risk_control,
        risk_treatment=risk_treatment,
        **common,  # type: ignore[arg-type]
    )
