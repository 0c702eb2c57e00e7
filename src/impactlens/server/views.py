"""The library calls behind the read API and the dashboard, shaped for display.

Each function makes the one library call a page or a route needs (status,
overview, metrics catalog, metric series) on the workspace's read connection
and returns frozen values both JSON routes and templates render. No SQL and no
statistics here: those live in ``service`` and ``metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from impactlens.errors import NotFoundError
from impactlens.server.runtime import WorkspaceRuntime
from impactlens.service.overview import Overview, workspace_overview
from impactlens.service.status import WarehouseStatus, warehouse_status


@dataclass(frozen=True)
class IngestView:
    pending_bytes: int
    loaded: int
    duplicates: int
    rejected: int
    batches: int
    quarantined_batches: int
    failing: bool


@dataclass(frozen=True)
class StatusView:
    workspace: str
    status: WarehouseStatus
    overview: Overview
    ingest: IngestView


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    description: str
    kind: str
    north_star: bool
    indicator: str | None
    higher_is_better: bool
    format: str
    segments: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    period: date
    value: float | None
    segment: str | None = None


@dataclass(frozen=True)
class SeriesView:
    metric: MetricInfo
    start: date | None
    end: date | None
    points: tuple[Point, ...]

    def by_segment(self) -> dict[str | None, tuple[Point, ...]]:
        groups: dict[str | None, list[Point]] = {}
        for p in self.points:
            groups.setdefault(p.segment, []).append(p)
        return {k: tuple(v) for k, v in groups.items()}


def ingest_view(runtime: WorkspaceRuntime) -> IngestView:
    s = runtime.loader.stats()
    return IngestView(
        pending_bytes=s.pending_bytes,
        loaded=s.loaded,
        duplicates=s.duplicates,
        rejected=s.rejected,
        batches=s.batches,
        quarantined_batches=s.quarantined_batches,
        failing=s.failing,
    )


def read_status(runtime: WorkspaceRuntime) -> StatusView:
    """Warehouse status and the workspace overview, read in one go."""
    status, overview = runtime.read(lambda wh: (warehouse_status(wh), workspace_overview(wh)))
    return StatusView(runtime.name, status, overview, ingest_view(runtime))


def _catalog(runtime: WorkspaceRuntime) -> Any:
    from impactlens.metrics import load_metrics

    return load_metrics(runtime.workspace.metrics_path)


def _info(metric: Any) -> MetricInfo:
    return MetricInfo(
        name=metric.name,
        label=metric.label,
        description=metric.description,
        kind=metric.kind,
        north_star=bool(metric.north_star),
        indicator=metric.indicator,
        higher_is_better=bool(metric.higher_is_better),
        format=metric.display_format,
        segments=tuple(metric.segments),
    )


def list_metrics(runtime: WorkspaceRuntime) -> tuple[MetricInfo, ...]:
    """The metrics of metrics.yaml, in file order."""
    return tuple(_info(m) for m in _catalog(runtime))


def read_metric_series(
    runtime: WorkspaceRuntime,
    name: str,
    *,
    by: str = "day",
    start: date | None = None,
    end: date | None = None,
    segment: str | None = None,
) -> SeriesView:
    """One metric over time; ``segment`` must be a segment the metric declares."""
    from impactlens.metrics import metric_series

    catalog = _catalog(runtime)
    metric = catalog.get(name)  # NotFoundError (404) names the closest metrics
    if segment is not None and segment not in metric.segments:
        known = ", ".join(metric.segments) or "none"
        raise NotFoundError(f"metric {name!r} has no segment {segment!r} (segments: {known})")
    series = runtime.read(
        lambda wh: metric_series(
            wh,
            metric,
            by=by,
            start=start,
            end=end,
            segment=segment,
            timezone=runtime.workspace.config.timezone,
        )
    )
    points = tuple(_points(series))
    return SeriesView(
        metric=_info(metric),
        start=start or (points[0].period if points else None),
        end=end or (points[-1].period if points else None),
        points=points,
    )


def _points(series: Any) -> list[Point]:
    rows = series.to_pylist() if hasattr(series, "to_pylist") else list(series)
    out = []
    for row in rows:
        period = row["period"]
        if isinstance(period, datetime):
            period = period.date()
        value = row.get("value")
        out.append(Point(period, None if value is None else float(value), row.get("segment")))
    return out
