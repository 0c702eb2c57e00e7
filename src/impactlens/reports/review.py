"""Render an ImpactReview as one self-contained HTML file, Markdown, or JSON.

The HTML needs nothing from the network: CSS is inline and every chart is an
inline SVG drawn by ``render.charts``. Rendering never queries the warehouse.
"""

from __future__ import annotations

import json
import math
from datetime import date
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape

from impactlens.render.charts import Band, Marker, Series, line_chart_svg
from impactlens.service.portfolio_chart import portfolio_svg
from impactlens.service.releases import ReleaseImpact
from impactlens.service.review import ImpactReview

VERDICT_LABELS = {
    "met": "met",
    "not_met": "not met",
    "harmful": "harmful",
    "inconclusive": "inconclusive",
    "too_early": "too early",
    "no_hypothesis": "no hypothesis",
}


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:+.{digits}f}%"


def num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def release_chart(impact: ReleaseImpact) -> str | None:
    """The metric per day, the counterfactual band and the ship day, as inline SVG."""
    p = impact.primary
    if p is None or p.chart is None or not p.chart.days:
        return None
    days = [date.fromisoformat(d) for d in p.chart.days]
    series = [Series(p.chart.observed_label or p.label, days, list(p.chart.observed))]
    if p.chart.comparison:
        series.append(Series(p.chart.comparison_label, days, list(p.chart.comparison)))
    band = None
    if p.chart.predicted:
        series.append(Series("counterfactual", days, list(p.chart.predicted)))
        band = Band(days, list(p.chart.lower), list(p.chart.upper))
    ship = days[min(p.chart.ship_index, len(days) - 1)]
    return line_chart_svg(
        series, title=f"{impact.release.release_id}: {p.label}", y_label=p.label,
        band=band, markers=[Marker(ship, "shipped")],
    )  # fmt: skip


def indicator_chart(ind: Any) -> str:
    weeks = [date.fromisoformat(w) for w in ind.weeks]
    return line_chart_svg(
        [Series(ind.label, weeks, list(ind.values))], title=ind.label, y_label=ind.label
    )


def _env() -> Environment:
    env = Environment(
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    env.globals["verdict_label"] = lambda v: VERDICT_LABELS.get(v, v)
    return env


def _template(name: str) -> str:
    return resources.files("impactlens.reports").joinpath("templates", name).read_text()


def render_html(review: ImpactReview) -> str:
    """The review as one HTML page that opens offline."""
    env = _env()
    charts = {r.release.release_id: release_chart(r) for r in review.releases}
    return env.from_string(_template("review.html.j2")).render(
        review=review,
        charts=charts,
        indicator_charts={i.metric: indicator_chart(i) for i in review.indicators},
        portfolio_chart=portfolio_svg(review.portfolio) if review.portfolio.points else None,
    )


def render_markdown(review: ImpactReview) -> str:
    """The review as Markdown, for a doc or a chat message."""
    env = _env()
    env.autoescape = False
    return env.from_string(_template("review.md.j2")).render(review=review)


def render_json(review: ImpactReview) -> str:
    return json.dumps(review.to_dict(), indent=2, default=str)


def render(review: ImpactReview, fmt: str) -> str:
    return {"html": render_html, "md": render_markdown, "json": render_json}[fmt](review)
