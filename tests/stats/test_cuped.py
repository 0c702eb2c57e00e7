"""CUPED: pooled theta, the adjusted estimate, and the fall-back without a usable covariate."""

from __future__ import annotations

import numpy as np
import pytest

from impactlens.stats.cuped import CUPED, compute_theta, cuped_test
from impactlens.stats.frequentist import welch_test
from impactlens.stats.results import EMPTY_ARM
from impactlens.stats.sufficient import MeanStatistic, RegressionAdjustedStatistic


def raw_arms(seed: int, lift: float = 0.0):
    rng = np.random.default_rng(seed)
    out = []
    for shift in (0.0, lift):
        pre = rng.gamma(3.0, 4.0, 1500)
        post = 2.0 + 0.9 * pre + rng.normal(0, 4.0, 1500) + shift
        out.append((post, pre))
    return out


def test_theta_is_the_pooled_least_squares_slope():
    # Reference: numpy's degree-1 polyfit of post on pre over both arms stacked.
    (yc, xc), (yt, xt) = raw_arms(1, lift=1.0)
    control = RegressionAdjustedStatistic.from_values(yc, xc)
    treatment = RegressionAdjustedStatistic.from_values(yt, xt)
    slope = np.polyfit(np.r_[xc, xt], np.r_[yc, yt], 1)[0]
    assert compute_theta(control, treatment) == pytest.approx(slope, rel=1e-9)


def test_adjusted_effect_equals_welch_on_adjusted_raw_values():
    # Subtracting theta * pre unit by unit and running Welch gives the same absolute test
    # (the relative test differs only in using the unadjusted control mean as baseline).
    (yc, xc), (yt, xt) = raw_arms(2, lift=1.0)
    control = RegressionAdjustedStatistic.from_values(yc, xc)
    treatment = RegressionAdjustedStatistic.from_values(yt, xt)
    result = cuped_test(control, treatment, relative=False)
    theta = result.theta
    reference = welch_test(
        MeanStatistic.from_values(yc - theta * xc),
        MeanStatistic.from_values(yt - theta * xt),
        relative=False,
    )
    assert result.method == CUPED
    for field in ("effect", "standard_error", "ci_lower", "ci_upper", "p_value", "dof"):
        assert getattr(result, field) == pytest.approx(getattr(reference, field), rel=1e-9)
    # Reported means are the plain post means; the effect is the adjusted difference.
    assert result.mean_control == pytest.approx(yc.mean(), rel=1e-12)


def test_variance_reduction_is_one_minus_the_variance_ratio_of_the_effect():
    (yc, xc), (yt, xt) = raw_arms(3)
    control = RegressionAdjustedStatistic.from_values(yc, xc)
    treatment = RegressionAdjustedStatistic.from_values(yt, xt)
    adjusted = cuped_test(control, treatment)
    plain = welch_test(control.post, treatment.post)
    expected = 1 - adjusted.standard_error**2 / plain.standard_error**2
    assert adjusted.variance_reduction == pytest.approx(expected, rel=1e-12)
    rho = np.corrcoef(np.r_[yc, yt], np.r_[xc, xt])[0, 1]
    assert adjusted.variance_reduction == pytest.approx(rho**2, abs=0.02)


def test_constant_covariate_falls_back_to_the_unadjusted_test():
    # A pre-period that is identical for everyone (e.g. all new users: 0) cannot help.
    rng = np.random.default_rng(4)
    post = rng.normal(10, 3, (2, 300))
    arms = [RegressionAdjustedStatistic.from_values(p, np.zeros(300)) for p in post]
    result = cuped_test(*arms)
    plain = welch_test(*(MeanStatistic.from_values(p) for p in post))
    assert result.theta == 0.0
    assert result.variance_reduction == pytest.approx(0.0, abs=1e-15)
    assert result.p_value == pytest.approx(plain.p_value, rel=1e-12)


def test_empty_arm_is_an_error_code():
    arm = RegressionAdjustedStatistic.from_values([1.0, 2.0, 4.0], [1.0, 1.5, 3.0])
    result = cuped_test(RegressionAdjustedStatistic(0, 0, 0, 0, 0, 0), arm)
    assert result.error == EMPTY_ARM and result.theta == 0.0


def test_doc_example_runs():
    rng = np.random.default_rng(0)
    pre = rng.normal(10, 2, size=(2, 500))
    post = pre + rng.normal(0, 1, size=(2, 500))
    arms = [RegressionAdjustedStatistic.from_values(post[i], pre[i]) for i in (0, 1)]
    # corr(post, pre) = 2 / sqrt(5), so about 1 - 1/5 = 0.8 of the variance goes.
    assert round(cuped_test(*arms).variance_reduction, 1) == 0.8
