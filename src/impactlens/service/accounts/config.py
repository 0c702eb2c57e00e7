"""The ``health:`` and ``churn:`` sections of ``impactlens.yaml``, validated at the boundary.

``WorkspaceConfig`` keeps both sections as free-form mappings; this module owns
their shape (``extra="forbid"``: a typo is an error naming the key) and their
defaults, which are the ones documented in docs/health-and-churn.md.

>>> load_health_config({"thresholds": {"green": 75}}).thresholds.green
75.0
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from impactlens.errors import Problem, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsageTrendComponent(_Strict):
    """Events in the last ``window_weeks`` against the ``window_weeks`` before."""

    weight: float = Field(default=0.25, ge=0)
    full_decline: float = Field(default=0.5, gt=0, le=1)


class BreadthComponent(_Strict):
    """Share of the key features used in the last ``window_weeks``."""

    weight: float = Field(default=0.15, ge=0)
    # None: the top_n most used track events. At most 62 (they travel as bits of an int64).
    features: list[str] | None = Field(default=None, min_length=1, max_length=62)
    top_n: int = Field(default=8, ge=1, le=62)


class SeatsComponent(_Strict):
    """Average weekly active users over seats, against a target share."""

    weight: float = Field(default=0.20, ge=0)
    target_share: float = Field(default=0.6, gt=0, le=1)
    seats_attribute: str | None = "seats"  # account attribute; absent: users of the account


class SentimentComponent(_Strict):
    """The account's NPS and CSAT answers over the last ``window_weeks``."""

    weight: float = Field(default=0.15, ge=0)
    window_weeks: int = Field(default=26, ge=1, le=260)


class TicketsComponent(_Strict):
    """Tickets opened per seat in the window, minus a penalty per open high-priority ticket."""

    weight: float = Field(default=0.15, ge=0)
    max_rate: float = Field(
        default=4.0, gt=0
    )  # tickets per `per_seats` seats in the window scoring 0
    per_seats: float = Field(default=10.0, gt=0)
    min_seats: float = Field(default=10.0, gt=0)
    high_priorities: list[str] = Field(default_factory=lambda: ["high", "urgent"])
    high_penalty: float = Field(default=20.0, ge=0, le=100)


class MrrTrendComponent(_Strict):
    """MRR now against ``months`` months earlier."""

    weight: float = Field(default=0.10, ge=0)
    months: int = Field(default=3, ge=1, le=24)
    full_decline: float = Field(default=0.3, gt=0, le=1)


class Components(_Strict):
    usage_trend: UsageTrendComponent = Field(default_factory=UsageTrendComponent)
    breadth: BreadthComponent = Field(default_factory=BreadthComponent)
    seats: SeatsComponent = Field(default_factory=SeatsComponent)
    sentiment: SentimentComponent = Field(default_factory=SentimentComponent)
    tickets: TicketsComponent = Field(default_factory=TicketsComponent)
    mrr_trend: MrrTrendComponent = Field(default_factory=MrrTrendComponent)

    def weights(self) -> dict[str, float]:
        return {name: getattr(self, name).weight for name in COMPONENTS}


COMPONENTS: tuple[str, ...] = (
    "usage_trend",
    "breadth",
    "seats",
    "sentiment",
    "tickets",
    "mrr_trend",
)


class Thresholds(_Strict):
    """A score >= green is green, < red is red, yellow in between."""

    green: float = Field(default=70.0, ge=0, le=100)
    red: float = Field(default=45.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.red > self.green:
            raise ValueError(f"red ({self.red}) must not be above green ({self.green})")
        return self


class HealthConfig(_Strict):
    """``health:`` in impactlens.yaml."""

    window_weeks: int = Field(default=4, ge=1, le=26)
    # A week is scored only when the available components carry this share of the weight.
    min_coverage: float = Field(default=0.5, ge=0, le=1)
    components: Components = Field(default_factory=Components)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # Events that are not product usage (reserved names are always excluded too).
    exclude_events: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_weight(self) -> HealthConfig:
        if sum(self.components.weights().values()) <= 0:
            raise ValueError("at least one component needs a weight above 0")
        return self


class ChurnConfig(_Strict):
    """``churn:`` in impactlens.yaml."""

    model: Literal["logistic", "gradient_boosting"] = "logistic"
    horizon_days: int = Field(default=90, ge=7, le=730)
    snapshots: Literal["month", "week"] = "month"  # how often the account history is cut
    min_churned: int = Field(default=10, ge=2)
    min_label_days: int = Field(
        default=30, ge=1
    )  # a fold's label window must be observed this long
    risk_threshold: float = Field(default=0.3, gt=0, lt=1)
    top_k_share: float = Field(default=0.1, gt=0, le=1)
    calibration_bins: int = Field(default=5, ge=2, le=20)
    regularization: float = Field(default=0.1, gt=0)  # C of the logistic regression
    null_check: bool = True  # also back-test on shuffled labels (expected AUC ~ 0.5)
    null_repeats: int = Field(default=3, ge=1, le=50)  # shuffles per fold, averaged
    seed: int = 0


def _load(model: type[BaseModel], raw: dict[str, Any] | None, section: str, file: str | None):
    try:
        return model.model_validate(raw or {})
    except PydanticValidationError as exc:
        problems = [
            Problem(
                err["msg"],
                file=file,
                field=".".join([section, *(str(p) for p in err["loc"])]),
                hint="see docs/health-and-churn.md for the settings",
            )
            for err in exc.errors()
        ]
        summary = f"the {section}: section has {len(problems)} problem(s)"
        raise ValidationError(problems, summary) from exc


def load_health_config(
    raw: dict[str, Any] | None = None, *, file: str | None = None
) -> HealthConfig:
    """Validate the ``health:`` mapping; every problem is reported at once."""
    return _load(HealthConfig, raw, "health", file)


def load_churn_config(raw: dict[str, Any] | None = None, *, file: str | None = None) -> ChurnConfig:
    """Validate the ``churn:`` mapping; every problem is reported at once."""
    return _load(ChurnConfig, raw, "churn", file)


def configs_from_workspace(workspace: Any) -> tuple[HealthConfig, ChurnConfig]:
    """The health and churn settings of a loaded ``Workspace`` (validated, with defaults)."""
    from impactlens.config import CONFIG_FILE

    file = str(workspace.root / CONFIG_FILE)
    return (
        load_health_config(workspace.config.health, file=file),
        load_churn_config(workspace.config.churn, file=file),
    )
