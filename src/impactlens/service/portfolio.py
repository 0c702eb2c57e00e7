"""The portfolio: effort against measured impact, and what to do next with each bet.

Input is the release-impact service's verdicts, one ``MeasuredRelease`` per
release; ``portfolio(measured)`` is pure, so the impact review, the dashboard
and the CLI all show the same lists. The rules (docs/prioritisation.md):

- effects are *oriented*: for a hypothesis that expects a decrease the sign is
  flipped, so a positive effect is always good;
- impact per effort = oriented relative effect / effort days;
- **double down**: verdict ``met``, effect >= ``min_effect`` and impact per
  effort at or above the portfolio bar (the median impact per effort of the
  releases with a positive measured effect);
- **iterate**: ``not_met`` or ``inconclusive`` with a positive point estimate
  whose interval still reaches ``min_effect`` (the win may be there, unproven);
- **stop**: ``harmful``; or ``not_met``/``inconclusive`` whose interval lies
  below ``min_effect`` (even the optimistic end is too small to matter), or
  ``not_met`` with a point estimate that is not positive. Listed by effort,
  largest first;
- **keep**: met but below the bar or without effort data; **hold**: inconclusive,
  not positive, interval still wide; **wait**: too early, or no hypothesis.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Literal

Verdict = Literal["met", "not_met", "harmful", "inconclusive", "too_early", "no_hypothesis"]
Action = Literal["double_down", "iterate", "stop", "keep", "hold", "wait"]

# Verdicts that come with a measured effect on the hypothesis metric.
MEASURED_VERDICTS = frozenset({"met", "not_met", "harmful", "inconclusive"})
DEFAULT_MIN_EFFECT = 0.02


@dataclass(frozen=True)
class MeasuredRelease:
    """One shipped release with its measured outcome (from the release-impact service).

    ``relative_effect`` and its interval are on the hypothesis ``metric``
    (0.06 = +6%), in the metric's own direction; ``expected`` says which
    direction the hypothesis wanted, so the portfolio can orient them.
    """

    release_id: str
    team: str | None
    effort_days: float | None
    feature: str | None
    verdict: str
    relative_effect: float | None
    ci_low: float | None
    ci_high: float | None
    metric: str | None
    expected: str = "increase"

    @property
    def has_effect(self) -> bool:
        return self.verdict in MEASURED_VERDICTS and self.relative_effect is not None

    def oriented(self) -> tuple[float | None, float | None, float | None]:
        """(effect, low, high) with the sign flipped when the hypothesis expects a decrease."""
        if self.expected != "decrease":
            return self.relative_effect, self.ci_low, self.ci_high
        flip = [
            None if v is None else -v for v in (self.relative_effect, self.ci_high, self.ci_low)
        ]
        return flip[0], flip[1], flip[2]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class PortfolioPoint:
    """One release on the effort/impact chart with its action and the evidence for it."""

    release_id: str
    team: str | None
    effort_days: float | None
    verdict: str
    metric: str | None
    effect: float | None  # oriented: positive is good
    ci_low: float | None
    ci_high: float | None
    impact_per_effort: float | None  # oriented effect per effort day
    action: Action
    evidence: str


@dataclass(frozen=True)
class TeamPortfolio:
    """A team's releases summed up: effort, verdicts and impact per effort."""

    team: str
    releases: int
    effort_days: float
    measured: int
    wins: int
    harmful: int
    impact_per_effort: float | None  # sum of oriented effects / sum of effort, measured only


@dataclass(frozen=True)
class Portfolio:
    """Every release's point and action, per-team totals, and the bar used."""

    points: tuple[PortfolioPoint, ...]
    teams: tuple[TeamPortfolio, ...]
    min_effect: float
    impact_per_effort_bar: float | None

    def of(self, action: Action) -> tuple[PortfolioPoint, ...]:
        chosen = [p for p in self.points if p.action == action]
        if action == "stop":  # the costliest bets first: that is where stopping pays
            chosen.sort(key=lambda p: (-(p.effort_days or 0.0), p.release_id))
        elif action == "double_down":
            chosen.sort(key=lambda p: (-(p.impact_per_effort or 0.0), p.release_id))
        else:
            chosen.sort(key=lambda p: (-(p.effect or 0.0), p.release_id))
        return tuple(chosen)

    @property
    def double_down(self) -> tuple[PortfolioPoint, ...]:
        return self.of("double_down")

    @property
    def iterate(self) -> tuple[PortfolioPoint, ...]:
        return self.of("iterate")

    @property
    def stop(self) -> tuple[PortfolioPoint, ...]:
        return self.of("stop")

    def to_dict(self) -> dict[str, object]:
        return {
            "min_effect": self.min_effect,
            "impact_per_effort_bar": self.impact_per_effort_bar,
            "double_down": [asdict(p) for p in self.double_down],
            "iterate": [asdict(p) for p in self.iterate],
            "stop": [asdict(p) for p in self.stop],
            "points": [asdict(p) for p in self.points],
            "teams": [asdict(t) for t in self.teams],
        }


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def _effect_text(m: MeasuredRelease) -> str:
    effect, low, high = m.oriented()
    interval = f" [{pct(low)}, {pct(high)}]" if low is not None and high is not None else ""
    return f"{m.verdict}: {pct(effect)}{interval} on {m.metric or 'its metric'}"


