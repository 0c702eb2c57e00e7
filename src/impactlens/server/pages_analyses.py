"""Dashboard pages for the analyses: releases (and the review), experiments, accounts,
backlog and delivery. Server-rendered, autoescaped, no script; only the SVG our
chart code draws (which escapes its labels) is inserted as markup.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from impactlens.server import views_analyses as views
from impactlens.server.charts import format_number, line_chart
from impactlens.server.pages import Page, _templates, render

router = APIRouter(include_in_schema=False)

VERDICT_LABELS = {
    "met": "met", "not_met": "not met", "harmful": "harmful", "inconclusive": "inconclusive",
    "too_early": "too early", "no_hypothesis": "no hypothesis",
}  # fmt: skip


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.0f}%"


def _money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"${format_number(value)}"


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


_templates.filters |= {"pct": _pct, "money": _money, "hours": _hours}
_templates.globals["verdict_label"] = lambda v: VERDICT_LABELS.get(v, str(v).replace("_", " "))


# Releases -------------------------------------------------------------------------


@router.get("/releases")
def releases_page(request: Request, runtime: Page) -> HTMLResponse:
    review = views.read_review(runtime)
    return render(
        request, "releases.html", active="releases", workspace=runtime.name, review=review,
        days=views.REVIEW_DAYS,
    )  # fmt: skip


@router.get("/releases/{release_id}")
def release_page(request: Request, runtime: Page, release_id: str) -> HTMLResponse:
    impact = views.read_release(runtime, release_id)
    svg = views.release_chart_svg(impact)
    return render(
        request, "release.html", active="releases", workspace=runtime.name, r=impact,
        chart=Markup(svg) if svg else None,
        delivery=views.read_release_delivery(runtime, release_id),
    )  # fmt: skip


@router.get("/review.html")
def review_download(runtime: Page) -> Response:
    """The full impact review as one offline HTML file (inline CSS, so a download: the
    dashboard's content policy allows no inline style)."""
    return Response(
        views.review_html(runtime),
        media_type="text/html",
        headers={"Content-Disposition": 'attachment; filename="impact-review.html"'},
    )


# Experiments ----------------------------------------------------------------------


@router.get("/experiments")
def experiments_page(request: Request, runtime: Page) -> HTMLResponse:
    return render(
        request, "experiments.html", active="experiments", workspace=runtime.name,
        experiments=views.read_experiments(runtime),
    )  # fmt: skip


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, runtime: Page, experiment_id: str) -> HTMLResponse:
    readout = views.read_experiment(runtime, experiment_id)
    charts = {k: Markup(v) for k, v in views.experiment_charts(readout).items()}
    forest = charts.pop("forest", None)
    return render(
        request, "experiment.html", active="experiments", workspace=runtime.name,
        r=readout, forest=forest, charts=charts,
    )  # fmt: skip


# Accounts -------------------------------------------------------------------------


@router.get("/accounts")
def accounts_page(
    request: Request,
    runtime: Page,
    at_risk: Annotated[bool, Query(alias="at-risk")] = False,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    listing = views.read_accounts(runtime, at_risk=at_risk, segment=segment or None)
    segments = sorted(
        {r.segment for r in views.read_accounts(runtime).rows if r.segment is not None}
    )
    return render(
        request, "accounts.html", active="accounts", workspace=runtime.name, a=listing,
        at_risk=at_risk, segment=segment or "", segments=segments,
    )  # fmt: skip


@router.get("/accounts/{account_id}")
def account_page(request: Request, runtime: Page, account_id: str) -> HTMLResponse:
    d = views.read_account(runtime, account_id)
    chart = None
    if d.history:
        weeks = [date.fromisoformat(h["week_start"]) for h in d.history]
        chart = line_chart(
            [("health score", weeks, [h["score"] for h in d.history])],
            title=f"Health of {d.row.name if d.row and d.row.name else account_id} per week",
            y_label="score (0-100)",
        )
    return render(
        request, "account.html", active="accounts", workspace=runtime.name, d=d, chart=chart
    )


# Backlog and delivery -------------------------------------------------------------


@router.get("/backlog")
def backlog_page(
    request: Request,
    runtime: Page,
    by: Annotated[Literal["rice", "roi"], Query()] = "rice",
    weight: Annotated[Literal["users", "accounts", "arr"], Query()] = "users",
) -> HTMLResponse:
    return render(
        request, "backlog.html", active="backlog", workspace=runtime.name,
        ranking=views.read_backlog(runtime, by=by, weight=weight), by=by, weight=weight,
    )  # fmt: skip


@router.get("/delivery")
def delivery_page(
    request: Request,
    runtime: Page,
    by: Annotated[Literal["team", "service"], Query()] = "team",
) -> HTMLResponse:
    report = views.read_delivery(runtime, by=by)
    weeks = [w.week_start for w in report.weekly]
    chart = (
        line_chart(
            [
                ("deploys", weeks, [float(w.deploys) for w in report.weekly]),
                ("change failures", weeks, [float(w.change_failures) for w in report.weekly]),
            ],
            title="Deploys and change failures per week",
            y_label="count",
        )  # fmt: skip
        if len(weeks) > 1
        else None
    )
    return render(
        request, "delivery.html", active="delivery", workspace=runtime.name, report=report,
        teams=views.read_team_view(runtime), by=by, chart=chart,
    )  # fmt: skip
