"""The impact review: what shipped in a period, what moved, what didn't, and what to do next.

One call assembles everything a review shows, so the HTML, Markdown and JSON
forms (and the dashboard) render the same facts:

- every release shipped in the period with its verdict, chart and plain statement;
- impact coverage: the share of shipped work with a measured verdict, by team,
  and the list of what lacks one;
- the north star and the leading and lagging indicators side by side
  (this period vs the one before);
- experiments that ended in the period, decided or not;
- recommendations from the portfolio: double down, iterate, stop investing;
- delivery facts beside each release's outcome.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from impactlens.config import Workspace
from impactlens.errors import NotFoundError
from impactlens.metrics import MetricCatalog, load_metrics, metric_series
from impactlens.metrics.timebase import next_period
from impactlens.service import release_data
from impactlens.service.catalog import latest_decisions, list_experiments
from impactlens.service.delivery_facts import release_delivery
from impactlens.service.portfolio import MeasuredRelease, Portfolio, portfolio
from impactlens.service.releases import ReleaseImpact, review_releases
from impactlens.warehouse import Warehouse


@dataclass(frozen=True)
class IndicatorSummary:
    """A north-star, leading or lagging metric: weekly (revenue: monthly) values, this period vs before."""

    metric: str
    label: str
    role: str
    higher_is_better: bool
    grain: str
    weeks: tuple[str, ...]
    values: tuple[float | None, ...]
    current: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        if self.current is None or self.previous in (None, 0):
            return None
        return self.current / self.previous - 1.0  # type: ignore[operator]


@dataclass(frozen=True)
class TeamCoverage:
    """How much of one team's shipped work has a measured verdict."""

    team: str
    shipped: int
    measured: int
    missing: tuple[str, ...]

    @property
    def share(self) -> float | None:
        return self.measured / self.shipped if self.shipped else None


@dataclass(frozen=True)
class ExperimentStatus:
    """An experiment that ended in the period, and the decision taken (or not)."""

    experiment_id: str
    name: str
    ended_at: str | None
    decision: str | None
    why: str | None
    next_step: str | None


@dataclass(frozen=True)
class ImpactReview:
    """Everything one review shows."""

    start: datetime
    end: datetime
    team: str | None
    generated_at: datetime
    releases: tuple[ReleaseImpact, ...]
    coverage_by_team: tuple[TeamCoverage, ...]
    indicators: tuple[IndicatorSummary, ...]
    experiments: tuple[ExperimentStatus, ...]
    portfolio: Portfolio
    delivery: dict[str, Any] = field(default_factory=dict)
    team_statements: dict[str, str] = field(default_factory=dict)

    @property
    def shipped(self) -> int:
        return len(self.releases)

    @property
    def measured(self) -> int:
        return sum(r.measured for r in self.releases)

    @property
    def coverage(self) -> float | None:
        """Impact coverage = releases with a measured verdict / releases shipped."""
        return self.measured / self.shipped if self.shipped else None

    @property
    def undecided_experiments(self) -> tuple[ExperimentStatus, ...]:
        return tuple(e for e in self.experiments if e.decision is None)

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "team": self.team,
                "generated_at": self.generated_at.isoformat(),
                "shipped": self.shipped,
                "measured": self.measured,
                "coverage": self.coverage,
                "coverage_by_team": [
                    {**asdict(t), "share": t.share} for t in self.coverage_by_team
                ],
                "releases": [r.to_dict() for r in self.releases],
                "indicators": [{**asdict(i), "change": i.change} for i in self.indicators],
                "experiments": [asdict(e) for e in self.experiments],
                "experiments_without_decision": [
                    e.experiment_id for e in self.undecided_experiments
                ],
                "recommendations": self.portfolio.to_dict(),
                "delivery": {k: v.to_dict() for k, v in self.delivery.items()},
                "team_statements": self.team_statements,
            }
        )


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def measured_from(
    impacts: list[ReleaseImpact] | tuple[ReleaseImpact, ...],
) -> list[MeasuredRelease]:
    """The portfolio's view of release verdicts (the relative effect on the hypothesis metric)."""
    out = []
    for r in impacts:
        p = r.primary
        finite = p is not None and p.error is None and math.isfinite(p.relative)
        out.append(
            MeasuredRelease(
                release_id=r.release.release_id,
                team=r.release.team,
                effort_days=r.release.effort_days,
                feature=r.release.release_id,
                verdict=r.verdict,
                relative_effect=p.relative if finite else None,  # type: ignore[union-attr]
                ci_low=p.lower if finite else None,  # type: ignore[union-attr]
                ci_high=p.upper if finite else None,  # type: ignore[union-attr]
                metric=r.release.hypothesis.metric if r.release.hypothesis else None,
                expected=r.release.hypothesis.expected if r.release.hypothesis else "increase",
            )
        )
    return out


def _coverage(impacts: list[ReleaseImpact]) -> tuple[TeamCoverage, ...]:
    by_team: dict[str, list[ReleaseImpact]] = defaultdict(list)
    for r in impacts:
        by_team[r.release.team or "(no team)"].append(r)
    return tuple(
        TeamCoverage(
            team=team,
            shipped=len(rs),
            measured=sum(r.measured for r in rs),
            missing=tuple(r.release.release_id for r in rs if not r.measured),
        )
        for team, rs in sorted(by_team.items())
    )


