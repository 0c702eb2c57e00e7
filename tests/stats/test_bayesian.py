"""Bayesian test: posterior algebra, chance to win, risk, priors and inverse metrics."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, stats

from impactlens.stats.bayesian import BAYESIAN, bayesian_test, expected_positive_part
from impactlens.stats.frequentist import welch_test
from impactlens.stats.results import EMPTY_ARM, ZERO_BASELINE, GaussianPrior
from impactlens.stats.sufficient import MeanStatistic, ProportionStatistic

CONTROL, TREATMENT = ProportionStatistic(2000, 200), ProportionStatistic(2000, 236)


@pytest.mark.parametrize("z", [-30.0, -8.3, -3.0, 0.0, 0.4, 5.0])
def test_expected_positive_part_matches_numerical_integration(z):
    # Reference: scipy.integrate.quad of x * phi(x - z) over x > 0, to 1e-13 relative.
    value, _ = integrate.quad(
        lambda u: (u + z) * stats.norm.pdf(u), -z, math.inf, epsabs=0, epsrel=1e-13
    )
    assert expected_positive_part(z, 1.0) == pytest.approx(value, rel=1e-11)
    assert expected_positive_part(2.0 * z, 2.0) == pytest.approx(2.0 * value, rel=1e-11)


def test_flat_prior_posterior_is_the_likelihood():
    r = bayesian_test(CONTROL, TREATMENT)
    w = welch_test(CONTROL, TREATMENT)
    assert r.method == BAYESIAN and r.error is None
    assert r.effect == pytest.approx(w.effect, rel=1e-12)
    assert r.posterior_sd == pytest.approx(w.standard_error, rel=1e-12)
    # Chance to win is the normal P(effect > 0) = Phi(mean / sd).
    assert r.chance_to_win == pytest.approx(stats.norm.cdf(w.effect / w.standard_error), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert r.ci_lower == pytest.approx(r.effect - z * r.posterior_sd, rel=1e-12)


def test_risks_differ_by_the_posterior_mean():
    # E[max(X, 0)] - E[max(-X, 0)] = E[X]: the two expected losses differ by the mean.
    r = bayesian_test(CONTROL, TREATMENT)
    assert r.risk_control - r.risk_treatment == pytest.approx(r.effect, rel=1e-10)
    assert r.risk_control > r.risk_treatment > 0


def test_proper_prior_shrinks_towards_its_mean_by_precision_weighting():
    prior = GaussianPrior(mean=0.0, variance=0.05**2, proper=True)
    r = bayesian_test(CONTROL, TREATMENT, prior=prior)
    flat = bayesian_test(CONTROL, TREATMENT)
    data_precision = 1 / flat.posterior_sd**2
    prior_precision = 1 / 0.05**2
    expected_mean = flat.effect * data_precision / (data_precision + prior_precision)
    assert r.effect == pytest.approx(expected_mean, rel=1e-12)
    assert r.posterior_sd == pytest.approx((data_precision + prior_precision) ** -0.5, rel=1e-12)
    assert 0 < r.effect < flat.effect and r.chance_to_win < flat.chance_to_win


def test_prior_is_relative_and_rescaled_for_absolute_effects():
    # Relative prior sd 0.1 on a control mean of 0.1 is an absolute prior sd of 0.01.
    prior = GaussianPrior(mean=0.02, variance=0.1**2, proper=True)
    r = bayesian_test(CONTROL, TREATMENT, prior=prior, relative=False)
    data = welch_test(CONTROL, TREATMENT, relative=False)
    precision = 1 / data.standard_error**2 + 1 / 0.01**2
    expected = (data.effect / data.standard_error**2 + 0.002 / 0.01**2) / precision
    assert r.effect == pytest.approx(expected, rel=1e-12)


def test_inverse_metric_flips_chance_and_swaps_risks():
    normal = bayesian_test(CONTROL, TREATMENT)
    inverse = bayesian_test(CONTROL, TREATMENT, inverse=True)
    assert inverse.chance_to_win == pytest.approx(1 - normal.chance_to_win, rel=1e-12)
    assert (inverse.risk_control, inverse.risk_treatment) == (
        normal.risk_treatment,
        normal.risk_control,
    )


def test_degenerate_inputs_give_codes():
    empty = bayesian_test(ProportionStatistic(0, 0), TREATMENT)
    assert empty.error == EMPTY_ARM and math.isnan(empty.chance_to_win)
    zero = MeanStatistic(100, 0.0, 30.0)
    other = MeanStatistic(100, 10.0, 40.0)
    assert bayesian_test(zero, other).error == ZERO_BASELINE
    # Absolute effects are fine with a zero control mean, unless a relative prior must scale.
    assert bayesian_test(zero, other, relative=False).error is None
    proper = GaussianPrior(variance=0.01, proper=True)
    assert bayesian_test(zero, other, relative=False, prior=proper).error == ZERO_BASELINE
    with pytest.raises(ValueError):
        GaussianPrior(variance=0.0, proper=True)
