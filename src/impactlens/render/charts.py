"""Small charts: self-contained inline SVG for HTML, PNG through matplotlib.

Every analysis draws with the same three calls::

    svg = line_chart_svg([Series("error rate", days, values)], title="Error rate",
                         y_label="share", band=Band(days, low, high),
                         markers=[Marker(shipped_day, "search-v2")])
    svg = bar_chart_svg([Series("tickets", weeks, counts)], title="Tickets", y_label="tickets")
    save_chart(Path("out.png"), [Series(...)], title=..., y_label=...)   # .png, .svg or .html

x values may be dates, datetimes or numbers; a missing y (None or NaN) breaks
the line rather than drawing it to zero. The SVG needs no script or stylesheet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 48

X = date | datetime | float | int


@dataclass(frozen=True)
class Series:
    """One named line (or set of bars): x values and y values of the same length."""

    name: str
    x: Sequence[X]
    y: Sequence[float | None]


@dataclass(frozen=True)
class Band:
    """A shaded interval around a line, e.g. a confidence or prediction band."""

    x: Sequence[X]
    low: Sequence[float | None]
    high: Sequence[float | None]
    label: str = ""


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a label (a release, an experiment start)."""

    x: X
    label: str


def _num(x: X) -> float:
    if isinstance(x, datetime):
        return x.timestamp() / 86400
    if isinstance(x, date):
        return float(x.toordinal())
    return float(x)


def _ok(y: float | None) -> bool:
    return y is not None and not (isinstance(y, float) and math.isnan(y))


def _values(ys: Sequence[float | None]) -> list[float]:
    return [float(y) for y in ys if y is not None and _ok(y)]


def _label(x: X) -> str:
    if isinstance(x, datetime):
        return x.strftime("%Y-%m-%d %H:%M")
    if isinstance(x, date):
        return x.isoformat()
    return f"{x:g}"


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


class _Frame:
    """Maps data to pixels and draws axes, ticks and the title."""

    def __init__(self, xs: list[X], ys: list[float], title: str, y_label: str) -> None:
        self.xs = xs
        lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        if lo > 0 and lo < hi * 0.5:
            lo = 0.0
        if hi == lo:
            lo, hi = lo - 1, hi + 1
        pad = (hi - lo) * 0.05
        self.y0, self.y1 = lo - pad, hi + pad
        nums = [_num(x) for x in xs] or [0.0, 1.0]
        self.x0, self.x1 = min(nums), max(nums)
        if self.x1 == self.x0:
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1
        self.title, self.y_label = title, y_label

    def px(self, x: X) -> float:
        return LEFT + (_num(x) - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return TOP + (self.y1 - y) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)

    def axes(self) -> list[str]:
        out = [
            f'<text x="{LEFT}" y="20" font-size="14" font-weight="600">{escape(self.title)}</text>',
            f'<text x="14" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f}" font-size="11" '
            f'transform="rotate(-90 14 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f})" '
            f'text-anchor="middle">{escape(self.y_label)}</text>',
        ]
        for i in range(5):
            v = self.y0 + (self.y1 - self.y0) * i / 4
            y = self.py(v)
            out.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_fmt(v)}</text>'
            )
        xs = sorted(set(self.xs), key=_num)
        step = max(1, math.ceil(len(xs) / 6))
        for x in xs[::step]:
            out.append(
                f'<text x="{self.px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" '
                f'text-anchor="middle">{escape(_label(x))}</text>'
            )
        return out


def _svg(body: list[str], legend: list[str]) -> str:
    items = [
        f'<rect x="{LEFT + i * 150}" y="{HEIGHT - 18}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        f'<text x="{LEFT + i * 150 + 14}" y="{HEIGHT - 9}" font-size="11">{escape(name)}</text>'
        for i, name in enumerate(legend)
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="system-ui, sans-serif" role="img">'
        + "".join(body + items)
        + "</svg>"
    )


