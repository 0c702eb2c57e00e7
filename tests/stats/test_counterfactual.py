"""Counterfactual mechanics: forecast covariance, placebo origins, controls, degenerate input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from impactlens.stats.counterfactual import estimate_counterfactual
from impactlens.stats.counterfactual_model import (
    ModelSpec,
    _build,
    fit_model,
    forecast_from_origins,
)
from impactlens.stats.counterfactual_placebo import placebo_ship_indices
from impactlens.stats.impact_verdict import decide_verdict

WEEK = np.array([0.02, 0.03, 0.03, 0.02, 0.0, -0.05, -0.05])


def _series(seed: int, n: int = 112, drift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = 1000 + np.cumsum(rng.normal(drift, 5, n))
    return level * (1 + np.tile(WEEK, n // 7 + 1)[:n]) + rng.normal(0, 15, n)


def test_forecast_matches_statsmodels_forecast_and_simulation():
    # Local level: a single parameter set, so the forecast is statsmodels' own.
    y = _series(1)[:84]
    fitted = fit_model(y, None, ModelSpec(trend="local_level"))
    (ours,) = forecast_from_origins(fitted, y, None, (84,), 28)
    result = _build(fitted, y, None).filter(fitted.param_sets[0])
    reference = result.get_forecast(28)
    scale = fitted.scale
    assert ours.mean == pytest.approx(fitted.center + scale * reference.predicted_mean, rel=1e-10)
    assert np.diag(ours.cov) == pytest.approx(scale**2 * reference.var_pred_mean, rel=1e-10)
    # Off-diagonals against 20000 simulated future paths (statsmodels simulate from the
    # end-of-sample state distribution); the variance of the 28-day mean agrees to MC error.
    paths = result.simulate(28, repetitions=20000, anchor="end", rng=np.random.default_rng(7))
    simulated = np.cov(scale * paths[:, 0, :])
    assert ours.cov.sum() == pytest.approx(simulated.sum(), rel=0.04)
    # Days are strongly correlated: treating them as independent would understate the
    # sd of the average by a factor of several.
    assert ours.cov.sum() > 5 * np.trace(ours.cov)


def test_forecast_from_an_origin_equals_filtering_only_the_data_before_it():
    y = _series(2)[:84]
    fitted = fit_model(y, None, ModelSpec())
    assert len(fitted.param_sets) > 1  # the slope-noise mixture is in play
    (from_full,) = forecast_from_origins(fitted, y, None, (50,), 14)
    (from_prefix,) = forecast_from_origins(fitted, y[:50], None, (50,), 14)
    assert from_full.mean == pytest.approx(from_prefix.mean, rel=1e-9)
    assert from_full.cov == pytest.approx(from_prefix.cov, rel=1e-7)


def test_control_series_carries_the_forecast():
    # y follows 2 * x; x jumps by 50 after day 84 and y with it: no effect on y.
    rng = np.random.default_rng(0)
    x = 100 + 5 * np.sin(np.arange(112) / 5) + rng.normal(0, 3, 112)
    x[84:] += 50
    y = 2 * x + rng.normal(0, 1, 112)
    with_control = estimate_counterfactual(y, 84, controls=x, season_length=None)
    alone = estimate_counterfactual(y, 84, season_length=None)
    assert with_control.n_controls == 1
    assert alone.average_effect > 80  # without x the 100-point jump looks like an effect
    # measured: 2.42 [-0.33, 5.18]; the coefficient's own uncertainty (a state in the
    # model) is what widens the interval when x leaves its pre-period range.
    assert abs(with_control.average_effect) < 5
    assert with_control.average_effect_lower < 0 < with_control.average_effect_upper


def test_summary_figures_are_consistent():
    y = _series(4, drift=3)
    y[84:] *= 1.05
    r = estimate_counterfactual(y, 84)
    z = sps.norm.ppf(0.975)
    assert r.error is None and r.n_pre == 84 and r.n_post == 28
    assert r.average_effect == pytest.approx(r.average_observed - r.average_predicted)
    assert r.cumulative_effect == pytest.approx(28 * r.average_effect)
    assert r.average_effect_sd == pytest.approx(r.calibration.inflation * r.model_sd)
    assert r.average_effect_upper - r.average_effect == pytest.approx(z * r.average_effect_sd)
    # Only the forecast is random: relative bounds map the forecast's bounds.
    high_forecast = r.average_predicted + z * r.average_effect_sd
    assert r.relative_lower == pytest.approx(r.average_observed / high_forecast - 1)
    assert r.p_value == pytest.approx(sps.norm.sf(abs(r.average_effect) / r.average_effect_sd))
    assert r.probability_of_effect == pytest.approx(1 - r.p_value)
    assert len(r.predicted) == len(r.predicted_lower) == 28
    assert r.calibration.n_placebos == 8 and r.calibration.horizon == 28


@pytest.mark.parametrize(
    ("n_pre", "horizon", "expected"),
    [
        (84, 28, (28, (28, 32, 36, 40, 44, 48, 52, 56))),
        (56, 28, (14, (28, 30, 32, 34, 36, 38, 40, 42))),  # horizon capped at (56 - 28) / 2
        (70, 7, (7, (28, 33, 38, 43, 48, 53, 58, 63))),
        (40, 28, (0, ())),  # fewer than 7 days left for a placebo window
    ],
)
def test_placebo_ship_indices(n_pre, horizon, expected):
    assert placebo_ship_indices(n_pre, horizon, 8) == expected


def test_local_level_on_a_growing_metric_refuses_the_verdict():
    # A metric growing 0.8% a day: a flat local-level forecast misses every placebo
    # (placebo z-scores 2.1 to 2.8, inflation 2.46 > 2).
    y = _series(0, drift=8)
    result = estimate_counterfactual(y, 84, trend="local_level")
    assert result.calibration.inflation > 2.0
    assert result.validity_problem.startswith("pre-period does not predict itself")
    verdict = decide_verdict(
        result.to_effect_estimate(), expected="increase", min_effect=0.02, days_observed=28
    )
    assert verdict.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("y", "post_start", "error"),
    [
        (np.arange(50.0), 50, "empty_post_period"),
        (np.arange(40.0), 20, "pre_period_too_short"),
        (np.r_[np.arange(30.0), np.nan, np.arange(30.0)], 40, "non_finite_values"),
        (np.r_[np.full(30, 5.0), np.arange(10.0)], 30, "constant_pre_period"),
    ],
)
def test_degenerate_input_returns_error_code(y, post_start, error):
    result = estimate_counterfactual(y, post_start)
    assert result.error == error
    assert result.to_effect_estimate().error == error


def test_unknown_trend_is_a_caller_bug():
    with pytest.raises(ValueError, match="trend must be one of"):
        estimate_counterfactual(_series(0), 84, trend="quadratic")


def test_too_short_for_placebos_gets_no_verdict():
    # 40 pre days leave 12 after the 28 a placebo trains on: no 7-day placebo window fits.
    result = estimate_counterfactual(_series(6)[:68], 40)
    assert result.error is None
    assert result.calibration.n_placebos == 0
    assert result.validity_problem == (
        "pre-period too short to check itself: 40 days, placebos need 42"
    )
