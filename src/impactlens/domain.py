"""Frozen nouns shared across layers: releases, hypotheses, experiments, decisions.

These are read from the warehouse (``service.catalog``) and passed to analyses;
they carry no behaviour beyond small derived facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Direction = Literal["increase", "decrease"]
ReleaseKind = Literal["release", "feature", "fix", "flag", "experiment"]
DecisionKind = Literal["ship", "iterate", "abandon"]


@dataclass(frozen=True)
class Hypothesis:
    """What a release should do, written before shipping."""

    metric: str
    expected: Direction
    min_effect: float | None = None
    guardrails: tuple[str, ...] = ()

    @property
    def sign(self) -> int:
        return 1 if self.expected == "increase" else -1


@dataclass(frozen=True)
class Audience:
    """Who got a release: a flag's users, a list of accounts, or a filter; empty = everyone."""

    flag: str | None = None
    accounts: tuple[str, ...] = ()
    filter: str | None = None

    @property
    def is_everyone(self) -> bool:
        return self.flag is None and not self.accounts and self.filter is None


@dataclass(frozen=True)
class Release:
    """One release, feature, fix, flag rollout or experiment launch."""

    release_id: str
    title: str
    kind: str
    shipped_at: datetime
    team: str | None = None
    effort_days: float | None = None
    links: tuple[str, ...] = ()
    hypothesis: Hypothesis | None = None
    audience: Audience = field(default_factory=Audience)


@dataclass(frozen=True)
class Experiment:
    """An A/B test as declared in experiments.yaml."""

    experiment_id: str
    name: str
    variations: tuple[str, ...]
    primary_metric: str | None
    started_at: datetime
    ended_at: datetime | None = None
    hypothesis: str | None = None
    secondary_metrics: tuple[str, ...] = ()
    guardrails: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    unit: Literal["user", "account"] = "user"

    @property
    def control(self) -> str:
        return self.variations[0]

    @property
    def intended_weights(self) -> tuple[float, ...]:
        if self.weights and len(self.weights) == len(self.variations):
            return self.weights
        return tuple(1.0 / len(self.variations) for _ in self.variations)


@dataclass(frozen=True)
class Decision:
    """What a team decided after an experiment, and why; required to close the loop."""

    experiment_id: str
    decision: DecisionKind
    why: str
    next_step: str
    decided_by: str
    decided_at: datetime
