"""Counterfactual for a release shipped to everyone, in the spirit of CausalImpact.

Fit a structural time-series model (trend + weekly pattern, optional control
series) to the daily metric before the ship date, forecast what the metric
would have been afterwards, and read the effect as observed minus forecast.
Unlike a plain CausalImpact run, the interval is calibrated on placebo
releases inside the pre-period (`counterfactual_placebo`), and the result
refuses to support a verdict when the pre-period does not predict itself.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = 100 + rng.normal(0, 1, 112)
    >>> y[84:] += 10
    >>> result = estimate_counterfactual(y, post_start=84, season_length=None)
    >>> 8 < result.average_effect < 12
    True
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats as sps

from impactlens.stats.counterfactual_model import (
    TRENDS,
    Forecast,
    ModelSpec,
    fit_model,
    forecast_from_origins,
)
from impactlens.stats.counterfactual_placebo import (
    MIN_TRAIN_DAYS,
    PlaceboCalibration,
    placebo_calibration,
    placebo_ship_indices,
)
from impactlens.stats.impact_estimate import EffectEstimate

MIN_PRE_DAYS = 21
DEFAULT_MAX_INFLATION = 2.0
_NO_CALIBRATION = PlaceboCalibration(
    0, 0, 1.0, float("nan"), float("nan"), float("nan"), (), (), ()
)


@dataclass(frozen=True)
class CounterfactualResult:
    """Observed vs forecast post-period, with calibrated (1 - alpha) intervals.

    Per-day series are tuples over the post-period. `average_effect` is
    mean(observed) - mean(forecast); `relative` is average_effect /
    mean(forecast). `*_lower`/`*_upper` include the placebo inflation;
    `model_sd` is the average-effect sd before it. `probability_of_effect` is
    1 - `p_value`, with `p_value` the one-sided tail mass beyond zero, as
    CausalImpact reports it.
    """

    method: str
    error: str | None
    alpha: float = 0.05
    n_pre: int = 0
    n_post: int = 0
    n_controls: int = 0
    observed: tuple[float, ...] = ()
    predicted: tuple[float, ...] = ()
    predicted_lower: tuple[float, ...] = ()
    predicted_upper: tuple[float, ...] = ()
    average_observed: float = float("nan")
    average_predicted: float = float("nan")
    average_effect: float = float("nan")
    average_effect_sd: float = float("nan")
    average_effect_lower: float = float("nan")
    average_effect_upper: float = float("nan")
    cumulative_effect: float = float("nan")
    cumulative_effect_lower: float = float("nan")
    cumulative_effect_upper: float = float("nan")
    relative: float = float("nan")
    relative_lower: float = float("nan")
    relative_upper: float = float("nan")
    p_value: float = float("nan")
    probability_of_effect: float = float("nan")
    model_sd: float = float("nan")
    calibration: PlaceboCalibration = _NO_CALIBRATION
    fit_problem: str | None = None
    validity_problem: str | None = None

    def to_effect_estimate(self) -> EffectEstimate:
        """The relative effect and its calibrated interval, for `decide_verdict`."""
        return EffectEstimate(
            relative=self.relative,
            lower=self.relative_lower,
            upper=self.relative_upper,
            method=self.method,
            alpha=self.alpha,
            se_shrinks_with_days=False,
            error=self.error,
            validity_problem=self.validity_problem,
        )


def estimate_counterfactual(
    y: np.ndarray,
    post_start: int,
    *,
    controls: np.ndarray | None = None,
    trend: str = "local_linear",
    season_length: int | None = 7,
    alpha: float = 0.05,
    n_placebos: int = 8,
    max_inflation: float = DEFAULT_MAX_INFLATION,
) -> CounterfactualResult:
    """Estimate a release's effect on a daily series y; days from `post_start` on are post.

    `controls` is an (n_days, k) array of series the release should not move.
    `n_placebos=0` switches the calibration off (the naive CausalImpact-like
    model, kept for comparison). A placebo inflation above `max_inflation`
    sets `validity_problem`: the verdict then refuses to decide.
    """
    if trend not in TRENDS:  # a caller bug, not degenerate data
        raise ValueError(f"trend must be one of {sorted(TRENDS)}")
    y = np.asarray(y, dtype=float).ravel()
    x = None if controls is None else np.asarray(controls, dtype=float).reshape(len(y), -1)
    spec = ModelSpec(trend=trend, season_length=season_length)
    n_controls = 0 if x is None else x.shape[1]
    method = f"structural_time_series[{spec.describe()}, controls={n_controls}]" + (
        f"+placebo_calibration[{n_placebos}]" if n_placebos else ""
    )
    n_pre, n_post = post_start, len(y) - post_start
    base: dict[str, Any] = dict(
        method=method, alpha=alpha, n_pre=n_pre, n_post=n_post, n_controls=n_controls
    )
    problem = _input_problem(y, x, n_pre, n_post)
    if problem:
        return CounterfactualResult(error=problem, **base)

    y_pre, y_post = y[:post_start], y[post_start:]
    x_pre = None if x is None else x[:post_start]
    placebo_horizon, starts = placebo_ship_indices(n_pre, n_post, n_placebos)
    try:
        fitted = fit_model(y_pre, x_pre, spec)
        # The real forecast (origin = ship day) and every placebo forecast
        # come from the same filter passes; the placebo horizon differs.
        (prediction,) = forecast_from_origins(fitted, y_pre, x, (n_pre,), n_post)
        placebo_forecasts = forecast_from_origins(fitted, y_pre, x, starts, placebo_horizon)
    except (np.linalg.LinAlgError, ValueError):
        # A singular fit on degenerate data (e.g. a control identical to y) is
        # a property of the data, not a bug in the caller.
        return CounterfactualResult(error="model_fit_failed", **base)
    calibration = placebo_calibration(y_pre, starts, placebo_horizon, placebo_forecasts, alpha)
    result = _summarise(y_post, prediction, calibration, fitted.fit_problem, max_inflation, base)
    if n_placebos > 0 and not starts:
        # Without placebos nothing guards against the over-confident forecast
        # this module exists to avoid, so the figures get no verdict.
        problem = (
            f"pre-period too short to check itself: {n_pre} days, placebos need "
            f"{MIN_TRAIN_DAYS + 14}"
        )
        result = replace(result, validity_problem=problem)
    return result


def _input_problem(y: np.ndarray, x: np.ndarray | None, n_pre: int, n_post: int) -> str | None:
    if n_post < 1:
        return "empty_post_period"
    if n_pre < MIN_PRE_DAYS:
        return "pre_period_too_short"
    if not np.all(np.isfinite(y)) or (x is not None and not np.all(np.isfinite(x))):
        return "non_finite_values"
    if np.ptp(y[:n_pre]) == 0.0:
        return "constant_pre_period"
    return None


def _summarise(
    y_post: np.ndarray,
    prediction: Forecast,
    calibration: PlaceboCalibration,
    fit_problem: str | None,
    max_inflation: float,
    base: dict[str, Any],
) -> CounterfactualResult:
    alpha = base["alpha"]
    mean, cov = prediction.mean, prediction.cov
    n_post = len(y_post)
    z_crit = float(sps.norm.ppf(1.0 - alpha / 2.0))
    inflation = calibration.inflation
    model_sd = float(np.sqrt(np.sum(cov))) / n_post
    sd = inflation * model_sd
    daily_sd = inflation * np.sqrt(np.diag(cov))
    average_observed = float(np.mean(y_post))
    average_predicted = float(np.mean(mean))
    effect = average_observed - average_predicted
    # Only the forecast is random; mean(observed) is a fixed number, so the
    # relative interval maps the forecast's interval through obs / forecast - 1.
    predicted_low, predicted_high = average_predicted - z_crit * sd, average_predicted + z_crit * sd
    relative = rel_low = rel_high = float("nan")
    if predicted_low > 0:
        relative = effect / average_predicted
        rel_low = average_observed / predicted_high - 1.0
        rel_high = average_observed / predicted_low - 1.0
    p_value = float(sps.norm.sf(abs(effect) / sd)) if sd > 0 else 0.0
    validity = None
    if inflation > max_inflation:
        validity = (
            "pre-period does not predict itself: placebo forecasts missed by "
            f"{calibration.rms_z:.1f} times their own standard error "
            f"(MAPE {calibration.mape:.1%})"
        )
    return CounterfactualResult(
        error=None,
        observed=tuple(float(v) for v in y_post),
        predicted=tuple(float(v) for v in mean),
        predicted_lower=tuple(float(v) for v in mean - z_crit * daily_sd),
        predicted_upper=tuple(float(v) for v in mean + z_crit * daily_sd),
        average_observed=average_observed,
        average_predicted=average_predicted,
        average_effect=effect,
        average_effect_sd=sd,
        average_effect_lower=effect - z_crit * sd,
        average_effect_upper=effect + z_crit * sd,
        cumulative_effect=effect * n_post,
        cumulative_effect_lower=(effect - z_crit * sd) * n_post,
        cumulative_effect_upper=(effect + z_crit * sd) * n_post,
        relative=relative,
        relative_lower=rel_low,
        relative_upper=rel_high,
        p_value=p_value,
        probability_of_effect=1.0 - p_value,
        model_sd=model_sd,
        calibration=calibration,
        fit_problem=fit_problem,
        validity_problem=validity,
        **base,
    )
