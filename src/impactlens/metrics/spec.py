"""The metrics.yaml format: one pydantic model per metric kind (``extra="forbid"``).

A metric is a frozen, validated value. Each kind declares only its own
parameters; the common fields (name, label, actor, direction, filters ...) live
on :class:`MetricBase`. docs/metrics.md gives the exact formula of every kind.

>>> m = CountMetric(name="reports", kind="count", event="Report Created", higher_is_better=True)
>>> (m.name, m.label, m.events)
('reports', 'Reports', ('Report Created',))
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

Actor = Literal["user", "account"]
Grain = Literal["day", "week", "month"]
FilterOp = Literal["=", "!=", "in", "not_in", "<", "<=", ">", ">=", "exists", "not_exists"]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> Any:
    """``"7d"``, ``"24h"``, ``"30m"``, ``"90s"``, ``"2w"`` -> timedelta (other values pass through)."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 7d, 24h, 30m, 90s or 2w")
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _as_tuple(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


EventNames = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterSpec(Strict):
    """A structured condition ``field op value``; compiled to Ibis, never pasted as SQL.

    ``field`` is namespaced: ``event.<json path>`` (event properties),
    ``account.<column or attribute>``, ``user.<attribute>``, ``flag.<name>``
    (actors ever seen with ``properties.flags.<name>``), and for the
    ``tickets`` kind ``ticket.<column>``.
    """

    field: str
    op: FilterOp = "="
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> FilterSpec:
        if self.op in ("in", "not_in") and not isinstance(self.value, list | tuple):
            raise ValueError(f"op {self.op!r} needs a list value, e.g. [pro, enterprise]")
        if self.op in ("exists", "not_exists"):
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
        elif self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        if self.op in ("<", "<=", ">", ">=") and isinstance(self.value, bool | list | tuple):
            raise ValueError(f"op {self.op!r} compares with a number, a date or a string")
        return self


Filters = Annotated[tuple[FilterSpec, ...], BeforeValidator(_as_tuple)]


class EventStep(Strict):
    """An event name with optional property filters (a funnel step, a ratio part)."""

    event: str
    filters: Filters = ()


def _step(value: Any) -> Any:
    return {"event": value} if isinstance(value, str) else value


Step = Annotated[EventStep, BeforeValidator(_step)]


class EventCount(Strict):
    """An inline ratio part: events (``aggregate: events``) or distinct actors (``actors``)."""

    event: EventNames
    filters: Filters = ()
    aggregate: Literal["events", "actors"] = "events"


class MetricBase(Strict):
    """Fields every metric has."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str = ""
    description: str = ""
    kind: str
    actor: Actor = "user"
    higher_is_better: bool
    north_star: bool = False
    indicator: Literal["leading", "lagging"] | None = None
    filters: Filters = ()
    segments: tuple[str, ...] = ()
    format: Literal["number", "percent", "currency", "duration", "score"] | None = None

    @model_validator(mode="after")
    def _default_label(self) -> MetricBase:
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())
        return self

    @property
    def display_format(self) -> str:
        return self.format or DEFAULT_FORMAT.get(self.kind, "number")


class CountMetric(MetricBase):
    kind: Literal["count"]
    event: EventNames = ()  # empty: any event

    @property
    def events(self) -> tuple[str, ...]:
        return self.event


class UniqueMetric(MetricBase):
    kind: Literal["unique"]
    event: EventNames = ()

    @property
    def events(self) -> tuple[str, ...]:
        return self.event


RatioPart = str | EventCount


class RatioMetric(MetricBase):
    kind: Literal["ratio"]
    numerator: RatioPart
    denominator: RatioPart
    # Filled by the catalog: the metrics that ``numerator``/``denominator`` name.
    _parts: dict[str, MetricBase] = PrivateAttr(default_factory=dict)

    def part(self, ref: str) -> MetricBase | None:
        return self._parts.get(ref)


class ConversionMetric(MetricBase):
    kind: Literal["conversion"]
    steps: tuple[Step, ...] = Field(min_length=2)
    within: Duration


class DurationMetric(MetricBase):
    kind: Literal["duration"]
    from_event: Step
    to_event: Step
    within: Duration | None = None
    stat: Literal["median", "mean", "p90"] = "median"
    unit: Literal["seconds", "minutes", "hours", "days"] = "minutes"

    @model_validator(mode="after")
    def _distinct_events(self) -> DurationMetric:
        if self.from_event == self.to_event:
            raise ValueError("from_event and to_event are the same step")
        return self


class RetentionMetric(MetricBase):
    kind: Literal["retention"]
    cohort_event: EventNames = ()  # empty: the actor's first event of any kind
    return_event: EventNames = ()  # empty: any event
    period: Literal["day", "week"] = "week"
    n: int = Field(default=1, ge=1, le=520)


class StickinessMetric(MetricBase):
    kind: Literal["stickiness"]
    ratio: Literal["dau_mau", "wau_mau"] = "dau_mau"
    event: EventNames = ()


class AdoptionMetric(MetricBase):
    kind: Literal["adoption"]
    feature_event: EventNames = Field(min_length=1)
    active_event: EventNames = ()
    cumulative: bool = False


SURVEY_STATS = {"nps": "nps", "csat": "satisfied_share", "ces": "mean"}
SURVEY_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


class SurveyMetric(MetricBase):
    kind: Literal["survey"]
    survey: Literal["nps", "csat", "ces"]
    stat: Literal["nps", "satisfied_share", "mean"] | None = None

    @model_validator(mode="after")
    def _stat(self) -> SurveyMetric:
        if self.stat is None:
            object.__setattr__(self, "stat", SURVEY_STATS[self.survey])
        if self.stat == "nps" and self.survey != "nps":
            raise ValueError("stat nps applies to survey: nps only")
        return self


class TicketsMetric(MetricBase):
    kind: Literal["tickets"]
    stat: Literal["count", "per_active_account", "median_hours_to_resolution"] = "count"


REVENUE_STATS = (
    "mrr",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "nrr",
    "grr",
    "logo_churn_rate",
    "arpa",
)


class RevenueMetric(MetricBase):
    kind: Literal["revenue"]
    stat: Literal[REVENUE_STATS]  # type: ignore[valid-type]
    actor: Literal["account"] = "account"


KIND_MODELS: dict[str, type[MetricBase]] = {
    "count": CountMetric,
    "unique": UniqueMetric,
    "ratio": RatioMetric,
    "conversion": ConversionMetric,
    "duration": DurationMetric,
    "retention": RetentionMetric,
    "stickiness": StickinessMetric,
    "adoption": AdoptionMetric,
    "survey": SurveyMetric,
    "tickets": TicketsMetric,
    "revenue": RevenueMetric,
}

Metric = (
    CountMetric
    | UniqueMetric
    | RatioMetric
    | ConversionMetric
    | DurationMetric
    | RetentionMetric
    | StickinessMetric
    | AdoptionMetric
    | SurveyMetric
    | TicketsMetric
    | RevenueMetric
)

DEFAULT_FORMAT = {
    "ratio": "percent",
    "conversion": "percent",
    "retention": "percent",
    "stickiness": "percent",
    "adoption": "percent",
    "duration": "duration",
    "survey": "score",
    "revenue": "currency",
}

# Where the actor of each source table lives.
ACTOR_COLUMNS: dict[str, dict[str, str]] = {
    "events": {"user": "actor_id", "account": "account_id"},
    "surveys": {"user": "user_id", "account": "account_id"},
    "tickets": {"user": "user_id", "account": "account_id"},
    "revenue": {"account": "account_id"},
}


def referenced_events(metric: MetricBase) -> tuple[str, ...]:
    """Every event name a metric reads (for the 'never seen in the data' warning)."""
    names: list[str] = []
    for value in metric.__dict__.values():
        if isinstance(value, EventStep):
            names.append(value.event)
        elif isinstance(value, EventCount):
            names.extend(value.event)
        elif isinstance(value, tuple) and value and isinstance(value[0], EventStep):
            names.extend(step.event for step in value)
    for attr in ("event", "cohort_event", "return_event", "feature_event", "active_event"):
        names.extend(getattr(metric, attr, ()) or ())
    return tuple(dict.fromkeys(names))
