"""Churn risk: a model of the workspace's own churn history, back-tested before it is shown.

Rows are (account, monthly snapshot) with the features of ``churn_features``;
the label is churn within ``horizon_days`` of the snapshot. The model is a
logistic regression on standardized features (default) or gradient boosting.

Back-test (time-based, nothing from after the cut-off is used): for each
snapshot T, train on the earlier snapshots with their labels cut at T (what
was known at T), predict the accounts of snapshot T, and score against churn
in [T, T + horizon) as far as the data reaches (at least ``min_label_days``).
Every model is reported with its folds' AUC, precision at top-k, a calibration
table and, as a sanity check, the AUC of the same procedure on shuffled labels.

Below ``min_churned`` churned accounts nothing is trained: the result says so
and callers rank by the health score instead.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from impactlens.service.accounts.churn_features import (
    FEATURE_LABELS,
    FEATURE_NAMES,
    FeatureReader,
    Snapshot,
    labels,
    monthly_snapshots,
    score_column,
)
from impactlens.service.accounts.config import ChurnConfig, HealthConfig
from impactlens.service.accounts.panel import AccountPanel, build_panel
from impactlens.warehouse import Warehouse


@dataclass(frozen=True)
class Driver:
    """One feature's push on an account's churn odds, relative to an average account."""

    feature: str
    label: str
    value: float | None  # the account's value of the feature
    effect: float  # change in log-odds of churn; > 0 raises the risk

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "effect": round(self.effect, 4)}


@dataclass(frozen=True)
class FeatureWeight:
    """A feature's weight in the model (standardized coefficient, or mean |effect| for boosting)."""

    feature: str
    label: str
    weight: float


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


@dataclass(frozen=True)
class AccountRisk:
    account_id: str
    probability: float
    drivers: tuple[Driver, ...]  # the features that raise the risk most, strongest first


@dataclass(frozen=True)
class ChurnModelResult:
    """A trained and back-tested churn model, or why there is none."""

    status: str  # trained | insufficient_data | no_data
    method: str
    message: str
    horizon_days: int
    min_churned: int
    n_churned_accounts: int
    n_training_rows: int
    as_of: datetime | None
    weights: tuple[FeatureWeight, ...] = ()
    backtest: Backtest | None = None
    risks: tuple[AccountRisk, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def trained(self) -> bool:
        return self.status == "trained"

    def risk_of(self, account_id: str) -> AccountRisk | None:
        return next((r for r in self.risks if r.account_id == account_id), None)

    def to_dict(self, *, with_risks: bool = True) -> dict[str, object]:
        out = asdict(self)
        if not with_risks:
            out.pop("risks")
        return out


class _Model:
    """Median imputation, standardization, then the estimator; all fitted on training rows."""

    def __init__(self, config: ChurnConfig) -> None:
        self.config = config

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Model:
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
                max_iter=150, learning_rate=0.05, max_leaf_nodes=15, random_state=self.config.seed
            )
        # Account-month tables are small: OpenMP threads cost more than they save (and
        # contend badly on a busy machine), so boosting runs on one thread.
        with threadpool_limits(1, user_api="openmp"):
            self.estimator.fit(z, y)
        return self

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.where(np.isnan(x), self.median, x) - self.mean) / self.sd

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._proba(self._z(x))

    def _proba(self, z: np.ndarray) -> np.ndarray:
        with threadpool_limits(1, user_api="openmp"):
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


def _training_rows(panel, snaps, horizon, cut, min_days):
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


def _data_end(panel: AccountPanel) -> date:
    assert panel.as_of is not None
    return panel.as_of.date() + timedelta(days=1)  # labels are observed through the last day


