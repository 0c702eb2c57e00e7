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

import warnings
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from impactlens.service.accounts.churn_backtest import (
    Backtest,
    Model,
    backtest,
    data_end,
    training_rows,
)
from impactlens.service.accounts.churn_features import (
    FEATURE_LABELS,
    FEATURE_NAMES,
    FeatureReader,
    monthly_snapshots,
    score_column,
)
from impactlens.service.accounts.config import ChurnConfig, HealthConfig
from impactlens.service.accounts.health import score_health
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


def fit_churn_model(
    warehouse: Warehouse,
    config: ChurnConfig | None = None,
    health: HealthConfig | None = None,
    *,
    panel: AccountPanel | None = None,
    health_scores: np.ndarray | None = None,
) -> ChurnModelResult:
    """Train, back-test and score the churn model (or explain why there is none).

    Every back-test fold also reports the health score's own AUC on the same accounts
    (``health_scores``: a ``HealthReport.scores`` of the same panel, computed if absent).
    """
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
    snaps = monthly_snapshots(panel, reader, config.snapshots)
    x, y, accs = training_rows(
        panel, snaps, config.horizon_days, data_end(panel), config.min_label_days
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
    # Account-month tables are small (thousands of rows, 14 columns): BLAS and OpenMP threads
    # cost more than they save and contend badly on a busy machine (8x slower measured at
    # load 11 on 2 cores), so the whole fit runs on one thread.
    with warnings.catch_warnings(record=True) as seen, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        if health_scores is None:
            health_scores = score_health(panel, health).scores
        bt = backtest(panel, snaps, config, health_scores)
        model = Model(config).fit(x, y)
        col = score_column(panel)
        alive = np.flatnonzero(panel.alive[:, col] & np.isnat(panel.churn_day))
        day = data_end(panel)
        current = reader.at(col, alive, day)
        prob, effects = model.predict(current), model.effects(current)
        w = model.weights(x)
        caught = sorted({f"{m.category.__name__}: {m.message}" for m in seen})
    top = np.argsort(-effects, axis=1, kind="stable")[:, :3]
    risks = tuple(
        AccountRisk(
            str(panel.account_ids[a]), float(prob[i]), _drivers(current[i], effects[i], top[i])
        )
        for i, a in enumerate(alive)
    )
    order = np.argsort(-np.abs(w), kind="stable")
    weights = tuple(
        FeatureWeight(FEATURE_NAMES[j], FEATURE_LABELS[FEATURE_NAMES[j]], float(w[j]))
        for j in order
    )
    auc = "n/a" if bt.auc_mean is None else f"{bt.auc_mean:.2f}"
    msg = (
        f"{method} on {len(y)} account-months, {churned} churned accounts; "
        f"back-test AUC {auc} over {sum(f.skipped is None for f in bt.folds)} fold(s)"
        + ("" if bt.health_auc_mean is None else f" (health score alone: {bt.health_auc_mean:.2f})")
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


def _drivers(values: np.ndarray, effects: np.ndarray, order: np.ndarray) -> tuple[Driver, ...]:
    """The features that raise this account's risk, strongest first (at most ``len(order)``)."""
    return tuple(
        Driver(
            FEATURE_NAMES[j],
            FEATURE_LABELS[FEATURE_NAMES[j]],
            None if np.isnan(values[j]) else round(float(values[j]), 4),
            float(effects[j]),
        )
        for j in order
        if effects[j] > 0
    )
