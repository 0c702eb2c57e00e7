"""Placebo releases inside the pre-period: does the pre-period predict itself?

A structural time-series model fitted by maximum likelihood takes its own
variances at face value. On a drifting metric those are too small, and a
model with no control series then calls most releases that changed nothing
significant. The defence is empirical: pretend the release shipped on
several earlier dates, forecast the days that followed from the data before
each, and compare the forecast error with the model's own standard error.

With z_k = (placebo average effect) / (model's sd of that average), a well
calibrated model has z_k ~ N(0, 1). The inflation factor
lambda = max(1, sqrt(mean(z_k^2))) widens the real interval by the factor the
model was over-confident on its own history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from impactlens.stats.counterfactual_model import Forecast

MIN_TRAIN_DAYS = 28


@dataclass(frozen=True)
class PlaceboCalibration:
    """Out-of-sample behaviour of the model on pseudo-ship dates in the pre-period.

    `mape` is the mean absolute percentage error of the daily placebo
    forecasts; `false_positive_rate` the share of placebos whose uncalibrated
    (1 - alpha) interval of the average effect excluded zero; `inflation` the
    factor lambda applied to the real forecast's standard errors.
    """

    n_placebos: int
    horizon: int
    inflation: float
    rms_z: float
    mape: float
    false_positive_rate: float
    ship_indices: tuple[int, ...]
    relative_effects: tuple[float, ...]
    z_scores: tuple[float, ...]
    error: str | None = None


def placebo_ship_indices(n_pre: int, horizon: int, n_placebos: int) -> tuple[int, tuple[int, ...]]:
    """Choose the placebo horizon and pseudo-ship indices inside a pre-period of n_pre days.

    Each placebo is fitted on at least MIN_TRAIN_DAYS days. The placebo
    horizon is the real horizon, capped at half of the span left after that
    minimum so the placebos do not all test the same few days; the dates are
    spread evenly from the latest possible one backwards.
    """
    available = n_pre - MIN_TRAIN_DAYS
    placebo_horizon = min(horizon, available // 2)
    if placebo_horizon < 7 or n_placebos < 1:
        return 0, ()
    latest = n_pre - placebo_horizon
    span = latest - MIN_TRAIN_DAYS
    count = min(n_placebos, span + 1)
    if count == 1:
        return placebo_horizon, (latest,)
    starts = np.round(np.linspace(latest, MIN_TRAIN_DAYS, count)).astype(int)
    return placebo_horizon, tuple(sorted({int(s) for s in starts}))


def placebo_calibration(
    y_pre: np.ndarray,
    starts: tuple[int, ...],
    placebo_horizon: int,
    forecasts: list[Forecast],
    alpha: float,
) -> PlaceboCalibration:
    """Compare each placebo forecast with what happened and derive the inflation lambda.

    `forecasts[k]` is the forecast of days starts[k] .. starts[k] + horizon - 1
    made from the data before starts[k] (see `placebo_ship_indices`).
    """
    if not starts:
        return PlaceboCalibration(0, 0, 1.0, float("nan"), float("nan"), float("nan"), (), (), ())
    z_crit = float(sps.norm.ppf(1.0 - alpha / 2.0))
    z_scores, relative, daily_ape = [], [], []
    for start, prediction in zip(starts, forecasts, strict=True):
        actual = y_pre[start : start + placebo_horizon]
        effect = float(np.mean(actual) - np.mean(prediction.mean))
        sd = float(np.sqrt(np.sum(prediction.cov))) / placebo_horizon
        z_scores.append(effect / sd if sd > 0 else float("inf"))
        predicted = float(np.mean(prediction.mean))
        relative.append(effect / predicted if predicted != 0 else float("nan"))
        with np.errstate(divide="ignore", invalid="ignore"):
            daily_ape.append(float(np.mean(np.abs(actual - prediction.mean) / np.abs(actual))))
    z = np.asarray(z_scores)
    rms_z = float(np.sqrt(np.mean(z**2)))
    return PlaceboCalibration(
        n_placebos=len(starts),
        horizon=placebo_horizon,
        inflation=max(1.0, rms_z),
        rms_z=rms_z,
        mape=float(np.mean(daily_ape)),
        false_positive_rate=float(np.mean(np.abs(z) > z_crit)),
        ship_indices=starts,
        relative_effects=tuple(relative),
        z_scores=tuple(float(v) for v in z),
    )