def backtest(panel: AccountPanel, snaps: list[Snapshot], config: ChurnConfig) -> Backtest:
    """Roll the cut-off T over the snapshots; see the module doc."""
    end, h = _data_end(panel), config.horizon_days
    rng = np.random.default_rng(config.seed)
    folds, pooled_y, pooled_p = [], [], []
    for i, test in enumerate(snaps[1:], start=1):
        label_days = (min(test.day + timedelta(days=h), end) - test.day).days
        x, y, accs = _training_rows(panel, snaps[:i], h, test.day, config.min_label_days)
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
        p = _Model(config).fit(x, y).predict(test.features)
        null = None
        if config.null_check:
            null = _auc(yt, _Model(config).fit(x, rng.permutation(y)).predict(test.features))
        top = np.argsort(-p, kind="stable")[:k]
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
            )
        )
        pooled_y.append(yt)
        pooled_p.append(p)
    ran = [f for f in folds if f.skipped is None]
    if not ran:
        return Backtest(tuple(folds), None, None, None, None, None, ())
    y_all, p_all = np.concatenate(pooled_y), np.concatenate(pooled_p)
    nulls = [f.null_auc for f in ran if f.null_auc is not None]
    return Backtest(
        folds=tuple(folds),
        auc_mean=float(np.mean([f.auc for f in ran])),
        auc_pooled=_auc(y_all, p_all),
        precision_at_k_mean=float(np.mean([f.precision_at_k for f in ran])),
        null_auc_mean=float(np.mean(nulls)) if nulls else None,
        base_rate=float(y_all.mean()),
        calibration=calibration_table(y_all, p_all, config.calibration_bins),
    )


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


def fit_churn_model(
    warehouse: Warehouse,
    config: ChurnConfig | None = None,
    health: HealthConfig | None = None,
    *,
    panel: AccountPanel | None = None,
) -> ChurnModelResult:
    """Train, back-test and score the churn model (or explain why there is none)."""
    config, health = config or ChurnConfig(), health or HealthConfig()
    panel = panel if panel is not None else build_panel(warehouse, health)
    method = "logistic regression" if config.model == "logistic" else "gradient boosting"
    if panel.n_weeks == 0:
        return ChurnModelResult(
            "no_data",
            method,
            "no events in the warehouse",
            config.horizon_days,
            config.min_churned,
            0,
            0,
            None,
        )
    reader = FeatureReader(panel, health.window_weeks)
    snaps = monthly_snapshots(panel, reader)
    x, y, accs = _training_rows(
        panel, snaps, config.horizon_days, _data_end(panel), config.min_label_days
    )
    churned = len(np.unique(accs[y == 1]))
    if churned < config.min_churned:
        msg = (
            f"only {churned} churned account(s) in {len(snaps)} monthly snapshot(s) "
            f"(minimum {config.min_churned}): churn risk is not estimated; ranking by health score"
        )
        return ChurnModelResult(
            "insufficient_data",
            method,
            msg,
            config.horizon_days,
            config.min_churned,
            churned,
            len(y),
            panel.as_of,
        )
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ConvergenceWarning)
        bt = backtest(panel, snaps, config)
        model = _Model(config).fit(x, y)
        col = score_column(panel)
        alive = np.flatnonzero(panel.alive[:, col] & np.isnat(panel.churn_day))
        day = _data_end(panel)
        current = reader.at(col, alive, day)
        prob, effects = model.predict(current), model.effects(current)
        caught = sorted({f"{w.category.__name__}: {w.message}" for w in seen})
    risks = tuple(
        AccountRisk(str(panel.account_ids[a]), float(prob[i]), _top_drivers(current[i], effects[i]))
        for i, a in enumerate(alive)
    )
    w = model.weights(x)
    order = np.argsort(-np.abs(w), kind="stable")
    weights = tuple(
        FeatureWeight(FEATURE_NAMES[j], FEATURE_LABELS[FEATURE_NAMES[j]], float(w[j]))
        for j in order
    )
    auc = "n/a" if bt.auc_mean is None else f"{bt.auc_mean:.2f}"
    msg = (
        f"{method} on {len(y)} account-months, {churned} churned accounts; "
        f"back-test AUC {auc} over {sum(f.skipped is None for f in bt.folds)} fold(s)"
    )
    return ChurnModelResult(
        "trained",
        method,
        msg,
        config.horizon_days,
        config.min_churned,
        churned,
        len(y),
        panel.as_of,
        weights,
        bt,
        risks,
        tuple(caught),
    )


def _top_drivers(values: np.ndarray, effects: np.ndarray, n: int = 3) -> tuple[Driver, ...]:
    order = [j for j in np.argsort(-effects, kind="stable")[:n] if effects[j] > 0]
    return tuple(
        Driver(
            FEATURE_NAMES[j],
            FEATURE_LABELS[FEATURE_NAMES[j]],
            None if np.isnan(values[j]) else round(float(values[j]), 4),
            float(effects[j]),
        )
        for j in order
    )
