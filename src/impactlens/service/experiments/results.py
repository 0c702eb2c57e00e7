"""The readout's values: frozen dataclasses, each with ``to_dict()`` for ``--json``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import date, datetime
from typing import Any

from impactlens.domain import Decision, Experiment
from impactlens.service.experiments.exposure import AnalysisWindow, ExposureSummary
from impactlens.stats.srm import SrmResult


def plain(value: Any) -> Any:
    """Dataclasses, tuples and dates as JSON-ready values (NaN and inf stay floats)."""
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class TimelinePoint:
    """The cumulative comparison among units exposed up to and including ``day``."""

    day: date
    n_control: int
    n_treatment: int
    effect: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class UserLevelComparison:
    """The same unadjusted lift tested per user and per account, for an account-randomised test.

    Users of one account behave alike, so treating them as independent understates
    the variance: ``user_ci_*`` is narrower than the honest ``account_ci_*``.
    """

    users_control: int
    users_treatment: int
    effect: float
    user_ci_lower: float
    user_ci_upper: float
    user_p_value: float
    account_ci_lower: float
    account_ci_upper: float
    account_p_value: float

    @property
    def user_ci_width(self) -> float:
        return self.user_ci_upper - self.user_ci_lower

    @property
    def account_ci_width(self) -> float:
        return self.account_ci_upper - self.account_ci_lower

    @property
    def width_ratio(self) -> float:
        """How many times wider the account-level interval is (> 1: users overstate)."""
        return _ratio(self.account_ci_width, self.user_ci_width)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "user_ci_width": self.user_ci_width,
            "account_ci_width": self.account_ci_width,
            "width_ratio": self.width_ratio,
        }


@dataclass(frozen=True)
class Comparison:
    """One treatment arm against the control on one metric.

    ``effect``, ``ci_lower``/``ci_upper`` are the relative lift (treatment - control)
    / control unless ``relative`` is false (a control mean of 0). ``outcome`` is
    ``better``, ``worse`` (significant in the metric's good or bad direction),
    ``inconclusive`` or ``error``.
    """

    variation: str
    control: str
    method: str
    statistic: str
    relative: bool
    n_control: int
    n_treatment: int
    value_control: float
    value_treatment: float
    variance_control: float  # per-unit variance the test used (CUPED-adjusted, delta method)
    effect: float
    absolute_effect: float
    ci_lower: float
    ci_upper: float
    p_value: float | None
    adjusted_p_value: float | None
    chance_to_win: float | None
    risk_control: float | None
    risk_treatment: float | None
    outcome: str
    mde: float | None
    variance_reduction: float | None
    cuped: bool
    error: str | None = None
    pre_effect: float | None = None  # the same lift over the pre-exposure window (an A/A check)
    pre_p_value: float | None = None
    user_level: UserLevelComparison | None = None
    timeline: tuple[TimelinePoint, ...] = ()

    @property
    def ci_width(self) -> float:
        return self.ci_upper - self.ci_lower

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else math.nan


@dataclass(frozen=True)
class MetricReadout:
    """One metric of the experiment: its role, how it was measured, and each comparison."""

    metric: str
    label: str
    role: str  # primary | secondary | guardrail
    kind: str
    higher_is_better: bool
    unit: str  # user | account: the unit each value is for
    cluster: bool  # accounts as units, per-user metric summed per account
    comparisons: tuple[Comparison, ...]
    immature_units: int = 0
    maturity_days: float = 0.0
    skipped: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Recommendation:
    """``ship | iterate | abandon`` with the verdict behind it and every reason."""

    decision: str
    verdict: str  # win | loss | inconclusive | untrustworthy | guardrail_regressed | no_data
    headline: str
    reasons: tuple[str, ...]
    blockers: tuple[str, ...] = ()
    keep_running: bool = False
    mde: float | None = None
    days_needed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Timings:
    """Where the time went: warehouse queries versus the statistics in Python."""

    query_seconds: float
    statistics_seconds: float


@dataclass(frozen=True)
class ExperimentReadout:
    """Everything ``impactlens experiment ID`` shows, from exposures to the recommendation."""

    experiment: Experiment
    window: AnalysisWindow
    method: str
    correction: str
    alpha: float
    cuped: bool
    exposure: ExposureSummary
    srm: SrmResult
    metrics: tuple[MetricReadout, ...]
    recommendation: Recommendation
    decision: Decision | None = None
    warnings: tuple[str, ...] = ()
    timings: Timings | None = None

    @property
    def primary(self) -> MetricReadout | None:
        return next((m for m in self.metrics if m.role == "primary"), None)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class ExperimentStatus:
    """One line of ``impactlens experiments``."""

    experiment_id: str
    name: str
    status: str  # running | ended
    unit: str
    started_at: datetime
    ended_at: datetime | None
    primary_metric: str | None
    exposed_users: int
    decision: Decision | None

    @property
    def decided(self) -> bool:
        return self.decision is not None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)} | {
            "decided": self.decided
        }
