"""The read API (``/api/v1/...``): what the dashboard shows, as JSON, described by OpenAPI.

Each route authenticates a read key (``Authorization: Bearer <key>``, Basic
with the key as username, or the dashboard cookie), makes one library call on
the key's workspace and returns its result.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict

from impactlens.server.auth import Unauthorized, cookie_key, header_key
from impactlens.server.runtime import WorkspaceRuntime
from impactlens.server.views import (
    IngestView,
    MetricInfo,
    SeriesView,
    list_metrics,
    read_metric_series,
    read_status,
)

router = APIRouter(prefix="/api/v1", tags=["read API"])

_SECURITY: dict[str, Any] = {"security": [{"bearerAuth": []}, {"basicAuth": []}]}
_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "No valid read key."}}


def read_runtime(request: Request) -> WorkspaceRuntime:
    """The workspace of the caller's read key (any caller with ``--open``)."""
    runtime = request.app.state.runtime
    key = header_key(request) or cookie_key(request)
    principal = runtime.keys.authenticate(key, "read") if key else None
    if principal is not None:
        return runtime.get(principal.workspace)
    if runtime.settings.open_access:
        return runtime.only
    raise Unauthorized()


Reader = Annotated[WorkspaceRuntime, Depends(read_runtime)]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityOut(Out):
    entity: str
    rows: int
    time_column: str | None
    first: datetime | None
    last: datetime | None


class WarehouseOut(Out):
    engine: str
    schema_version: int | None
    entities: list[EntityOut]
    identified_actors: int
    anonymous_actors: int
    imports: int
    event_parts: int
    event_part_rows: int


class OverviewOut(Out):
    last_event_at: str | None
    events_per_day_7d: float | None
    active_accounts_7d: int
    active_users_7d: int
    nps_90d: float | None
    nps_responses_90d: int
    mrr_latest: float | None
    mrr_period: str | None
    paying_accounts: int


class IngestOut(Out):
    pending_bytes: int
    loaded: int
    duplicates: int
    rejected: int
    batches: int
    quarantined_batches: int
    failing: bool


class StatusOut(Out):
    workspace: str
    status: WarehouseOut
    overview: OverviewOut
    ingest: IngestOut


class MetricOut(Out):
    name: str
    label: str
    description: str
    kind: str
    north_star: bool
    indicator: Literal["leading", "lagging"] | None
    higher_is_better: bool
    format: str
    segments: list[str]
    events: list[str]


class PointOut(Out):
    period: date
    value: float | None
    segment: str | None = None


class SeriesOut(Out):
    metric: MetricOut
    by: Literal["day", "week", "month"]
    start: date | None
    end: date | None
    segment: str | None
    points: list[PointOut]


def _ingest_out(view: IngestView) -> IngestOut:
    return IngestOut(**view.__dict__)


def _metric_out(info: MetricInfo) -> MetricOut:
    return MetricOut(
        **{**info.__dict__, "segments": list(info.segments), "events": list(info.events)}
    )


@router.get("/status", response_model=StatusOut, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def status(runtime: Reader) -> StatusOut:
    """Rows and time span of every entity, the workspace overview, and the ingest backlog."""
    view = read_status(runtime)
    return StatusOut(
        workspace=view.workspace,
        status=WarehouseOut.model_validate(
            {k: v for k, v in view.status.to_dict().items() if k != "url"}
        ),
        overview=OverviewOut.model_validate(view.overview.to_dict()),
        ingest=_ingest_out(view.ingest),
    )


@router.get(
    "/metrics", response_model=list[MetricOut], openapi_extra=_SECURITY, responses=_UNAUTHORIZED
)
def metrics(runtime: Reader) -> list[MetricOut]:
    """Every metric defined in the workspace's metrics.yaml, in file order."""
    return [_metric_out(m) for m in list_metrics(runtime)]


@router.get(
    "/metrics/{name}",
    response_model=SeriesOut,
    openapi_extra=_SECURITY,
    responses={**_UNAUTHORIZED, 404: {"description": "No such metric or segment."}},
)
def metric(
    runtime: Reader,
    name: Annotated[str, Path(max_length=200)],
    by: Annotated[Literal["day", "week", "month"], Query()] = "day",
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> SeriesOut:
    """The metric per day, week or month between ``from`` and ``to`` (inclusive).

    ``segment`` must be one of the metric's declared segments; values are
    compared as data, never pasted into a query.
    """
    view: SeriesView = read_metric_series(
        runtime, name, by=by, start=start, end=end, segment=segment
    )
    return SeriesOut(
        metric=_metric_out(view.metric),
        by=by,
        start=view.start,
        end=view.end,
        segment=segment,
        points=[PointOut(period=p.period, value=p.value, segment=p.segment) for p in view.points],
    )
