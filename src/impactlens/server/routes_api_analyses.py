"""The read API for the analyses (``/api/v1/...``): releases, review, experiments, accounts,
backlog and delivery, as JSON, described by OpenAPI.

Same read-key authentication as ``routes_api``; each route makes one library
call (through ``views_analyses``, cached per data state) and returns the
result's ``to_dict()``, with non-finite numbers as null.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from impactlens.server import views_analyses as views
from impactlens.server.routes_api import _SECURITY, _UNAUTHORIZED, Reader

router = APIRouter(prefix="/api/v1", tags=["analyses"])

Json = dict[str, Any]
_NOT_FOUND = {**_UNAUTHORIZED, 404: {"description": "No such item."}}
Id = Annotated[str, Path(max_length=200)]


def plain(value: Any) -> Any:
    """JSON-safe: NaN/inf as null, dates as ISO strings, tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


@router.get("/review", response_model=Json, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def review(runtime: Reader) -> Json:
    """The impact review of the last 180 days: releases with verdicts, impact coverage
    (overall and per team), indicators, experiments without a decision, delivery facts."""
    return plain(views.read_review(runtime).to_dict())


@router.get("/releases", response_model=Json, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def releases(runtime: Reader) -> Json:
    """Releases shipped in the last 180 days, each with its estimate and verdict
    (met, not_met, harmful, inconclusive, too_early, no_hypothesis), and impact coverage."""
    rv = views.read_review(runtime)
    return plain(
        {
            "start": rv.start,
            "end": rv.end,
            "shipped": rv.shipped,
            "measured": rv.measured,
            "coverage": rv.coverage,
            "coverage_by_team": [
                {
                    "team": t.team,
                    "shipped": t.shipped,
                    "measured": t.measured,
                    "missing": t.missing,
                    "share": t.share,
                }
                for t in rv.coverage_by_team
            ],  # fmt: skip
            "releases": [r.to_dict() for r in rv.releases],
        }
    )


@router.get(
    "/releases/{release_id}", response_model=Json, openapi_extra=_SECURITY, responses=_NOT_FOUND
)
def release(runtime: Reader, release_id: Id) -> Json:
    """One release: the estimate on its hypothesis metric with the counterfactual series,
    the verdict and its plain statement, guardrails, notes, and its deploys and incidents."""
    impact = views.read_release(runtime, release_id)
    delivery = views.read_release_delivery(runtime, release_id)
    return plain({"impact": impact.to_dict(), "delivery": delivery and delivery.to_dict()})


@router.get(
    "/experiments", response_model=list[Json], openapi_extra=_SECURITY, responses=_UNAUTHORIZED
)
def experiments(runtime: Reader) -> list[Json]:
    """Every declared experiment: running or ended, exposed users, and the decision taken."""
    return plain([s.to_dict() for s in views.read_experiments(runtime)])


@router.get(
    "/experiments/{experiment_id}",
    response_model=Json,
    openapi_extra=_SECURITY,
    responses=_NOT_FOUND,
)
def experiment(runtime: Reader, experiment_id: Id) -> Json:
    """The readout: exposure, sample-ratio check, each metric's lift and interval, and the
    ship / iterate / abandon recommendation (frequentist, Holm, CUPED)."""
    return plain(views.read_experiment(runtime, experiment_id).to_dict())


@router.get("/accounts", response_model=Json, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def accounts(
    runtime: Reader,
    at_risk: Annotated[bool, Query()] = False,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> Json:
    """Current accounts ranked by ARR at risk: health score and band, churn risk, reasons."""
    return plain(views.read_accounts(runtime, at_risk=at_risk, segment=segment).to_dict())


@router.get(
    "/accounts/{account_id}", response_model=Json, openapi_extra=_SECURITY, responses=_NOT_FOUND
)
def account(runtime: Reader, account_id: Id) -> Json:
    """One account: health history and components, churn risk, tickets, comments, releases."""
    return plain(views.read_account(runtime, account_id).to_dict())


@router.get("/backlog", response_model=Json, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def backlog(
    runtime: Reader,
    by: Annotated[Literal["rice", "roi"], Query()] = "rice",
    weight: Annotated[Literal["users", "accounts", "arr"], Query()] = "users",
) -> Json:
    """The backlog ranked by RICE or ROI; every factor with its value, whether it was
    estimated, and its source."""
    return plain(views.read_backlog(runtime, by=by, weight=weight).to_dict())


@router.get("/delivery", response_model=Json, openapi_extra=_SECURITY, responses=_UNAUTHORIZED)
def delivery(runtime: Reader, by: Annotated[Literal["team", "service"], Query()] = "team") -> Json:
    """DORA figures (deploy frequency, lead time, change failure rate, time to restore) with
    their bands, overall, per team or service, and per week."""
    return plain(views.read_delivery(runtime, by=by).to_dict())


@router.get(
    "/delivery/teams", response_model=list[Json], openapi_extra=_SECURITY, responses=_UNAUTHORIZED
)
def delivery_teams(runtime: Reader) -> list[Json]:
    """Per team: speed and stability beside its releases' measured verdicts and wins."""
    return plain([t.to_dict() for t in views.read_team_view(runtime)])
