"""Delivery metrics (DORA) from ``deployments`` and ``incidents``, computed in the warehouse.

Definitions (docs/delivery.md has the formulas and the band thresholds):

- a deploy counts when it went to production: its ``attributes.environment``
  is absent, ``production`` or ``prod``;
- its team is the deploy's ``attributes.team`` when given, else the team of
  the release it ships (``release_id``);
- **deployment frequency** = successful deploys (``status = success``) / days
  in the window; per week = x 7;
- **lead time for changes** = ``deployed_at - committed_at`` of successful
  deploys (negative gaps are data errors and left out); median and p90 with
  linear interpolation;
- **change failure rate** = change failures / all deploys, where a change
  failure is a deploy with status ``failed`` or ``rolled_back`` *or* one that an
  incident names in ``deploy_id``;
- **time to restore** = median of ``resolved_at - started_at`` over resolved
  incidents started in the window. An incident belongs to the service and team
  of the deploy it names, else to the team of the release it names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import ibis.expr.types as ir

from impactlens.errors import UserError
from impactlens.service.delivery_bands import DoraBands, classify
from impactlens.service.delivery_facts import (
    HOUR,
    DeployFact,
    IncidentFact,
    ReleaseDelivery,
    deploy_facts,
    incident_facts,
    release_delivery,
)
from impactlens.service.portfolio import MeasuredRelease, measured_releases
from impactlens.warehouse import Warehouse

GroupBy = Literal["service", "team"]


@dataclass(frozen=True)
class DoraFigures:
    """The four DORA figures for one scope (everything, a service or a team)."""

    group: str | None
    deploys: int
    successful_deploys: int
    change_failures: int
    deploys_per_day: float | None
    deploys_per_week: float | None
    lead_time_median_hours: float | None
    lead_time_p90_hours: float | None
    lead_time_changes: int
    change_failure_rate: float | None
    incidents: int
    restored_incidents: int
    time_to_restore_median_hours: float | None
    bands: DoraBands


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week (starting Monday, UTC) of the same figures."""

    week_start: date
    deploys: int
    successful_deploys: int
    change_failures: int
    change_failure_rate: float | None
    lead_time_median_hours: float | None
    incidents: int
    time_to_restore_median_hours: float | None


