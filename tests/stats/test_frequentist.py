"""Welch and ratio tests: agreement with scipy on raw data, and degenerate data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from impactlens.stats.frequentist import RATIO, WELCH, ratio_test, welch_test
from impactlens.stats.results import EMPTY_ARM, ZERO_BASELINE, ZERO_DENOMINATOR, ZERO_VARIANCE
from impactlens.stats.sufficient import (
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_absolute_welch_matches_scipy_ttest_ind(alpha):
    # Reference: scipy.stats.ttest_ind(equal_var=False) and its confidence_interval on raw data.
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, 3.0, 37), rng.gamma(2.2, 3.1, 52)
    result = welch_test(
        MeanStatistic.from_values(a), MeanStatistic.from_values(b), alpha=alpha, relative=False
    )
    reference = scipy_stats.ttest_ind(b, a, equal_var=False)
    interval = reference.confidence_interval(confidence_level=1 - alpha)
    assert result.method == WELCH and result.error is None
    assert result.effect == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.dof == pytest.approx(reference.df, rel=1e-9)
    assert result.ci_lower == pytest.approx(interval.low, rel=1e-9)
    assert result.ci_upper == pytest.approx(interval.high, rel=1e-9)
    assert result.significant == (reference.pvalue < alpha)


def test_relative_lift_uses_delta_method_variance():
    # Hand numbers: control 10% of 1000, treatment 13% of 1000.
    # Var = 0.13*0.87/(0.1^2*1000) + 0.1*0.9*0.13^2/(0.1^4*1000) = 0.01131 + 0.01521 = 0.02652.
    result = welch_test(ProportionStatistic(1000, 100), ProportionStatistic(1000, 130))
    assert result.effect == pytest.approx(0.3, rel=1e-12)
    assert result.absolute_effect == pytest.approx(0.03, rel=1e-12)
    assert result.standard_error == pytest.approx(math.sqrt(0.02652), rel=1e-12)
    assert result.variance_control == pytest.approx(0.09, rel=1e-12)
    assert (result.n_control, result.n_treatment) == (1000, 1000)
    # Welch df on the absolute variances: (0.00009+0.0001131)^2 / (0.00009^2/999 + 0.0001131^2/999)
    expected_dof = (0.00009 + 0.0001131) ** 2 / ((0.00009**2 + 0.0001131**2) / 999)
    assert result.dof == pytest.approx(expected_dof, rel=1e-9)


def test_relative_p_value_is_larger_than_absolute_when_control_variance_enters_twice():
    # The relative test also carries the uncertainty of the baseline, so it is more conservative.
    c, t = ProportionStatistic(5000, 500), ProportionStatistic(5000, 560)
    assert welch_test(c, t).p_value > welch_test(c, t, relative=False).p_value


def test_ratio_test_absolute_matches_linearised_welch_on_raw_units():
    # The delta-method ratio difference equals Welch on the linearised units
    # (m - R d) / mean(d), up to the df, which uses the same per-unit variances.
    rng = np.random.default_rng(5)
    arms = []
    for rate in (0.30, 0.33):
        d = rng.poisson(3.0, 900) + 1.0
        m = rng.binomial(d.astype(int), rate).astype(float)
        arms.append((m, d))
    stats = [RatioStatistic.from_values(m, d) for m, d in arms]
    result = ratio_test(*stats, relative=False)
    linear = [(m - m.sum() / d.sum() * d) / d.mean() for m, d in arms]
    se = math.sqrt(sum(x.var(ddof=1) / x.size for x in linear))
    assert result.method == RATIO
    assert result.effect == pytest.approx(stats[1].mean - stats[0].mean, rel=1e-12)
    assert result.standard_error == pytest.approx(se, rel=1e-9)


def test_empty_arm_returns_error_not_exception():
    result = welch_test(MeanStatistic(0, 0.0, 0.0), MeanStatistic(10, 20.0, 50.0))
    assert result.error == EMPTY_ARM
    assert math.isnan(result.p_value) and math.isnan(result.ci_lower)
    assert result.n_treatment == 10 and result.mean_treatment == 2.0
    assert not result.significant


def test_zero_variance_and_zero_baseline_codes():
    flat = MeanStatistic(50, 100.0, 200.0)  # every unit is 2.0
    spread = MeanStatistic(50, 110.0, 300.0)
    assert welch_test(flat, spread).error == ZERO_VARIANCE
    zero_mean = MeanStatistic(50, 0.0, 40.0)
    assert welch_test(zero_mean, spread).error == ZERO_BASELINE
    # An absolute difference is still defined when the control mean is zero.
    absolute = welch_test(zero_mean, spread, relative=False)
    assert absolute.error is None and math.isnan(absolute.relative_effect)
    assert welch_test(MeanStatistic(1, 3.0, 9.0), spread).error == ZERO_VARIANCE


def test_zero_denominator_ratio_code():
    empty_denominator = RatioStatistic(5, 0.0, 0.0, 0.0, 0.0, 0.0)
    other = RatioStatistic(5, 4.0, 6.0, 8.0, 14.0, 8.0)
    assert ratio_test(empty_denominator, other).error == ZERO_DENOMINATOR


def test_wrong_statistic_kinds_are_programming_errors():
    with pytest.raises(TypeError):
        welch_test(MeanStatistic(3, 1.0, 1.0), ProportionStatistic(3, 1))
    with pytest.raises(TypeError):
        welch_test(*[RegressionAdjustedStatistic(3, 1.0, 1.0, 1.0, 1.0, 1.0)] * 2)
    with pytest.raises(ValueError):
        welch_test(MeanStatistic(3, 1.0, 1.0), MeanStatistic(3, 1.0, 1.0), alpha=1.5)
