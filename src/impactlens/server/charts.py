"""Inline SVG line charts for the dashboard: offline, no script, no CDN.

``impactlens.render.charts.line_chart_svg`` is used when it exists (one chart
style across reports and dashboard); this small fallback keeps the dashboard
working until then. Every text that reaches the SVG is escaped here, because
the result is inserted into the page as markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from markupsafe import Markup

_W, _H = 720, 240
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 16, 16, 32


def _label(value: object) -> str:
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_number(value: float | None) -> str:
    """Compact figure for axes and cards: 1234 -> 1.2k, 0.1234 -> 0.123."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.1f}k"
    if magnitude >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def line_chart(
    xs: Sequence[object], ys: Sequence[float | None], *, title: str = "", unit: str = ""
) -> Markup:
    """An accessible SVG line chart of ``ys`` over ``xs`` (gaps where a value is None)."""
    try:
        from impactlens.render.charts import line_chart_svg  # type: ignore[import-not-found]
    except ImportError:
        line_chart_svg = None
    if line_chart_svg is not None:
        try:
            return Markup(line_chart_svg(list(xs), list(ys), title=title))
        except TypeError:  # a different signature while render is being built
            pass
    return Markup(_own_line_chart(xs, ys, title=title, unit=unit))


def _own_line_chart(
    xs: Sequence[object], ys: Sequence[float | None], *, title: str, unit: str
) -> str:
    values = [float(y) for y in ys if y is not None and not math.isnan(float(y))]
    head = (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title or "chart")}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )
    if not values:
        return (
            head + f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" fill="#6b7280" '
            'font-size="14">no data in this range</text></svg>'
        )
    lo, hi = min(values), max(values)
    # Zoom in on a series far from zero; otherwise keep zero on the axis.
    lo = lo - (hi - lo) * 0.2 if lo > 0 and lo / (hi or 1) > 0.5 else min(0.0, lo)
    if hi == lo:
        hi = lo + 1.0
    inner_w = _W - _PAD_L - _PAD_R
    inner_h = _H - _PAD_T - _PAD_B
    n = len(xs)

    def px(i: int) -> float:
        return _PAD_L + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def py(v: float) -> float:
        return _PAD_T + inner_h * (1 - (v - lo) / (hi - lo))

    parts = [head]
    for k in range(5):  # horizontal grid with value labels
        v = lo + (hi - lo) * k / 4
        y = py(v)
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{_PAD_L - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280" '
            f'font-size="11">{escape(format_number(v))}</text>'
        )
    for i in sorted({0, n // 2, n - 1}) if n else []:
        anchor = "start" if i == 0 else ("end" if i == n - 1 and n > 1 else "middle")
        parts.append(
            f'<text x="{px(i):.1f}" y="{_H - 10}" text-anchor="{anchor}" fill="#6b7280" '
            f'font-size="11">{escape(_label(xs[i]))}</text>'
        )
    runs: list[list[str]] = [[]]
    for i, y in enumerate(ys):
        if y is None or math.isnan(float(y)):
            runs.append([])
            continue
        runs[-1].append(f"{px(i):.1f},{py(float(y)):.1f}")
    for run in runs:
        if len(run) > 1:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="#4f46e5" '
                'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    if n <= 120:  # points with a tooltip while they stay readable
        for i, y in enumerate(ys):
            if y is None or math.isnan(float(y)):
                continue
            tip = f"{_label(xs[i])}: {format_number(float(y))}{(' ' + unit) if unit else ''}"
            parts.append(
                f'<circle cx="{px(i):.1f}" cy="{py(float(y)):.1f}" r="2.5" fill="#4f46e5">'
                f"<title>{escape(tip)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
