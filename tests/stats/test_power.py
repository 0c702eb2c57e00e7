"""Power, MDE and sample size: internal consistency and the small-lift textbook limit."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from impactlens.stats.power import (
    ZERO_EFFECT,
    mde_relative,
    power_relative,
    relative_lift_se,
    sample_size_relative,
)
from impactlens.stats.results import ZERO_BASELINE, ZERO_VARIANCE


def test_small_lift_limit_matches_statsmodels_normal_ind_power():
    # For a tiny lift the relative test is the textbook z-test with effect size delta / cv.
    delta, mu, var, n = 1e-4, 10.0, 25.0, 20_000_000
    reference = NormalIndPower().power(effect_size=delta / 0.5, nobs1=n, alpha=0.05, ratio=1.0)
    assert power_relative(delta, mu, var, n) == pytest.approx(reference, rel=1e-3)


def test_power_is_alpha_at_zero_and_grows_with_lift_and_n():
    assert power_relative(0.0, 10.0, 25.0, 1000) == pytest.approx(0.05, rel=1e-12)
    assert power_relative(0.02, 10.0, 25.0, 1000) < power_relative(0.04, 10.0, 25.0, 1000)
    assert power_relative(0.02, 10.0, 25.0, 1000) < power_relative(0.02, 10.0, 25.0, 4000)


@pytest.mark.parametrize(("n_c", "n_t", "alpha", "target"), [(5000, None, 0.05, 0.8),
                         (800, 2400, 0.01, 0.9), (120, 100, 0.1, 0.5)])  # fmt: skip
def test_power_at_the_mde_is_the_target(n_c, n_t, alpha, target):
    mde = mde_relative(0.12, 0.12 * 0.88, n_c, n_t, alpha=alpha, power=target)
    assert power_relative(mde, 0.12, 0.12 * 0.88, n_c, n_t, alpha=alpha) == pytest.approx(
        target, abs=1e-9
    )


def test_mde_halves_when_n_quadruples_for_small_lifts():
    small, large = mde_relative(10.0, 25.0, 250_000), mde_relative(10.0, 25.0, 1_000_000)
    assert small / large == pytest.approx(2.0, rel=5e-3)


def test_mde_degenerate_inputs():
    assert math.isnan(mde_relative(0.0, 1.0, 100))
    assert mde_relative(5.0, 0.0, 100) == 0.0
    # cv = 10 with 10 units: the test's standard error outruns any lift.
    assert mde_relative(1.0, 100.0, 10) == math.inf


@pytest.mark.parametrize("lift", [0.05, -0.05, 0.5, -0.3])
def test_sample_size_is_the_smallest_n_reaching_the_power(lift):
    r = sample_size_relative(lift, 0.1, 0.09, daily_units=2_000)
    assert r.error is None
    assert power_relative(lift, 0.1, 0.09, r.n_per_arm) >= 0.8
    assert power_relative(lift, 0.1, 0.09, r.n_per_arm - 1) < 0.8
    assert r.n_total == 2 * r.n_per_arm
    assert r.days == math.ceil(r.n_total / 2_000)


def test_sample_size_for_a_five_percent_lift_on_a_ten_percent_rate():
    # cv^2 = 9; n = 9 (1.95996 sqrt(1 + 1.05^2) + 0.84162 sqrt 2)^2 / 0.05^2 = 58,531
    # (far-tail term ~1e-8, so rounding up the closed form is already exact).
    assert sample_size_relative(0.05, 0.1, 0.09).n_per_arm == 58_531


def test_sample_size_error_codes():
    assert sample_size_relative(0.0, 0.1, 0.09).error == ZERO_EFFECT
    assert sample_size_relative(0.1, 0.0, 0.09).error == ZERO_BASELINE
    assert sample_size_relative(0.1, 1.0, 0.0).error == ZERO_VARIANCE
    with pytest.raises(ValueError):
        sample_size_relative(0.1, 0.1, 0.09, power=1.2)


def test_relative_lift_se_by_hand():
    # cv^2 = 25 / 100 = 0.25; (1/1000 + 1.1^2/1000) = 0.00221 -> sqrt(0.25 * 0.00221) = 0.023505.
    assert relative_lift_se(0.1, 10.0, 25.0, 1000) == pytest.approx(0.0235053, rel=1e-5)
