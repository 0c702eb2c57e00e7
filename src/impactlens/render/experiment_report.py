"""Render an experiment readout: one self-contained HTML page, Markdown, and its charts.

Two charts per readout: a forest plot (every metric's lift with its interval,
one row per metric and arm) and, per metric, the cumulative lift by exposure
day with its interval. Both are inline SVG, so the HTML opens offline; the
Markdown links the same SVGs written next to it. Rendering never queries.

    html = render_html(readout)
    write_readout(readout, Path("readout.html"))   # or .md (+ readout_charts/*.svg)
"""

from __future__ import annotations

import math
import re
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape

from impactlens.errors import UserError
from impactlens.render.charts import Band, Series, line_chart_svg

OUTCOME_COLORS = {"better": "#16a34a", "worse": "#dc2626", "inconclusive": "#4b5563"}
WIDTH, ROW, LABEL, PAD = 720, 30, 260, 24


def pct(value: float | None, signed: bool = True) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def num(value: float | None) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value:,.4g}" if abs(value) < 10_000 else f"{value:,.0f}"


def metric_value(value: float | None, statistic: str) -> str:
    """A proportion as a percentage, anything else as a number."""
    return pct(value, signed=False) if statistic == "proportion" else num(value)


def p_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _rows(readout: Any) -> list[tuple[str, Any]]:
    return [
        (f"{m.label} ({m.role})" + (f" · {c.variation}" if len(m.comparisons) > 1 else ""), c)
        for m in readout.metrics
        for c in m.comparisons
    ]


def forest_plot_svg(readout: Any) -> str:
    """Every metric's relative lift and interval against a zero line, coloured by outcome."""
    rows = _rows(readout)
    drawable = [
        c for _, c in rows if c.relative and math.isfinite(c.ci_lower) and math.isfinite(c.ci_upper)
    ]
    lo = min([c.ci_lower for c in drawable] + [0.0])
    hi = max([c.ci_upper for c in drawable] + [0.0])
    span = (hi - lo) or 0.1
    lo, hi = lo - span * 0.08, hi + span * 0.08
    height = PAD * 2 + ROW * max(len(rows), 1) + 20

    def x(v: float) -> float:
        return LABEL + (v - lo) / (hi - lo) * (WIDTH - LABEL - 40)

    body = [
        f'<text x="8" y="18" font-size="14" font-weight="600">Lift by metric '
        f"({1 - readout.alpha:.0%} {'credible' if readout.method == 'bayesian' else 'confidence'}"
        " intervals)</text>",
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{PAD}" y2="{height - 28}" stroke="#111827" '
        'stroke-dasharray="4 3"/>',
    ]
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        body.append(
            f'<text x="{x(v):.1f}" y="{height - 10}" font-size="10" text-anchor="middle">'
            f"{pct(v)}</text>"
        )
    for i, (label, c) in enumerate(rows):
        y = PAD + ROW * i + ROW / 2
        body.append(f'<text x="8" y="{y + 4:.1f}" font-size="11">{escape(label[:42])}</text>')
        if c not in drawable:
            reason = c.error or "absolute difference (no lift)"
            body.append(
                f'<text x="{LABEL}" y="{y + 4:.1f}" font-size="11" fill="#6b7280">'
                f"not drawn: {escape(reason)}</text>"
            )
            continue
        color = OUTCOME_COLORS.get(c.outcome, "#4b5563")
        body.append(
            f'<line x1="{x(c.ci_lower):.1f}" x2="{x(c.ci_upper):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{color}" stroke-width="2.5"/>'
            f'<circle cx="{x(c.effect):.1f}" cy="{y:.1f}" r="4.5" fill="{color}">'
            f"<title>{escape(label)}: {pct(c.effect)} [{pct(c.ci_lower)}, {pct(c.ci_upper)}]"
            "</title></circle>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" font-family="system-ui, sans-serif" role="img">'
        + "".join(body)
        + "</svg>"
    )


def cumulative_chart_svg(metric: Any, comparison: Any) -> str | None:
    """Cumulative lift among units exposed up to each day, with its interval."""
    points = comparison.timeline
    if len(points) < 2 or not comparison.relative:
        return None
    days = [p.day for p in points]
    series = [
        Series("cumulative lift", days, [p.effect for p in points]),
        Series("no effect", days, [0.0] * len(days)),
    ]
    band = Band(days, [p.ci_lower for p in points], [p.ci_upper for p in points], "interval")
    return line_chart_svg(
        series,
        title=f"{metric.label}: {comparison.variation} vs {comparison.control}, cumulative lift "
        "by exposure day",
        y_label="relative lift",
        band=band,
    )


def charts(readout: Any) -> dict[str, str]:
    """Every chart of the readout by a file-safe name: ``forest`` and one per metric and arm."""
    out = {"forest": forest_plot_svg(readout)}
    for m in readout.metrics:
        for c in m.comparisons:
            svg = cumulative_chart_svg(m, c)
            if svg is not None:
                out[_slug(f"{m.metric}-{c.variation}")] = svg
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")


def _env(html: bool) -> Environment:
    env = Environment(
        autoescape=select_autoescape(default=html, default_for_string=html),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters |= {"pct": pct, "num": num, "p": p_text}
    env.globals |= {"metric_value": metric_value, "slug": _slug, "isfinite": math.isfinite}
    return env


def _template(name: str) -> str:
    return resources.files("impactlens.render").joinpath("templates", name).read_text()


def render_html(readout: Any) -> str:
    """The readout as one HTML page: inline CSS and SVG, no script, no network."""
    env = _env(html=True)
    return env.from_string(_template("experiment.html.j2")).render(
        r=readout, charts=charts(readout)
    )


def render_markdown(readout: Any, chart_dir: str | None = None) -> str:
    """The readout as Markdown; with ``chart_dir``, image links to the charts saved there."""
    env = _env(html=False)
    names = charts(readout) if chart_dir else {}
    links = {name: f"{chart_dir}/{name}.svg" for name in names}
    return env.from_string(_template("experiment.md.j2")).render(r=readout, links=links)


HTML_SUFFIXES, MARKDOWN_SUFFIXES = (".html", ".htm"), (".md", ".markdown")


def check_readout_path(path: Path | str) -> Path:
    """The path, if a readout can be written there (say so before any work is done)."""
    path = Path(path)
    if path.suffix.lower() not in HTML_SUFFIXES + MARKDOWN_SUFFIXES:
        raise UserError(f"cannot write a readout to {path.name}: use a .html or .md file")
    return path


def write_readout(readout: Any, path: Path | str) -> list[Path]:
    """Write ``.html``/``.htm`` (self-contained) or ``.md`` (+ ``<stem>_charts/*.svg``)."""
    path = check_readout_path(path)
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        path.write_text(render_html(readout))
        return [path]
    folder = path.with_name(f"{path.stem}_charts")
    folder.mkdir(parents=True, exist_ok=True)
    written = [path]
    for name, svg in charts(readout).items():
        target = folder / f"{name}.svg"
        target.write_text(svg)
        written.append(target)
    path.write_text(render_markdown(readout, chart_dir=folder.name))
    return written
