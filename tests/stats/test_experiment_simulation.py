"""Operating characteristics by simulation, with fixed seeds.

Normal data are simulated through their exact sufficient statistics (the mean is
N(mu, sigma^2/n), the centred sum of squares sigma^2 chi^2_{n-1}, independently; for
two correlated metrics the scatter matrix is Wishart), so thousands of experiments
run in about a second. Each bound is stated with the number measured when it was
written; with a fixed seed the numbers are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from impactlens.stats.cuped import cuped_test
from impactlens.stats.frequentist import ratio_test, welch_test
from impactlens.stats.power import mde_relative
from impactlens.stats.sequential import sequential_test
from impactlens.stats.sufficient import (
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
)


def normal_arms(rng, n, mu, sigma, runs):
    """Exact sufficient statistics of `runs` samples of n draws from N(mu, sigma^2)."""
    means = rng.normal(mu, sigma / np.sqrt(n), runs)
    centred = sigma**2 * rng.chisquare(n - 1, runs)
    return [MeanStatistic(n, n * m, c + n * m * m) for m, c in zip(means, centred, strict=True)]


def rate(flags) -> float:
    return float(np.mean(flags))


def test_aa_false_positive_rate_of_welch_on_means_is_nominal():
    rng = np.random.default_rng(101)
    control = normal_arms(rng, 400, 20.0, 15.0, 2000)
    treatment = normal_arms(rng, 400, 20.0, 15.0, 2000)
    fpr = rate([welch_test(c, t).p_value < 0.05 for c, t in zip(control, treatment, strict=True)])
    assert 0.04 <= fpr <= 0.06  # measured 0.0490


def test_aa_false_positive_rate_of_welch_on_proportions_is_nominal():
    rng = np.random.default_rng(102)
    hits = rng.binomial(3000, 0.08, size=(2, 2000))
    results = [
        welch_test(ProportionStatistic(3000, a), ProportionStatistic(3000, b)) for a, b in hits.T
    ]
    fpr = rate([r.p_value < 0.05 for r in results])
    assert 0.04 <= fpr <= 0.06  # measured 0.0545


def test_aa_false_positive_rate_on_skewed_raw_data():
    # Revenue-like lognormal units (skewness ~6), summarised from raw draws.
    rng = np.random.default_rng(103)
    data = rng.lognormal(0.0, 1.0, size=(2000, 2, 800))
    sums, squares = data.sum(axis=2), (data**2).sum(axis=2)
    fpr = rate(
        [
            welch_test(MeanStatistic(800, s[0], q[0]), MeanStatistic(800, s[1], q[1])).p_value
            < 0.05
            for s, q in zip(sums, squares, strict=True)
        ]
    )
    assert 0.04 <= fpr <= 0.06  # measured 0.0455


def test_relative_interval_covers_true_lift():
    # True lift +5% on a mean of 10 (sd 8); the delta-method 95% interval should cover it.
    rng = np.random.default_rng(104)
    control = normal_arms(rng, 1500, 10.0, 8.0, 3000)
    treatment = normal_arms(rng, 1500, 10.5, 8.0, 3000)
    results = [welch_test(c, t) for c, t in zip(control, treatment, strict=True)]
    coverage = rate([r.ci_lower <= 0.05 <= r.ci_upper for r in results])
    assert 0.94 <= coverage <= 0.96  # measured 0.9480


def test_absolute_interval_covers_true_difference_with_unequal_variances_and_sizes():
    rng = np.random.default_rng(105)
    control = normal_arms(rng, 60, 3.0, 1.0, 3000)
    treatment = normal_arms(rng, 25, 3.4, 3.0, 3000)
    results = [welch_test(c, t, relative=False) for c, t in zip(control, treatment, strict=True)]
    coverage = rate([r.ci_lower <= 0.4 <= r.ci_upper for r in results])
    assert 0.94 <= coverage <= 0.96  # measured 0.9497


def test_daily_peeking_inflates_fixed_horizon_but_not_sequential():
    # 2,000 A/A experiments, 250 new units per arm per day, a look after each of 20 days.
    rng = np.random.default_rng(106)
    runs, days, per_day = 2000, 20, 250
    arms = []
    for _ in range(2):
        means = rng.normal(5.0, 4.0 / np.sqrt(per_day), (runs, days))
        centred = 16.0 * rng.chisquare(per_day - 1, (runs, days))
        sums = np.cumsum(per_day * means, axis=1)
        squares = np.cumsum(centred + per_day * means**2, axis=1)
        arms.append((sums, squares))
    fixed_any = np.zeros(runs, dtype=bool)
    sequential_any = np.zeros(runs, dtype=bool)
    fixed_last = np.zeros(runs, dtype=bool)
    for day in range(days):
        n = per_day * (day + 1)
        for run in range(runs):
            c = MeanStatistic(n, arms[0][0][run, day], arms[0][1][run, day])
            t = MeanStatistic(n, arms[1][0][run, day], arms[1][1][run, day])
            fixed = welch_test(c, t).p_value < 0.05
            fixed_any[run] |= fixed
            sequential_any[run] |= sequential_test(c, t).p_value < 0.05
            if day == days - 1:
                fixed_last[run] = fixed
    assert 0.04 <= rate(fixed_last) <= 0.06  # measured 0.0480: one look is fine
    assert rate(fixed_any) > 0.15  # measured 0.2440: daily peeking five-folds it
    assert rate(sequential_any) <= 0.05  # measured 0.0140


def test_sequential_interval_covers_true_lift_at_every_look():
    # Time-uniform coverage: the true lift stays inside the interval at all 20 looks.
    rng = np.random.default_rng(107)
    runs, days, per_day = 1000, 20, 300
    stats = []
    for mu in (10.0, 10.3):
        means = rng.normal(mu, 6.0 / np.sqrt(per_day), (runs, days))
        centred = 36.0 * rng.chisquare(per_day - 1, (runs, days))
        stats.append(
            (np.cumsum(per_day * means, axis=1), np.cumsum(centred + per_day * means**2, axis=1))
        )
    missed = np.zeros(runs, dtype=bool)
    for day in range(days):
        n = per_day * (day + 1)
        for run in range(runs):
            arms = [MeanStatistic(n, s[run, day], q[run, day]) for s, q in stats]
            r = sequential_test(*arms, tuning=2000)
            missed[run] |= not r.ci_lower <= 0.03 <= r.ci_upper
    assert rate(missed) <= 0.05  # measured 0.0190


def correlated_arms(rng, n, means, sd, rho, runs):
    """Exact (post, pre) sufficient statistics of bivariate normal samples."""
    cov = sd**2 * np.array([[1.0, rho], [rho, 1.0]])
    xbar = rng.multivariate_normal(means, cov / n, runs)
    scatter = scipy_stats.wishart.rvs(df=n - 1, scale=cov, size=runs, random_state=rng)
    out = []
    for (y, x), s in zip(xbar, scatter, strict=True):
        out.append(
            RegressionAdjustedStatistic(
                n, n * y, s[0, 0] + n * y * y, n * x, s[1, 1] + n * x * x, s[0, 1] + n * x * y
            )
        )
    return out


def test_cuped_shrinks_variance_by_rho_squared_and_stays_calibrated():
    rng = np.random.default_rng(108)
    rho, runs, n = 0.7, 2000, 2000
    control = correlated_arms(rng, n, [20.0, 20.0], 10.0, rho, runs)
    treatment = correlated_arms(rng, n, [20.6, 20.0], 10.0, rho, runs)
    cuped = [cuped_test(c, t) for c, t in zip(control, treatment, strict=True)]
    plain = [welch_test(c.post, t.post) for c, t in zip(control, treatment, strict=True)]
    reported = np.mean([r.variance_reduction for r in cuped])
    assert reported == pytest.approx(rho**2, abs=0.01)  # measured 0.4902 vs 0.49
    observed = 1 - np.var([r.effect for r in cuped]) / np.var([r.effect for r in plain])
    assert observed == pytest.approx(rho**2, abs=0.04)  # measured 0.5029
    assert np.mean([r.effect for r in cuped]) == pytest.approx(
        0.03, abs=0.001
    )  # unbiased: measured 0.03037
    coverage = rate([r.ci_lower <= 0.03 <= r.ci_upper for r in cuped])
    assert 0.94 <= coverage <= 0.96  # measured 0.9505


def test_ratio_test_is_cluster_robust_where_user_level_welch_is_not():
    # Accounts are assigned; users in an account share an account effect (ICC 0.3).
    rng = np.random.default_rng(109)
    covered_ratio, covered_naive = [], []
    for _ in range(1000):
        per_arm = []
        for lift in (0.0, 0.5):
            users = rng.integers(1, 16, 200)
            account_effect = np.repeat(rng.normal(0.0, np.sqrt(0.3) * 3.0, 200), users)
            values = 10.0 + lift + account_effect + rng.normal(0.0, np.sqrt(0.7) * 3.0, users.sum())
            totals = np.add.reduceat(values, np.r_[0, np.cumsum(users)[:-1]])
            per_arm.append((values, totals, users.astype(float)))
        ratio = ratio_test(
            *(RatioStatistic.from_values(m, d) for _, m, d in per_arm), relative=False
        )
        naive = welch_test(*(MeanStatistic.from_values(v) for v, _, _ in per_arm), relative=False)
        covered_ratio.append(ratio.ci_lower <= 0.5 <= ratio.ci_upper)
        covered_naive.append(naive.ci_lower <= 0.5 <= naive.ci_upper)
    assert 0.935 <= rate(covered_ratio) <= 0.965  # measured 0.9550
    assert rate(covered_naive) < 0.85  # measured 0.7040: user-level intervals are too narrow


def test_power_at_the_mde_is_the_promised_power():
    # At the MDE for 80% power, the Welch test should reject in about 80% of experiments.
    rng = np.random.default_rng(110)
    n, mu, sigma = 1000, 10.0, 12.0
    lift = mde_relative(mu, sigma**2, n)
    control = normal_arms(rng, n, mu, sigma, 3000)
    treatment = normal_arms(rng, n, mu * (1 + lift), sigma, 3000)
    power = rate([welch_test(c, t).significant for c, t in zip(control, treatment, strict=True)])
    assert power == pytest.approx(0.80, abs=0.02)  # measured 0.8057
