"""Difference-in-differences: agreement with independent references and degenerate input."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from impactlens.stats.did import ActorPanel, estimate_did


def _panels(seed: int = 0, n_e: int = 50, n_u: int = 70):
    rng = np.random.default_rng(seed)
    pre_e, pre_u = rng.normal(10, 2, n_e), rng.normal(10, 2, n_u)
    post_e = pre_e + rng.normal(1.0, 1.0, n_e)
    post_u = pre_u + rng.normal(0.0, 1.5, n_u)
    return pre_e, post_e, pre_u, post_u


def test_doc_example_numbers():
    # Hand computation: exposed change (3+4+5+7)/4 - 2.5 = 2.25, unexposed 2.75 - 2.5 = 0.25.
    exposed = ActorPanel(pre=np.array([1.0, 2, 3, 4]), post=np.array([3.0, 4, 5, 7]))
    unexposed = ActorPanel(pre=np.array([1.0, 2, 3, 4]), post=np.array([1.0, 2, 4, 4]))
    result = estimate_did(exposed, unexposed)
    assert result.estimate == pytest.approx(2.0)
    # counterfactual post of the exposed = exposed pre + unexposed change = 2.5 + 0.25
    assert result.counterfactual_post == pytest.approx(2.75)
    assert result.relative == pytest.approx(2.0 / 2.75)


def test_naive_se_is_welch_t_test_on_changes():
    # Reference: scipy's Welch t-test on per-actor changes (an independent implementation).
    pre_e, post_e, pre_u, post_u = _panels()
    result = estimate_did(ActorPanel(post=post_e, pre=pre_e), ActorPanel(post=post_u, pre=pre_u))
    welch = sps.ttest_ind(post_e - pre_e, post_u - pre_u, equal_var=False)
    interval = welch.confidence_interval()
    assert result.method == "did_mean_welch"
    assert result.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    assert result.df == pytest.approx(welch.df, rel=1e-9)
    assert (result.lower, result.upper) == pytest.approx((interval.low, interval.high), rel=1e-9)


def test_cluster_se_matches_statsmodels_cluster_robust_ols():
    # Reference: OLS of the change on an exposure dummy with statsmodels' cluster-robust
    # covariance (CR1). Ours omits CR1's (N-1)/(N-K) factor, so V_sm = V_ours * (N-1)/(N-2).
    pre_e, post_e, pre_u, post_u = _panels()
    rng = np.random.default_rng(5)
    clusters_e, clusters_u = rng.integers(0, 15, 50), rng.integers(0, 15, 70)
    result = estimate_did(
        ActorPanel(post=post_e, pre=pre_e, clusters=clusters_e),
        ActorPanel(post=post_u, pre=pre_u, clusters=clusters_u),
    )
    change = np.concatenate([post_e - pre_e, post_u - pre_u])
    design = sm.add_constant(np.r_[np.ones(50), np.zeros(70)])
    ols = sm.OLS(change, design).fit(
        cov_type="cluster", cov_kwds={"groups": np.r_[clusters_e, clusters_u]}
    )
    assert result.method == "did_mean_cluster_robust"
    assert result.estimate == pytest.approx(ols.params[1], rel=1e-12)
    assert result.se**2 * 119 / 118 == pytest.approx(ols.bse[1] ** 2, rel=1e-9)
    assert result.df == 14  # 15 shared clusters - 1


def test_relative_interval_matches_bootstrap():
    # Reference: a percentile bootstrap over actors (4000 resamples) of the same ratio.
    pre_e, post_e, pre_u, post_u = _panels(seed=3, n_e=400, n_u=400)
    result = estimate_did(ActorPanel(post=post_e, pre=pre_e), ActorPanel(post=post_u, pre=pre_u))
    rng = np.random.default_rng(11)
    draws = []
    for _ in range(4000):
        i, j = rng.integers(0, 400, 400), rng.integers(0, 400, 400)
        did = (post_e[i] - pre_e[i]).mean() - (post_u[j] - pre_u[j]).mean()
        draws.append(did / (pre_e[i].mean() + (post_u[j] - pre_u[j]).mean()))
    assert result.relative_se == pytest.approx(np.std(draws), rel=0.06)


def test_ratio_of_sums_point_estimate():
    # Hand computation: exposed clicks/searches 10/20 -> 18/24, unexposed 10/20 -> 11/20.
    exposed = ActorPanel(
        pre=np.array([4.0, 6]),
        pre_denominator=np.array([10.0, 10]),
        post=np.array([8.0, 10]),
        post_denominator=np.array([12.0, 12]),
    )
    unexposed = ActorPanel(
        pre=np.array([5.0, 5]),
        pre_denominator=np.array([10.0, 10]),
        post=np.array([5.0, 6]),
        post_denominator=np.array([10.0, 10]),
    )
    result = estimate_did(exposed, unexposed)
    assert result.method == "did_ratio_of_sums_welch"
    assert result.estimate == pytest.approx((0.75 - 0.5) - (0.55 - 0.5))
    assert result.counterfactual_post == pytest.approx(0.5 + 0.05)


def test_two_sample_without_pre_period_is_welch_on_post_values():
    # Holdout use: no pre-period. Reference: scipy Welch on the post values.
    _, post_e, _, post_u = _panels(seed=8)
    result = estimate_did(ActorPanel(post=post_e), ActorPanel(post=post_u))
    welch = sps.ttest_ind(post_e, post_u, equal_var=False)
    assert result.method == "two_sample_mean_welch"
    assert result.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    assert result.relative == pytest.approx(post_e.mean() / post_u.mean() - 1)
    assert np.isnan(result.exposed_pre)


def test_pre_trend_check_flags_diverging_groups():
    rng = np.random.default_rng(2)
    first_e, first_u = rng.normal(10, 1, 200), rng.normal(10, 1, 200)
    # The exposed group already grew by 1 between the pre-period halves; the unexposed did not.
    second_e, second_u = first_e + 1 + rng.normal(0, 0.5, 200), first_u + rng.normal(0, 0.5, 200)
    pre_e, pre_u = (first_e + second_e) / 2, (first_u + second_u) / 2
    post_e, post_u = second_e + 1, second_u
    trend = (ActorPanel(pre=first_e, post=second_e), ActorPanel(pre=first_u, post=second_u))
    result = estimate_did(
        ActorPanel(pre=pre_e, post=post_e), ActorPanel(pre=pre_u, post=post_u), pre_trend=trend
    )
    assert result.pre_trend.status == "diverging"
    assert result.pre_trend.estimate == pytest.approx(1.0, abs=0.15)
    assert "trended apart" in result.validity_problem
    assert result.to_effect_estimate().validity_problem == result.validity_problem


def test_pre_trend_check_passes_parallel_groups():
    rng = np.random.default_rng(4)
    first_e, first_u = rng.normal(10, 1, 200), rng.normal(12, 1, 200)
    second_e, second_u = first_e + rng.normal(0, 0.5, 200), first_u + rng.normal(0, 0.5, 200)
    trend = (ActorPanel(pre=first_e, post=second_e), ActorPanel(pre=first_u, post=second_u))
    result = estimate_did(
        ActorPanel(pre=second_e, post=second_e + 1),
        ActorPanel(pre=second_u, post=second_u + rng.normal(0, 0.1, 200)),
        pre_trend=trend,
    )
    assert result.pre_trend.status == "parallel"
    assert result.validity_problem is None


@pytest.mark.parametrize(
    ("exposed", "unexposed", "error"),
    [
        (ActorPanel(post=np.array([1.0])), ActorPanel(post=np.array([1.0, 2])), "too_few_actors"),
        (
            ActorPanel(post=np.array([1.0, np.nan])),
            ActorPanel(post=np.array([1.0, 2])),
            "non_finite_values",
        ),
        (
            ActorPanel(post=np.array([1.0, 1])),
            ActorPanel(post=np.array([2.0, 2])),
            "zero_variance",
        ),
        (
            ActorPanel(post=np.array([1.0, 2]), post_denominator=np.array([0.0, 0])),
            ActorPanel(post=np.array([1.0, 2]), post_denominator=np.array([1.0, 1])),
            "zero_denominator",
        ),
    ],
)
def test_degenerate_input_returns_error_code(exposed, unexposed, error):
    result = estimate_did(exposed, unexposed)
    assert result.error == error
    assert result.to_effect_estimate().error == error


def test_misaligned_arrays_are_a_caller_bug():
    with pytest.raises(ValueError, match="one value per actor"):
        estimate_did(
            ActorPanel(post=np.ones(3), pre=np.ones(2)), ActorPanel(post=np.ones(3), pre=np.ones(3))
        )
