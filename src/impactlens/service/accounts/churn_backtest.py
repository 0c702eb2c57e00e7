"""Back-testing the churn model in time: train up to month T, predict the next months.

For each monthly snapshot T (after the first): train on the earlier snapshots
with their labels cut at T (what was known at T), predict the accounts of
snapshot T and score the prediction against churn in [T, T + horizon) as far
as the data reaches (at least ``min_label_days``). The same folds are run on
shuffled training labels as a sanity check (their AUC should be near 0.5).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from impactlens.service.accounts.churn_features import FEATURE_NAMES, Snapshot, labels
from impactlens.service.accounts.config import ChurnConfig
from impactlens.service.accounts.panel import AccountPanel


@dataclass(frozen=True)
class FoldResult:
    snapshot: date
    n_train: int
    n_train_churned_accounts: int
    n_test: int
    n_test_churned: int
    label_days: int
    auc: float | None
    precision_at_k: float | None
    k: int
    null_auc: float | None
    skipped: str | None = None
    health_auc: float | None = None  # AUC of (100 - health score) on the same test accounts


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float
    n: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class Backtest:
    folds: tuple[FoldResult, ...]
    auc_mean: float | None  # mean over the folds that ran
    auc_pooled: float | None  # all folds' predictions together
    precision_at_k_mean: float | None
    null_auc_mean: float | None
    base_rate: float | None
    calibration: tuple[CalibrationBin, ...]
    health_auc_mean: float | None = None  # the health score ranked the same folds this well


class Model:
    """Median imputation, standardization, then the estimator; all fitted on training rows."""

    def __init__(self, config: ChurnConfig) -> None:
        self.config = config

    def fit(self, x: np.ndarray, y: np.ndarray) -> Model:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: median is NaN
            med = np.nanmedian(x, axis=0)
        self.median = np.nan_to_num(med, nan=0.0)
        filled = np.where(np.isnan(x), self.median, x)
        self.mean, sd = filled.mean(axis=0), filled.std(axis=0)
        self.sd = np.where(sd > 0, sd, 1.0)
        z = self._z(x)
        if self.config.model == "logistic":
            self.estimator = LogisticRegression(C=self.config.regularization, max_iter=2000)
        else:
            self.estimator = HistGradientBoostingClassifier(
                max_iter=80, learning_rate=0.1, max_leaf_nodes=8, random_state=self.config.seed
            )
        self.estimator.fit(z, y)
        return self

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.where(np.isnan(x), self.median, x) - self.mean) / self.sd

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._proba(self._z(x))

    def _proba(self, z: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(z)[:, 1]

    def effects(self, x: np.ndarray) -> np.ndarray:
        """(rows, features) log-odds change from the average account to this one, per feature."""
        z = self._z(x)
        if self.config.model == "logistic":
            return z * self.estimator.coef_[0]
        base = _logit(self._proba(z))
        out = np.empty_like(z)
        for j in range(z.shape[1]):
            zj = z.copy()
            zj[:, j] = 0.0
            out[:, j] = base - _logit(self._proba(zj))
        return out

    def weights(self, x: np.ndarray) -> np.ndarray:
        if self.config.model == "logistic":
            return self.estimator.coef_[0].copy()
        sample = x[: min(len(x), 2000)]
        return np.abs(self.effects(sample)).mean(axis=0)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def training_rows(panel, snaps, horizon, cut, min_days):
    xs, ys, accs = [], [], []
    for s in snaps:
        if (min(s.day + timedelta(days=horizon), cut) - s.day).days < min_days:
            continue
        xs.append(s.features)
        ys.append(labels(panel, s, horizon, cut))
        accs.append(s.accounts)
    if not xs:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0, int), np.empty(0, int)
    return np.vstack(xs), np.concatenate(ys), np.concatenate(accs)


def data_end(panel: AccountPanel) -> date:
    assert panel.as_of is not None
    return panel.as_of.date() + timedelta(days=1)  # labels are observed through the last day


def backtest(
    panel: AccountPanel,
    snaps: list[Snapshot],
    config: ChurnConfig,
    health_scores: np.ndarray | None = None,
) -> Backtest:
    """Roll the cut-off T over the snapshots; see the module doc.

    With ``health_scores`` (accounts x weeks), each fold also reports how well the
    health score of the snapshot week ranks the same accounts (AUC of 100 - score).
    """
    end, h = data_end(panel), config.horizon_days
    rng = np.random.default_rng(config.seed)
    folds, pooled_y, pooled_p = [], [], []
    for i, test in enumerate(snaps[1:], start=1):
        label_days = (min(test.day + timedelta(days=h), end) - test.day).days
        x, y, accs = training_rows(panel, snaps[:i], h, test.day, config.min_label_days)
        yt = labels(panel, test, h, end)
        k = max(1, math.ceil(config.top_k_share * len(yt)))
        churned = len(np.unique(accs[y == 1]))
        skip = None
        if label_days < config.min_label_days:
            skip = f"only {label_days} days after the snapshot are in the data"
        elif churned < config.min_churned:
            skip = f"{churned} churned accounts before the cut-off (minimum {config.min_churned})"
        elif not 0 < yt.sum() < len(yt):
            skip = "the test month has no churned (or no retained) account"
        if skip:
            folds.append(
                FoldResult(
                    test.day,
                    len(y),
                    churned,
                    len(yt),
                    int(yt.sum()),
                    label_days,
                    None,
                    None,
                    k,
                    None,
                    skip,
                )
            )
            continue
        p = Model(config).fit(x, y).predict(test.features)
        null = None
        if config.null_check:
            nulls = [
                _auc(yt, Model(config).fit(x, rng.permutation(y)).predict(test.features))
                for _ in range(config.null_repeats)
            ]
            null = float(np.mean([a for a in nulls if a is not None]))
        top = np.argsort(-p, kind="stable")[:k]
        health_auc = None
        if health_scores is not None:
            scores = health_scores[test.accounts, test.column]
            ok = ~np.isnan(scores)
            health_auc = _auc(yt[ok], 100.0 - scores[ok])
        folds.append(
            FoldResult(
                test.day,
                len(y),
                churned,
                len(yt),
                int(yt.sum()),
                label_days,
                _auc(yt, p),
                float(yt[top].mean()),
                k,
                null,
                None,
                health_auc,
            )
        )
        pooled_y.append(yt)
        pooled_p.append(p)
    ran = [f for f in folds if f.skipped is None]
    if not ran:
        return Backtest(tuple(folds), None, None, None, None, None, ())
    y_all, p_all = np.concatenate(pooled_y), np.concatenate(pooled_p)
    return Backtest(
        folds=tuple(folds),
        auc_mean=_mean(f.auc for f in ran),
        auc_pooled=_auc(y_all, p_all),
        precision_at_k_mean=_mean(f.precision_at_k for f in ran),
        null_auc_mean=_mean(f.null_auc for f in ran),
        base_rate=float(y_all.mean()),
        calibration=calibration_table(y_all, p_all, config.calibration_bins),
        health_auc_mean=_mean(f.health_auc for f in ran),
    )


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int) -> tuple[CalibrationBin, ...]:
    """Predictions cut at their quantiles into ``bins`` groups: mean prediction vs observed rate."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in range(max(len(edges) - 1, 1)):
        m = which == b
        if m.any():
            out.append(
                CalibrationBin(
                    float(edges[b]),
                    float(edges[min(b + 1, len(edges) - 1)]),
                    int(m.sum()),
                    float(p[m].mean()),
                    float(y[m].mean()),
                )
            )
    return tuple(out)
