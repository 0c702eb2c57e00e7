"""Sequential test: the interval formula, its tuning parameter, and p-value/interval duality."""

from __future__ import annotations

import math

import pytest
from scipy import special

from impactlens.stats.frequentist import welch_test
from impactlens.stats.results import ZERO_VARIANCE
from impactlens.stats.sequential import (
    SEQUENTIAL,
    mixture_rho,
    sequential_half_width,
    sequential_p_value,
    sequential_test,
)
from impactlens.stats.sufficient import MeanStatistic, ProportionStatistic


def test_rho_by_hand():
    # alpha 0.05, tuning 5000: sqrt((-2 ln .05 + ln(-2 ln .05 + 1)) / 5000)
    # = sqrt((5.99146 + ln 6.99146) / 5000) = sqrt(7.93612 / 5000) = 0.0398400.
    assert mixture_rho(0.05, 5000) == pytest.approx(0.0398400, rel=1e-5)


def test_sequential_interval_is_wider_than_fixed_and_converges_slowly():
    # Always-valid intervals pay for peeking: wider than the fixed-horizon z interval at
    # every N, by a factor that grows only like sqrt(log N).
    z = float(special.ndtri(0.975))
    ratios = []
    for n_total in (100, 1_000, 5_000, 50_000, 1_000_000):
        variance = 4.0 / n_total  # the effect's variance shrinks like 1/N
        width = sequential_half_width(variance, n_total, alpha=0.05, tuning=5000)
        ratios.append(width / (z * math.sqrt(variance)))
    assert all(r > 1 for r in ratios)
    assert min(ratios) == ratios[2]  # tightest (relative to fixed) near N = tuning
    # By hand at N = 5000: N rho^2 = 7.93612, so the half-width is sqrt(Var) times
    # sqrt(2 * 8.93612 * ln(sqrt(8.93612) / 0.05) / 7.93612) = 3.03522; / 1.95996 = 1.54861.
    assert ratios[2] == pytest.approx(1.54861, rel=1e-5)


def test_p_value_below_alpha_exactly_when_interval_excludes_zero():
    c = ProportionStatistic(4000, 400)
    for conversions in (400, 430, 450, 470, 480, 490, 520):
        r = sequential_test(c, ProportionStatistic(4000, conversions))
        assert (r.p_value < 0.05) == (r.ci_lower > 0 or r.ci_upper < 0)
        assert r.method == SEQUENTIAL and r.tuning == 5000.0


def test_sequential_is_more_conservative_than_fixed_horizon():
    c, t = ProportionStatistic(3000, 300), ProportionStatistic(3000, 350)
    fixed, sequential = welch_test(c, t), sequential_test(c, t)
    assert sequential.effect == fixed.effect
    assert sequential.p_value > fixed.p_value
    assert sequential.ci_lower < fixed.ci_lower and sequential.ci_upper > fixed.ci_upper


def test_huge_effect_gives_zero_p_value_without_overflow():
    # gbstats computes exp(...) directly and overflows (RuntimeWarning); we work in logs.
    assert sequential_p_value(1.0, 1e-6, 10_000, alpha=0.05, tuning=5000) == 0.0


def test_degenerate_and_bad_arguments():
    flat = MeanStatistic(10, 10.0, 10.0)
    r = sequential_test(flat, flat)
    assert r.error == ZERO_VARIANCE and r.tuning == 5000.0 and math.isnan(r.ci_lower)
    spread = MeanStatistic(10, 10.0, 20.0)
    with pytest.raises(ValueError):
        sequential_test(spread, spread, tuning=0)
