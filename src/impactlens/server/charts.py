"""Inline SVG line charts for the dashboard: offline, no script, no CDN.

``impactlens.render.charts.line_chart_svg`` is used when it exists (one chart
style across reports and dashboard); this small fallback keeps the dashboard
working until then. Every text that reaches the SVG is escaped here, because
the result is inserted into the page as markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class ChartSize:
    width: int
    height: int
    pad_left: int
    font: int
    ticks: int
    dots: bool


FULL = ChartSize(720, 240, 56, 11, 5, True)
COMPACT = ChartSize(360, 130, 44, 11, 3, False)
_PAD_R, _PAD_T, _PAD_B = 12, 12, 26


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round axis values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    span = hi - lo
    raw = span / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


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
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


PALETTE = ("#4f46e5", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
Line = tuple[str, Sequence[object], Sequence[float | None]]


def line_chart(
    lines: Sequence[Line], *, title: str, y_label: str = "", compact: bool = False
) -> Markup:
    """An SVG line chart, one line per ``(name, xs, ys)``; gaps where a value is None.

    Full-size charts come from ``impactlens.render.charts`` (the style of every
    report); the compact card charts of the overview are drawn here, with text
    sized for a third of the page.
    """
    if not compact:
        try:
            from impactlens.render.charts import Series, line_chart_svg
        except ImportError:
            pass
        else:
            series = [Series(name, list(xs), list(ys)) for name, xs, ys in lines]  # type: ignore[arg-type]
            return Markup(line_chart_svg(series, title=title, y_label=y_label))
    return Markup(_own_line_chart(lines, title=title, size=COMPACT if compact else FULL))


def _own_line_chart(lines: Sequence[Line], *, title: str, size: ChartSize) -> str:
    w, h = size.width, size.height
    values = [float(y) for _, _, ys in lines for y in ys if y is not None and _ok(y)]
    head = (
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{escape(title or "chart")}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )
    if not values:
        return (
            head + f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" fill="#6b7280" '
            'font-size="14">no data in this range</text></svg>'
        )
    lo, hi = min(values), max(values)
    # Zoom in on a series far from zero; otherwise keep zero on the axis.
    lo = lo - (hi - lo) * 0.2 if lo > 0 and lo / (hi or 1) > 0.5 else min(0.0, lo)
    if hi == lo:
        hi = lo + 1.0
    ticks = nice_ticks(lo, hi, size.ticks)
    lo, hi = min(ticks[0], lo), max(ticks[-1], hi)
    inner_w = w - size.pad_left - _PAD_R
    inner_h = h - _PAD_T - _PAD_B
    xs = list(lines[0][1])
    n = len(xs)

    def px(i: int) -> float:
        return size.pad_left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def py(v: float) -> float:
        return _PAD_T + inner_h * (1 - (v - lo) / (hi - lo))

    parts = [head]
    for v in ticks:  # horizontal grid with value labels
        y = py(v)
        parts.append(
            f'<line x1="{size.pad_left}" x2="{w - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{size.pad_left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280" '
            f'font-size="{size.font}">{escape(format_number(v))}</text>'
        )
    for i in sorted({0, n // 2, n - 1}) if n else []:
        anchor = "start" if i == 0 else ("end" if i == n - 1 and n > 1 else "middle")
        parts.append(
            f'<text x="{px(i):.1f}" y="{h - 8}" text-anchor="{anchor}" fill="#6b7280" '
            f'font-size="{size.font}">{escape(_label(xs[i]))}</text>'
        )
    index = {_label(x): i for i, x in enumerate(xs)}
    for k, (name, line_xs, ys) in enumerate(lines):
        color = PALETTE[k % len(PALETTE)]
        points: list[tuple[int, float] | None] = []
        for x, value in zip(line_xs, ys, strict=True):
            at = index.get(_label(x))
            good = at is not None and value is not None and _ok(value)
            points.append((at, float(value)) if good else None)  # type: ignore[arg-type]
        runs: list[list[str]] = [[]]
        for point in points:
            if point is None:
                runs.append([])
                continue
            runs[-1].append(f"{px(point[0]):.1f},{py(point[1]):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
                    'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>'
                )
        if size.dots and n <= 120:
            for point in points:
                if point is None:
                    continue
                i, y = point
                tip = f"{name}: {_label(xs[i])}: {format_number(y)}"
                parts.append(
                    f'<circle cx="{px(i):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}">'
                    f"<title>{escape(tip)}</title></circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def _ok(y: float | None) -> bool:
    return y is not None and not math.isnan(float(y))