def _indicators(
    warehouse: Warehouse, catalog: MetricCatalog, start: datetime, end: datetime, timezone: str
) -> tuple[IndicatorSummary, ...]:
    """Each indicator's complete periods: the review period vs the same span before it.

    Only periods wholly inside the data count (a first or last partial week
    would read as a collapse), so "previous" may hold fewer periods than
    "current" near the start of the data.
    """
    events = warehouse.table("events")
    first, last = (
        events.timestamp.min().to_pyarrow().as_py(),
        events.timestamp.max().to_pyarrow().as_py(),
    )
    if first is None:
        return ()
    span = max(end - start, timedelta(days=7))
    lo, hi = (start - span).date(), end.date()
    out = []
    for role, metrics in catalog.groups().items():
        if role == "other":
            continue
        for metric in metrics:
            # Revenue metrics are monthly by nature; everything else is read weekly.
            grain = "month" if metric.kind == "revenue" else "week"
            frame = metric_series(
                warehouse, metric, grain=grain, start=lo, end=hi, timezone=timezone, catalog=catalog
            )
            periods, values = [], []
            for day, value in zip(frame.column("period_start"), frame.column("value"), strict=True):
                complete = day >= first.date() and next_period(day, grain) <= last.date()
                if grain == "month":  # monthly revenue rows describe the whole month already
                    complete = day <= last.date()
                periods.append(day)
                values.append(
                    float(value)
                    if complete and value is not None and math.isfinite(value)
                    else None
                )
            cur = [
                v
                for d, v in zip(periods, values, strict=True)
                if v is not None and d >= start.date()
            ]
            prev = [
                v
                for d, v in zip(periods, values, strict=True)
                if v is not None and d < start.date()
            ]
            out.append(
                IndicatorSummary(
                    metric=metric.name,
                    label=metric.label,
                    role=role,
                    higher_is_better=metric.higher_is_better,
                    grain=grain,
                    weeks=tuple(d.isoformat() for d in periods),
                    values=tuple(values),
                    current=sum(cur) / len(cur) if cur else None,
                    previous=sum(prev) / len(prev) if prev else None,
                )  # fmt: skip
            )
    return tuple(out)


def _experiments(
    warehouse: Warehouse, start: datetime, end: datetime
) -> tuple[ExperimentStatus, ...]:
    decisions = latest_decisions(warehouse, "experiment")
    out = []
    for e in list_experiments(warehouse):
        ended = e.ended_at
        if ended is None or not (start <= ended < end + timedelta(days=1)):
            continue
        d = decisions.get(e.experiment_id)
        out.append(
            ExperimentStatus(
                e.experiment_id,
                e.name,
                ended.date().isoformat(),
                d.decision if d else None,
                d.why if d else None,
                d.next_step if d else None,
            )  # fmt: skip
        )
    return tuple(out)


def _team_statements(impacts: list[ReleaseImpact]) -> dict[str, str]:
    by_team: dict[str, list[ReleaseImpact]] = defaultdict(list)
    for r in impacts:
        by_team[r.release.team or "(no team)"].append(r)
    out = {}
    for team, rs in sorted(by_team.items()):
        met = [r.release.release_id for r in rs if r.verdict == "met"]
        harmful = [r.release.release_id for r in rs if r.verdict == "harmful"]
        unmeasured = [r for r in rs if not r.measured]
        parts = [f"{team} shipped {len(rs)} item(s); {len(rs) - len(unmeasured)} measured"]
        if met:
            parts.append(f"{len(met)} met its hypothesis ({', '.join(met)})")
        if harmful:
            parts.append(f"{len(harmful)} harmed a guardrail ({', '.join(harmful)})")
        if unmeasured:
            parts.append(f"{len(unmeasured)} without a measured verdict")
        out[team] = "; ".join(parts) + "."
    return out


def build_review(
    warehouse: Warehouse,
    workspace: Workspace,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    last_days: int | None = None,
    team: str | None = None,
    progress: Any = None,
) -> ImpactReview:
    """Assemble the impact review for [start, end) (default: the last 90 days of data)."""
    data_end = release_data.data_end(warehouse) or datetime.now(UTC).replace(tzinfo=None)
    end = end or datetime.combine(data_end.date() + timedelta(days=1), datetime.min.time())
    if start is None:
        start = end - timedelta(days=last_days or 90)
    catalog = load_metrics(workspace.metrics_path, warehouse)
    impacts = review_releases(
        warehouse, workspace, start=start, end=end, team=team, progress=progress
    )
    delivery = {}
    for r in impacts:
        try:
            delivery[r.release.release_id] = release_delivery(warehouse, r.release.release_id)
        except NotFoundError:  # a release with no deploy data simply shows none
            continue
    return ImpactReview(
        start=start,
        end=end,
        team=team,
        generated_at=datetime.now(UTC).replace(tzinfo=None),
        releases=tuple(impacts),
        coverage_by_team=_coverage(impacts),
        indicators=_indicators(warehouse, catalog, start, end, workspace.config.timezone),
        experiments=_experiments(warehouse, start, end),
        portfolio=portfolio(measured_from(impacts)),
        delivery=delivery,
        team_statements=_team_statements(impacts),
    )
