"""The library calls behind the read API and the dashboard, shaped for display.

Each function makes the one library call a page or a route needs (status,
overview, metrics catalog, metric series) on the workspace's read connection
and returns frozen values both JSON routes and templates render. No SQL and no
statistics here: those live in ``service`` and ``metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from impactlens.errors import NotFoundError, UserError
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
    events: tuple[str, ...] = ()


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
    status, overview = runtime.cached(
        ("status",), lambda: runtime.read(lambda wh: (warehouse_status(wh), workspace_overview(wh)))
    )
    return StatusView(runtime.name, status, overview, ingest_view(runtime))


def _catalog(runtime: WorkspaceRuntime) -> Any:
    from impactlens.metrics import load_metrics

    return load_metrics(runtime.workspace.metrics_path)


def _info(metric: Any) -> MetricInfo:
    from impactlens.metrics.spec import referenced_events

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
        events=tuple(referenced_events(metric)),
    )


def list_metrics(runtime: WorkspaceRuntime) -> tuple[MetricInfo, ...]:
    """The metrics of metrics.yaml, in file order."""
    return runtime.cached(("metrics",), lambda: tuple(_info(m) for m in _catalog(runtime)))


# Shorthand segments every metric can be cut by (account attributes); a metric adds its own.
COMMON_SEGMENTS = ("plan", "segment")
DEFAULT_SPAN = {
    "day": timedelta(days=90),
    "week": timedelta(weeks=26),
    "month": timedelta(days=365),
}


def known_segments(metric: MetricInfo) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*metric.segments, *COMMON_SEGMENTS)))


def data_end(status: WarehouseStatus) -> date | None:
    """The latest day with a dated row of any entity (the default end of a chart)."""
    lasts = [e.last for e in status.entities if e.last is not None]
    return max(lasts).date() if lasts else None


def default_grain(metric: MetricInfo) -> str:
    """Revenue metrics are monthly; everything else reads best per day."""
    return "month" if metric.kind == "revenue" else "day"


def read_metric_series(
    runtime: WorkspaceRuntime,
    name: str,
    *,
    by: str = "day",
    start: date | None = None,
    end: date | None = None,
    segment: str | None = None,
) -> SeriesView:
    """One metric per day, week or month over [start, end] (inclusive days).

    Without a range: the last 90 days, 26 weeks or 12 months of data. ``segment``
    must be one of the metric's segments or a common one (``plan``, ``segment``);
    it reaches the metrics layer as a validated field name, values as data.
    """
    from impactlens.metrics import metric_series

    catalog = _catalog(runtime)
    metric = catalog.get(name)  # NotFoundError (404) names the closest metrics
    info = _info(metric)
    if segment is not None and segment not in known_segments(info):
        known = ", ".join(known_segments(info))
        raise NotFoundError(f"metric {name!r} has no segment {segment!r}; use one of {known}")
    if start is not None and end is not None and end < start:
        raise UserError(f"'to' ({end}) is before 'from' ({start})")

    if end is None:
        end = data_end(read_status(runtime).status) or date.today()
    stop = end + timedelta(days=1)
    first = start or stop - DEFAULT_SPAN[by]

    def query(wh: Any) -> Any:
        return metric_series(
            wh, metric, grain=by, start=first, end=stop,
            timezone=runtime.workspace.config.timezone, segment=segment, catalog=catalog,
        )  # fmt: skip

    frame = runtime.cached(("series", name, by, start, end, segment), lambda: runtime.read(query))
    return SeriesView(
        metric=info,
        start=frame.start,
        end=frame.end - timedelta(days=1),
        points=tuple(_points(frame.rows(), segment is not None)),
    )


def _points(rows: list[dict[str, Any]], segmented: bool) -> list[Point]:
    out = []
    for row in rows:
        period = row["period_start"]
        if isinstance(period, datetime):
            period = period.date()
        value = row.get("value")
        label = row.get("segment") if segmented else None
        out.append(
            Point(
                period,
                None if value is None else float(value),
                None if label is None else str(label),
            )
        )
    return out