def _impact_per_effort(m: MeasuredRelease) -> float | None:
    effect = m.oriented()[0]
    if not m.has_effect or effect is None or not m.effort_days or m.effort_days <= 0:
        return None
    return effect / m.effort_days


def _classify(
    m: MeasuredRelease, ipe: float | None, bar: float | None, min_effect: float
) -> tuple[Action, str]:
    text = _effect_text(m)
    effect, _, high = m.oriented()
    if not m.has_effect or effect is None:
        why = "no hypothesis to measure against" if m.verdict == "no_hypothesis" else "too early"
        return "wait", f"{m.verdict}: {why}"
    per_day = f"{pct(ipe)} per effort-day" if ipe is not None else "effort unknown"
    if m.verdict == "harmful":
        return "stop", f"{text}; it hurts the metric ({per_day})"
    if m.verdict == "met":
        if effect >= min_effect and ipe is not None and bar is not None and ipe >= bar:
            return "double_down", f"{text}; {per_day} >= portfolio bar {pct(bar)}"
        why = "below the portfolio bar" if ipe is not None else "effort unknown"
        return "keep", f"{text}; {per_day} ({why})"
    reaches = high is None or high >= min_effect
    if effect > 0 and reaches:
        return "iterate", f"{text}; positive but unproven, interval reaches {pct(min_effect)}"
    if not reaches:
        return "stop", f"{text}; interval below {pct(min_effect)}, too small to matter"
    if m.verdict == "not_met":
        return "stop", f"{text}; no positive effect ({per_day})"
    return "hold", f"{text}; not positive, but too uncertain to stop"


def portfolio(
    measured: list[MeasuredRelease], *, min_effect: float = DEFAULT_MIN_EFFECT
) -> Portfolio:
    """Place every measured release on effort x impact and sort it into an action.

    >>> p = portfolio([MeasuredRelease("a", "t", 5, None, "met", 0.1, 0.05, 0.15, "m")])
    >>> [x.release_id for x in p.double_down]
    ['a']
    """
    ipes = {m.release_id: _impact_per_effort(m) for m in measured}
    positive = [v for v in ipes.values() if v is not None and v > 0]
    bar = statistics.median(positive) if positive else None
    points = []
    for m in measured:
        ipe = ipes[m.release_id]
        action, evidence = _classify(m, ipe, bar, min_effect)
        effect, low, high = m.oriented()
        points.append(
            PortfolioPoint(
                m.release_id,
                m.team,
                m.effort_days,
                m.verdict,
                m.metric,
                effect if m.has_effect else None,
                low,
                high,
                ipe,
                action,
                evidence,
            )
        )
    return Portfolio(tuple(points), _teams(measured), min_effect, bar)


def _teams(measured: list[MeasuredRelease]) -> tuple[TeamPortfolio, ...]:
    by_team: dict[str, list[MeasuredRelease]] = {}
    for m in measured:
        by_team.setdefault(m.team or "(no team)", []).append(m)
    out = []
    for team, items in sorted(by_team.items()):
        scored = [m for m in items if _impact_per_effort(m) is not None]
        effort = sum(m.effort_days or 0.0 for m in scored)
        ipe = sum(m.oriented()[0] or 0.0 for m in scored) / effort if effort else None
        out.append(
            TeamPortfolio(
                team=team,
                releases=len(items),
                effort_days=sum(m.effort_days or 0.0 for m in items),
                measured=sum(m.has_effect for m in items),
                wins=sum(m.verdict == "met" for m in items),
                harmful=sum(m.verdict == "harmful" for m in items),
                impact_per_effort=ipe,
            )
        )
    return tuple(out)


def measured_releases(warehouse: object) -> list[MeasuredRelease]:
    """The measured releases of a workspace, from the release-impact service.

    The service (``impactlens.service.releases``) provides
    ``measured_releases(warehouse) -> list[MeasuredRelease]``; until it is
    installed, nothing is measured yet and this returns an empty list.
    """
    import importlib

    try:
        service = importlib.import_module("impactlens.service.releases")
    except ModuleNotFoundError as exc:
        if exc.name != "impactlens.service.releases":
            raise
        return []
    provider = getattr(service, "measured_releases", None)
    return list(provider(warehouse)) if provider is not None else []


def workspace_portfolio(warehouse: object, *, min_effect: float = DEFAULT_MIN_EFFECT) -> Portfolio:
    """The portfolio of every measured release in the workspace."""
    return portfolio(measured_releases(warehouse), min_effect=min_effect)
