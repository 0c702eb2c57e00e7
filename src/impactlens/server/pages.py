"""The dashboard: server-rendered pages (Jinja2, autoescaped), no script at all.

Login is a read key entered once and kept in an HttpOnly, SameSite=Strict
cookie; ``impactlens serve --open`` skips it for local single-user use.
Navigation lists every analysis; one whose page has not landed yet shows a
"not yet available" page saying what it will show and the CLI to use meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from impactlens.errors import UserError
from impactlens.server.auth import COOKIE_NAME
from impactlens.server.charts import format_number, line_chart
from impactlens.server.routes_api import read_runtime
from impactlens.server.runtime import WorkspaceRuntime
from impactlens.server.views import (
    data_end,
    default_grain,
    known_segments,
    list_metrics,
    read_metric_series,
    read_status,
)

log = logging.getLogger("impactlens.server")
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class NavEntry:
    slug: str
    path: str
    label: str
    available: bool
    about: str = ""
    cli: str = ""


NAV: tuple[NavEntry, ...] = (
    NavEntry("overview", "/", "Overview", True),
    NavEntry("releases", "/releases", "Releases", True,
             "What each release moved: its metric against the counterfactual, with guardrails.",
             "impactlens releases review"),
    NavEntry("experiments", "/experiments", "Experiments", True,
             "Every experiment with its arms, effect, interval and decision.",
             "impactlens experiments analyze"),
    NavEntry("accounts", "/accounts", "Accounts", True,
             "Account health and churn risk, with the signals behind each score.",
             "impactlens accounts score"),
    NavEntry("backlog", "/backlog", "Backlog", True,
             "Candidate work ranked by estimated reach, impact and confidence.",
             "impactlens backlog rank"),
    NavEntry("delivery", "/delivery", "Delivery", True,
             "DORA metrics: deployment frequency, lead time, change failure rate, time to restore.",
             "impactlens delivery"),
    NavEntry("metrics", "/metrics", "Metrics", True),
)  # fmt: skip
_BY_SLUG = {n.slug: n for n in NAV}

_templates = Environment(
    loader=FileSystemLoader(str(resources.files("impactlens.server").joinpath("templates"))),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["num"] = format_number


def _fmt_value(value: float | None, fmt: str) -> str:
    if value is None:
        return "–"
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "currency":
        return f"${format_number(value)}"
    return format_number(value)


_templates.filters["metric_value"] = _fmt_value


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    runtime = getattr(request.app.state, "runtime", None)
    context.setdefault("active", "")
    html = _templates.get_template(template).render(
        nav=NAV,
        open_access=bool(runtime and runtime.settings.open_access),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status, status=status, message=message, workspace=None)


def render_login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page_runtime(request: Request) -> WorkspaceRuntime:
    return read_runtime(request)


Page = Annotated[WorkspaceRuntime, Depends(page_runtime)]


def _safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), failed=False, workspace=None)


@router.post("/login")
async def login(request: Request) -> Response:
    if not _same_origin(request):
        return render_error(request, 403, "cross-site login refused")
    body = await request.body()
    if len(body) > 4096:
        return render_error(request, 413, "the login form is too large")
    form = parse_qs(body.decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    if request.app.state.runtime.keys.authenticate(key, "read") is None:
        return render(request, "login.html", 401, next=target, failed=True, workspace=None)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not _same_origin(request):
        return render_error(request, 403, "cross-site logout refused")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


CARDS_PER_KIND = 3
MAX_LINES = 7  # segments drawn in one chart; the rest are in the table


def _metric_cards(
    runtime: WorkspaceRuntime, start: date | None, end: date | None
) -> tuple[list[dict], list, str | None]:
    """North star and the first leading and lagging indicators, each with a chart.

    Returns the cards, the indicators left without a chart (listed as links) and
    a note when the metrics layer or metrics.yaml is not usable.
    """
    try:
        metrics = list_metrics(runtime)
    except (ImportError, UserError) as exc:
        return [], [], f"Metrics are not available: {exc}"
    north = [m for m in metrics if m.north_star]
    leading = [m for m in metrics if not m.north_star and m.indicator == "leading"]
    lagging = [m for m in metrics if not m.north_star and m.indicator == "lagging"]
    picked = north[:1] + leading[:CARDS_PER_KIND] + lagging[:CARDS_PER_KIND]
    rest = [m for m in (*north, *leading, *lagging) if m not in picked]
    end = end or date.today()
    first = max(start, end - timedelta(weeks=26)) if start else None
    cards = []
    for metric in picked:
        grain = "month" if default_grain(metric) == "month" else "week"
        since = (
            end - timedelta(days=365) if grain == "month" else first or end - timedelta(weeks=26)
        )
        try:
            view = read_metric_series(runtime, metric.name, by=grain, start=since, end=end)
        except (ImportError, UserError) as exc:
            cards.append({"metric": metric, "error": str(exc)})
            continue
        xs = [p.period for p in view.points]
        ys = [p.value for p in view.points]
        latest = next((y for y in reversed(ys) if y is not None), None)
        chart = line_chart(
            [(metric.label, xs, ys)],
            title=f"{metric.label} per {grain}",
            y_label=metric.format,
            compact=not metric.north_star,
        )
        cards.append({"metric": metric, "latest": latest, "chart": chart, "grain": grain})
    return cards, rest, None


def overview_data(runtime: WorkspaceRuntime) -> tuple[Any, list[dict], list, str | None]:
    view = read_status(runtime)
    events = next(e for e in view.status.entities if e.entity == "events")
    start = events.first.date() if events.first else None
    return (view, *_metric_cards(runtime, start, data_end(view.status)))


def warm_overview(runtime: WorkspaceRuntime) -> None:
    """Compute the overview once in the background so the first visit is quick."""
    try:
        overview_data(runtime)
    except Exception:  # a warm-up is best effort; the page reports its own errors
        log.debug("overview warm-up failed", exc_info=True)


@router.get("/")
def overview(request: Request, runtime: Page) -> HTMLResponse:
    from impactlens.server.views_analyses import peek_review

    view, cards, rest, note = overview_data(runtime)
    return render(
        request, "overview.html", active="overview", workspace=runtime.name,
        view=view, cards=cards, more=rest, metrics_note=note,
        releases_review=peek_review(runtime),
    )  # fmt: skip


@router.get("/metrics")
def metrics_page(request: Request, runtime: Page) -> HTMLResponse:
    try:
        metrics = list_metrics(runtime)
        note = None
    except (ImportError, UserError) as exc:
        metrics, note = (), f"Metrics are not available: {exc}"
    groups = {
        "North star": [m for m in metrics if m.north_star],
        "Leading indicators": [m for m in metrics if not m.north_star and m.indicator == "leading"],
        "Lagging indicators": [m for m in metrics if not m.north_star and m.indicator == "lagging"],
        "Other metrics": [m for m in metrics if not m.north_star and m.indicator is None],
    }
    return render(
        request, "metrics.html", active="metrics", workspace=runtime.name,
        groups=groups, note=note,
    )  # fmt: skip


@router.get("/metrics/{name}")
def metric_page(
    request: Request,
    runtime: Page,
    name: str,
    grain: Annotated[Literal["day", "week", "month"] | None, Query(alias="by")] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    segment: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    info = next((m for m in list_metrics(runtime) if m.name == name), None)
    by: str = grain or (default_grain(info) if info else "day")
    view = read_metric_series(runtime, name, by=by, start=start, end=end, segment=segment or None)
    groups = list(view.by_segment().items())
    lines = [
        (view.metric.label if key is None else key, [p.period for p in points],
         [p.value for p in points])
        for key, points in groups[:MAX_LINES]
    ]  # fmt: skip
    title = f"{view.metric.label} per {by}" + (f" by {segment}" if segment else "")
    chart = line_chart(lines, title=title, y_label=view.metric.format)
    hidden = max(0, len(groups) - MAX_LINES)
    return render(
        request, "metric.html", active="metrics", workspace=runtime.name,
        view=view, chart=chart, hidden=hidden, by=by, segment=segment or "",
        segments=known_segments(view.metric),
    )  # fmt: skip


def _unavailable(entry: NavEntry):
    def page(request: Request, runtime: Page) -> HTMLResponse:
        return render(
            request, "unavailable.html", active=entry.slug, workspace=runtime.name, entry=entry
        )

    page.__name__ = f"{entry.slug}_page"
    return page


for _entry in NAV:
    if not _entry.available:
        router.add_api_route(_entry.path, _unavailable(_entry), methods=["GET"])