def line_chart_svg(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    band: Band | None = None,
    markers: Sequence[Marker] | None = None,
) -> str:
    """An inline SVG line chart; gaps where y is missing, an optional band and markers."""
    ys = [y for s in series for y in _values(s.y)]
    if band is not None:
        ys += _values([*band.low, *band.high])
    xs = [x for s in series for x in s.x] + list(band.x if band else [])
    frame = _Frame(xs + [m.x for m in markers or ()], ys, title, y_label)
    body = frame.axes()
    if band is not None:
        pts = [
            (x, float(lo), float(hi))
            for x, lo, hi in zip(band.x, band.low, band.high, strict=True)
            if lo is not None and hi is not None and _ok(lo) and _ok(hi)
        ]
        if pts:
            upper = " ".join(f"{frame.px(x):.1f},{frame.py(hi):.1f}" for x, _, hi in pts)
            lower = " ".join(f"{frame.px(x):.1f},{frame.py(lo):.1f}" for x, lo, _ in reversed(pts))
            body.append(f'<polygon points="{upper} {lower}" fill="#93c5fd" opacity="0.35"/>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        run: list[str] = []
        for x, y in [*zip(s.x, s.y, strict=True), (None, None)]:
            if x is not None and _ok(y):
                run.append(f"{frame.px(x):.1f},{frame.py(float(y)):.1f}")  # type: ignore[arg-type]
                continue
            if len(run) == 1:
                cx, cy = run[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            elif run:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>'
                )
            run = []
    for m in markers or ():
        x = frame.px(m.x)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#111827" '
            f'stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{TOP + 10}" font-size="10">{escape(m.label)}</text>'
        )
    return _svg(body, [s.name for s in series])


def bar_chart_svg(series: Sequence[Series], *, title: str, y_label: str) -> str:
    """An inline SVG bar chart; several series are drawn side by side per x."""
    ys = [y for s in series for y in _values(s.y)] + [0.0]
    xs = sorted({x for s in series for x in s.x}, key=_num)
    frame = _Frame(xs, ys, title, y_label)
    body = frame.axes()
    slot = (WIDTH - LEFT - RIGHT) / max(len(xs), 1)
    width = slot * 0.8 / max(len(series), 1)
    zero = frame.py(0.0)
    for i, s in enumerate(series):
        for x, y in zip(s.x, s.y, strict=True):
            if not _ok(y):
                continue
            left = (
                frame.px(x) - slot * 0.4 + i * width
                if len(xs) > 1
                else LEFT + slot * 0.1 + i * width
            )
            top = min(zero, frame.py(float(y)))  # type: ignore[arg-type]
            body.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{max(width - 1, 1):.1f}" '
                f'height="{abs(zero - frame.py(float(y))):.1f}" fill="{PALETTE[i % len(PALETTE)]}"/>'  # type: ignore[arg-type]
            )
    return _svg(body, [s.name for s in series])


def save_chart(
    path: Path | str,
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    kind: str = "line",
    band: Band | None = None,
    markers: Sequence[Marker] | None = None,
) -> Path:
    """Write a chart; ``.png`` via matplotlib, ``.svg`` as is, ``.html`` as a page with inline SVG."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        _save_png(path, series, title=title, y_label=y_label, kind=kind, band=band, markers=markers)
        return path
    if kind == "bar":
        svg = bar_chart_svg(series, title=title, y_label=y_label)
    else:
        svg = line_chart_svg(series, title=title, y_label=y_label, band=band, markers=markers)
    if suffix == ".svg":
        path.write_text(svg)
    elif suffix in (".html", ".htm"):
        path.write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body>{svg}</body></html>\n"
        )
    else:
        raise ValueError(f"cannot draw a chart to {path.name}: use .png, .svg or .html")
    return path


def _save_png(path: Path, series, *, title, y_label, kind, band, markers) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100), dpi=120)
    try:
        if band is not None:
            lows = [math.nan if not _ok(v) else v for v in band.low]
            highs = [math.nan if not _ok(v) else v for v in band.high]
            ax.fill_between(list(band.x), lows, highs, color="#93c5fd", alpha=0.35, linewidth=0)
        for i, s in enumerate(series):
            ys = [math.nan if not _ok(v) else v for v in s.y]
            color = PALETTE[i % len(PALETTE)]
            if kind == "bar":
                ax.bar(list(s.x), ys, color=color, label=s.name, alpha=0.85)
            else:
                ax.plot(list(s.x), ys, color=color, label=s.name, linewidth=1.8)
        for m in markers or ():
            ax.axvline(m.x, color="#111827", linestyle="--", linewidth=1)
            ax.annotate(m.label, (m.x, 1), xycoords=("data", "axes fraction"), fontsize=8, va="top")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylabel(y_label)
        ax.grid(axis="y", color="#e5e7eb")
        if series:
            ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