@dataclass(frozen=True)
class DeliveryReport:
    """DORA figures over a window: overall, per group, and week by week."""

    start: datetime | None
    end: datetime | None
    days: float
    by: str | None
    overall: DoraFigures
    groups: tuple[DoraFigures, ...]
    weekly: tuple[WeekFigures, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _window(t: ir.Table, column: str, start: datetime | None, end: datetime | None) -> ir.Table:
    if start is not None:
        t = t.filter(t[column] >= start)
    if end is not None:
        t = t.filter(t[column] < end)
    return t


def _deploy_aggs(d: ir.Table) -> dict[str, ir.Value]:
    has_lead = d.lead_s.notnull()
    return {
        "deploys": d.count(),
        "successful_deploys": d.success.sum(),
        "change_failures": d.failure.sum(),
        "lead_median": d.lead_s.median(where=has_lead),
        "lead_p90": d.lead_s.quantile(0.9, where=has_lead),
        "lead_n": d.count(where=has_lead),
    }


def _incident_aggs(i: ir.Table) -> dict[str, ir.Value]:
    restored = i.restore_s.notnull()
    return {
        "incidents": i.count(),
        "restored": i.count(where=restored),
        "restore_median": i.restore_s.median(where=restored),
    }


def _rows(t: ir.Table, key: str | None, aggs: dict[str, ir.Value]) -> dict[Any, dict]:
    expr = t.group_by(key).agg(**aggs) if key else t.aggregate(**aggs)
    return {(r.pop(key) if key else None): r for r in expr.to_pyarrow().to_pylist()}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / HOUR


def _figures(group: str | None, dep: dict, inc: dict, days: float) -> DoraFigures:
    n = int(dep.get("deploys") or 0)
    ok = int(dep.get("successful_deploys") or 0)
    failures = int(dep.get("change_failures") or 0)
    per_day = ok / days if days > 0 else None
    cfr = failures / n if n else None
    lead = _hours(dep.get("lead_median"))
    restore = _hours(inc.get("restore_median"))
    return DoraFigures(
        group=group,
        deploys=n,
        successful_deploys=ok,
        change_failures=failures,
        deploys_per_day=per_day,
        deploys_per_week=None if per_day is None else per_day * 7,
        lead_time_median_hours=lead,
        lead_time_p90_hours=_hours(dep.get("lead_p90")),
        lead_time_changes=int(dep.get("lead_n") or 0),
        change_failure_rate=cfr,
        incidents=int(inc.get("incidents") or 0),
        restored_incidents=int(inc.get("restored") or 0),
        time_to_restore_median_hours=restore,
        bands=classify(per_day, lead, cfr, restore),
    )


def _span(d: ir.Table) -> tuple[datetime, datetime] | None:
    row = d.aggregate(lo=d.deployed_at.min(), hi=d.deployed_at.max()).to_pyarrow().to_pylist()[0]
    if row["lo"] is None:
        return None
    first = datetime.combine(row["lo"].date(), datetime.min.time())
    return first, datetime.combine(row["hi"].date(), datetime.min.time()) + timedelta(days=1)


def delivery_report(
    warehouse: Warehouse,
    *,
    by: GroupBy | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    service: str | None = None,
    team: str | None = None,
) -> DeliveryReport:
    """DORA figures for deploys in [start, end), overall, per ``by`` and per week.

    Without a window it runs from the day of the first deploy to the end of the
    day of the last one (whole UTC days), so ``days`` is never zero.

    >>> from impactlens.warehouse import Warehouse
    >>> wh = Warehouse.connect("duckdb://:memory:"); _ = wh.ensure_schema()
    >>> delivery_report(wh).overall.deploys
    0
    """
    if by not in (None, "service", "team"):
        raise UserError(f"cannot group delivery metrics by {by!r}; use service or team")
    # Materialise the joined facts once (a temporary table in the warehouse): every
    # aggregate below then compiles against a plain table instead of the joins.
    with (
        deploy_facts(warehouse).cache() as deploys,
        incident_facts(warehouse, deploys).cache() as incidents,
    ):
        return _report(deploys, incidents, by, start, end, service, team)


def _report(
    d: ir.Table,
    i: ir.Table,
    by: GroupBy | None,
    start: datetime | None,
    end: datetime | None,
    service: str | None,
    team: str | None,
) -> DeliveryReport:
    for column, value in (("service", service), ("team", team)):
        if value is not None:
            d, i = d.filter(d[column] == value), i.filter(i[column] == value)
    if start is None or end is None:
        span = _span(_window(d, "deployed_at", start, end))
        if span is not None:
            start, end = start or span[0], end or span[1]
    d, i = _window(d, "deployed_at", start, end), _window(i, "started_at", start, end)
    days = (end - start).total_seconds() / 86400 if start and end else 0.0

    dep, inc = _rows(d, None, _deploy_aggs(d)), _rows(i, None, _incident_aggs(i))
    overall = _figures(None, dep[None], inc[None], days)
    groups: list[DoraFigures] = []
    if by is not None:
        dep_rows, inc_rows = _rows(d, by, _deploy_aggs(d)), _rows(i, by, _incident_aggs(i))
        keys = sorted(set(dep_rows) | set(inc_rows), key=lambda k: (k is None, k or ""))
        groups = [_figures(k, dep_rows.get(k, {}), inc_rows.get(k, {}), days) for k in keys]
    return DeliveryReport(start, end, days, by, overall, tuple(groups), _weekly(d, i))


def _weekly(d: ir.Table, i: ir.Table) -> tuple[WeekFigures, ...]:
    dw = d.mutate(week=d.deployed_at.truncate("W"))
    iw = i.mutate(week=i.started_at.truncate("W"))
    dep, inc = _rows(dw, "week", _deploy_aggs(dw)), _rows(iw, "week", _incident_aggs(iw))
    weeks = []
    for week in sorted(set(dep) | set(inc)):
        f = _figures(None, dep.get(week, {}), inc.get(week, {}), 7.0)
        weeks.append(
            WeekFigures(
                week.date(),
                f.deploys,
                f.successful_deploys,
                f.change_failures,
                f.change_failure_rate,
                f.lead_time_median_hours,
                f.incidents,
                f.time_to_restore_median_hours,
            )
        )
    return tuple(weeks)


@dataclass(frozen=True)
class TeamView:
    """A team's speed and stability next to what its releases did for customers."""

    team: str | None
    deploys: int
    deploys_per_week: float | None
    lead_time_median_hours: float | None
    change_failure_rate: float | None
    time_to_restore_median_hours: float | None
    bands: DoraBands
    releases: int
    measured: int  # releases with a verdict from data (met, not_met, harmful, inconclusive)
    wins: int  # verdict met
    harmful: int
    measured_share: float | None  # measured / releases
    win_rate: float | None  # wins / measured

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def team_view(
    warehouse: Warehouse,
    measured: list[MeasuredRelease] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[TeamView]:
    """Per team: deploys, lead time, CFR, restore time beside its measured verdicts and wins.

    Teams come from both sides, so a team that deploys a lot but measures
    nothing shows up with ``measured = 0``. ``measured`` defaults to the
    release-impact service's verdicts.
    """
    if measured is None:
        measured = measured_releases(warehouse)
    dora = {g.group: g for g in delivery_report(warehouse, by="team", start=start, end=end).groups}
    outcomes: dict[str | None, list[MeasuredRelease]] = {}
    for m in measured:
        outcomes.setdefault(m.team, []).append(m)
    views = []
    for team in sorted(set(dora) | set(outcomes), key=lambda k: (k is None, k or "")):
        f = dora.get(team) or _figures(team, {}, {}, 0.0)
        items = outcomes.get(team, [])
        n_measured = sum(m.has_effect for m in items)
        wins = sum(m.verdict == "met" for m in items)
        views.append(
            TeamView(
                team=team,
                deploys=f.deploys,
                deploys_per_week=f.deploys_per_week,
                lead_time_median_hours=f.lead_time_median_hours,
                change_failure_rate=f.change_failure_rate,
                time_to_restore_median_hours=f.time_to_restore_median_hours,
                bands=f.bands,
                releases=len(items),
                measured=n_measured,
                wins=wins,
                harmful=sum(m.verdict == "harmful" for m in items),
                measured_share=n_measured / len(items) if items else None,
                win_rate=wins / n_measured if n_measured else None,
            )
        )
    return views


__all__ = [
    "DeliveryReport",
    "DeployFact",
    "DoraBands",
    "DoraFigures",
    "GroupBy",
    "IncidentFact",
    "ReleaseDelivery",
    "TeamView",
    "WeekFigures",
    "delivery_report",
    "release_delivery",
    "team_view",
]
