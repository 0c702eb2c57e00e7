"""The structural time-series model behind the release counterfactual.

A local linear trend (or local level) plus a fixed weekly pattern, optionally
with control series as regressors, fitted by maximum likelihood with
statsmodels' `UnobservedComponents` on the pre-period only.

Two things make the forecast honest where a plain fit is not:

* The post-period forecast comes with its *joint* covariance across days:
  the error of a trend forecast is shared by every later day, so summing
  daily variances as if days were independent understates the error of an
  average.
* The slope's noise variance is integrated over instead of plugged in. Its
  maximum-likelihood estimate from two or three months of data is often near
  zero even when the trend wanders, and a 4-week forecast with a frozen slope
  is then far too confident (14% false positives on null releases in our
  simulation). The forecast is a likelihood-weighted mixture over a grid of
  slope standard deviations with a uniform prior (`SLOPE_GRID_POINTS`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.tsa.statespace.structural import UnobservedComponents

TRENDS = {"local_linear": "local linear trend", "local_level": "local level"}
SLOPE_GRID_POINTS = 7
# Largest slope sd on the grid, relative to the sd of the one-step noise
# (irregular + level): the slope may change by at most a twentieth of the daily
# noise per day. Chosen by simulation, see docs/release-impact-statistics.md.
SLOPE_SD_MAX_RATIO = 0.05
# Grid points with a smaller posterior weight are dropped from the forecast.
MIN_WEIGHT = 1e-3


@dataclass(frozen=True)
class ModelSpec:
    """Which structural model to fit: trend kind and season length (None = no season).

    The weekly pattern is deterministic (fixed effects per weekday): with two
    to three months of history a drifting seasonal pattern cannot be told
    apart from noise, and its extra variance parameter made fits unstable.
    """

    trend: str = "local_linear"
    season_length: int | None = 7

    def describe(self) -> str:
        """Short name used in result `method` strings."""
        season = f"+season{self.season_length}" if self.season_length else ""
        return f"{self.trend}{season}"


@dataclass(frozen=True, eq=False)
class FittedModel:
    """Standardisation, parameter sets and their weights, fitted on the pre-period."""

    spec: ModelSpec
    center: float
    scale: float
    x_center: np.ndarray | None
    x_scale: np.ndarray | None
    param_sets: tuple[np.ndarray, ...]
    weights: np.ndarray
    converged: bool
    fit_problem: str | None


@dataclass(frozen=True, eq=False)
class Forecast:
    """Forecast of h days after a sample: mean and joint covariance, original scale."""

    mean: np.ndarray
    cov: np.ndarray


def fit_model(y: np.ndarray, controls: np.ndarray | None, spec: ModelSpec) -> FittedModel:
    """Fit the model to `y` by maximum likelihood, then weight the slope-noise grid.

    Series are standardised with their pre-period mean and sd (as CausalImpact
    does) so the optimiser sees unit-scale variances.
    """
    center, scale = float(np.mean(y)), float(np.std(y)) or 1.0
    x_center = x_scale = None
    if controls is not None:
        x_center = controls.mean(axis=0)
        x_scale = np.where(controls.std(axis=0) > 0, controls.std(axis=0), 1.0)
    fitted = FittedModel(spec, center, scale, x_center, x_scale, (), np.ones(0), True, None)
    model = _build(fitted, y, controls)
    with warnings.catch_warnings(record=True) as caught:
        # Optimiser warnings are expected on short series with a variance at
        # zero; they are reported in `fit_problem`, never raised to the caller.
        warnings.simplefilter("always")
        result, converged = _maximise(model)
        param_sets, weights = _slope_grid(model, np.asarray(result.params), spec)
    problems = sorted({type(w.message).__name__ for w in caught})
    if not converged:
        problems.append("optimizer did not converge")
    return FittedModel(
        spec,
        center,
        scale,
        x_center,
        x_scale,
        param_sets,
        weights,
        converged,
        "; ".join(problems) or None,
    )


def forecast_from_origins(
    fitted: FittedModel,
    y: np.ndarray,
    controls: np.ndarray | None,
    origins: Sequence[int],
    horizon: int,
) -> list[Forecast]:
    """Forecast `horizon` days from each origin t (the first forecast day), given y[:t].

    One Kalman filter pass over `y` per parameter set serves every origin:
    the filter's predicted state for day t is exactly the state a model
    filtered on y[:t] would start its forecast from. `controls` covers every
    forecast day (rows up to max(origins) + horizon). The mixture over
    parameter sets is summarised by its first two moments:
    mean = sum_j w_j m_j, cov = sum_j w_j (C_j + (m_j - mean)(m_j - mean)').
    """
    if not origins:
        return []
    n = len(y)
    model = _build(fitted, y, None if controls is None else controls[:n])
    exog = None if controls is None else (controls - fitted.x_center) / fitted.x_scale
    per_set = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for params in fitted.param_sets:
            filtered = model.filter(params).filter_results
            powers = _transition_powers(filtered, horizon)
            paths = []
            for t in origins:
                designs = _future_designs(filtered, exog, t, horizon)
                loadings = np.einsum("hs,hst->ht", designs, powers)
                mean = loadings @ filtered.predicted_state[:, t]
                paths.append((mean, _joint_forecast_cov(filtered, designs, powers, t)))
            per_set.append(paths)
    w = fitted.weights
    result = []
    for k in range(len(origins)):
        means = np.asarray([paths[k][0] for paths in per_set])
        covs = np.asarray([paths[k][1] for paths in per_set])
        mix_mean = w @ means
        spread = means - mix_mean
        mix_cov = np.einsum("j,jhk->hk", w, covs) + np.einsum("j,jh,jk->hk", w, spread, spread)
        result.append(
            Forecast(mean=fitted.center + fitted.scale * mix_mean, cov=fitted.scale**2 * mix_cov)
        )
    return result


def _build(fitted: FittedModel, y: np.ndarray, controls: np.ndarray | None) -> Any:
    exog = None if controls is None else (controls - fitted.x_center) / fitted.x_scale
    return UnobservedComponents(
        (y - fitted.center) / fitted.scale,
        level=TRENDS[fitted.spec.trend],
        seasonal=fitted.spec.season_length,
        stochastic_seasonal=False,
        exog=exog,
        mle_regression=False,
    )


def _maximise(model: UnobservedComponents) -> tuple[Any, bool]:
    """Maximum likelihood fit; returns (results, converged).

    BFGS reaches the same optimum as statsmodels' default L-BFGS in about half
    the time on these short series. When a variance sits at zero it can stop
    on "precision loss"; L-BFGS restarted from that point then confirms (or
    improves) the optimum. The parameter covariance is never used.
    """
    result = model.fit(disp=False, method="bfgs", cov_type="none", gtol=1e-4, maxiter=200)
    if result.mle_retvals.get("converged", True):
        return result, True
    result = model.fit(result.params, disp=False, method="lbfgs", cov_type="none")
    return result, bool(result.mle_retvals.get("converged", True))


def _slope_grid(
    model: UnobservedComponents, params: np.ndarray, spec: ModelSpec
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Parameter sets over a grid of slope sd with weights prop. to prior x likelihood.

    sigma_slope_j = j / (J - 1) * SLOPE_SD_MAX_RATIO * sqrt(sigma2_irregular +
    sigma2_level), j = 0..J-1, uniform prior on the grid; the other parameters
    stay at their maximum-likelihood values.
    """
    if spec.trend != "local_linear":
        return (params,), np.ones(1)
    names = model.param_names
    slope = names.index("sigma2.trend")
    noise = params[names.index("sigma2.irregular")] + params[names.index("sigma2.level")]
    sd_max = SLOPE_SD_MAX_RATIO * np.sqrt(max(noise, 1e-6))
    sets, loglikes = [], []
    for sd in np.linspace(0.0, sd_max, SLOPE_GRID_POINTS):
        candidate = params.copy()
        candidate[slope] = sd**2
        sets.append(candidate)
        loglikes.append(model.loglike(candidate))
    loglikes_arr = np.asarray(loglikes)
    weights = np.exp(loglikes_arr - loglikes_arr.max())
    weights /= weights.sum()
    keep = weights >= MIN_WEIGHT
    kept = weights[keep] / weights[keep].sum()
    return tuple(s for s, k in zip(sets, keep, strict=True) if k), kept


def _transition_powers(filtered: Any, horizon: int) -> np.ndarray:
    """T^0 .. T^(horizon-1) of the (time-invariant) transition matrix."""
    transition = filtered.transition[:, :, 0]
    powers = np.empty((horizon, *transition.shape))
    powers[0] = np.eye(transition.shape[0])
    for i in range(1, horizon):
        powers[i] = powers[i - 1] @ transition
    return powers


def _future_designs(
    filtered: Any, exog: np.ndarray | None, origin: int, horizon: int
) -> np.ndarray:
    """Design row Z_t of each forecast day; the regression states load on that day's controls.

    The coefficients of the control series are the last states (statsmodels'
    `mle_regression=False`), so their estimation error is part of the state
    covariance and reaches the forecast interval.
    """
    base = filtered.design[0, :, 0]
    designs = np.tile(base, (horizon, 1))
    if exog is not None:
        designs[:, -exog.shape[1] :] = exog[origin : origin + horizon]
    return designs


def _joint_forecast_cov(
    filtered: Any, designs: np.ndarray, powers: np.ndarray, origin: int
) -> np.ndarray:
    """Cov(y_i, y_j) = Z_i P_i (T^(j-i))' Z_j' + H [i = j], P_{i+1} = T P_i T' + R Q R'.

    P_0 is the filter's predicted state covariance for the origin day; the
    recursion is the Kalman forecast step without observations.
    """
    transition = powers[1] if len(powers) > 1 else np.eye(powers.shape[1])
    selection = filtered.selection[:, :, 0]
    state_noise = selection @ filtered.state_cov[:, :, 0] @ selection.T
    obs_var = float(filtered.obs_cov[0, 0, 0])
    state_cov = filtered.predicted_state_cov[:, :, origin]
    horizon = len(designs)
    cov = np.empty((horizon, horizon))
    for i in range(horizon):
        # Row j >= i of Z_j T^(j-i): how day j loads on the state of day i.
        ahead = np.einsum("js,jst->jt", designs[i:], powers[: horizon - i])
        column = ahead @ state_cov @ designs[i]
        cov[i, i:] = column
        cov[i:, i] = column
        state_cov = transition @ state_cov @ transition.T + state_noise
    cov[np.diag_indices(horizon)] += obs_var
    return cov
