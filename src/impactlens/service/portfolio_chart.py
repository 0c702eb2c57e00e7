"""The portfolio scatter: effort (x) against measured effect (y), one point per release.

``impactlens.render.charts`` draws lines and bars but no scatter yet, so this
small one lives here (move it there when it grows one). Points carry their
interval as a vertical bar, are coloured by action and labelled with the
release id; a dashed line marks the smallest effect worth having. SVG is
self-contained (no script, no stylesheet); PNG goes through matplotlib's
object API (no pyplot state).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from impactlens.errors import UserError
from impactlens.service.portfolio import Portfolio, PortfolioPoint

COLOURS = {
    "double_down": "#16a34a",
    "iterate": "#2563eb",
    "keep": "#0891b2",
    "hold": "#9ca3af",
    "stop": "#dc2626",
}
LABELS = {
    "double_down": "double down",
    "iterate": "iterate",
    "keep": "keep",
    "hold": "hold",
    "stop": "stop",
}
W, H, L, R, T, B = 720, 360, 64, 140, 36, 48


def plotted(p: Portfolio) -> list[PortfolioPoint]:
    """Points with both an effort and a measured effect."""
    return [x for x in p.points if x.effort_days is not None and x.effect is not None]


def _limits(points: list[PortfolioPoint], min_effect: float) -> tuple[float, float, float]:
    x_max = max((x.effort_days or 0.0 for x in points), default=1.0) * 1.1 or 1.0
    ys = [0.0, min_effect]
    for x in points:
        ys += [v for v in (x.effect, x.ci_low, x.ci_high) if v is not None]
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.08 or 0.01
    return x_max, lo - pad, hi + pad


def portfolio_svg(p: Portfolio, *, title: str = "Effort vs measured impact") -> str:
    """An inline SVG scatter of the portfolio."""
    points = plotted(p)
    x_max, y_lo, y_hi = _limits(points, p.min_effect)

    def sx(v: float) -> float:
        return L + (W - L - R) * v / x_max

    def sy(v: float) -> float:
        return T + (H - T - B) * (y_hi - v) / (y_hi - y_lo)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        'font-family="sans-serif" font-size="11" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{L}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#9ca3af"/>',
        f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#9ca3af"/>',
        f'<line x1="{L}" y1="{sy(0):.1f}" x2="{W - R}" y2="{sy(0):.1f}" stroke="#6b7280"/>',
        f'<line x1="{L}" y1="{sy(p.min_effect):.1f}" x2="{W - R}" y2="{sy(p.min_effect):.1f}" '
        'stroke="#16a34a" stroke-dasharray="4 3"/>',
        f'<text x="{W - R + 4}" y="{sy(p.min_effect) + 4:.1f}" fill="#16a34a">'
        f"min effect {p.min_effect * 100:+.0f}%</text>",
        f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">effort (days)</text>',
        f'<text x="14" y="{(T + H - B) / 2}" transform="rotate(-90 14 {(T + H - B) / 2})" '
        'text-anchor="middle">relative effect (%)</text>',
    ]
    for k in range(5):
        xv, yv = x_max * k / 4, y_lo + (y_hi - y_lo) * k / 4
        out.append(f'<text x="{sx(xv):.1f}" y="{H - B + 14}" text-anchor="middle">{xv:.0f}</text>')
        out.append(
            f'<text x="{L - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv * 100:.1f}</text>'
        )
    for x in points:
        colour = COLOURS.get(x.action, "#4b5563")
        cx, cy = sx(x.effort_days or 0.0), sy(x.effect or 0.0)
        if x.ci_low is not None and x.ci_high is not None:
            out.append(
                f'<line x1="{cx:.1f}" y1="{sy(x.ci_low):.1f}" x2="{cx:.1f}" y2="{sy(x.ci_high):.1f}" '
                f'stroke="{colour}" stroke-opacity="0.5" stroke-width="2"/>'
            )
        label = escape(f"{x.release_id} ({x.team})" if x.team else x.release_id)
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}">'
            f"<title>{label}: {escape(x.evidence)}</title></circle>"
        )
        out.append(f'<text x="{cx + 7:.1f}" y="{cy - 6:.1f}">{escape(x.release_id)}</text>')
    for n, (action, name) in enumerate(LABELS.items()):
        y = T + 16 * n + 24
        out.append(f'<circle cx="{W - R + 10}" cy="{y}" r="5" fill="{COLOURS[action]}"/>')
        out.append(f'<text x="{W - R + 20}" y="{y + 4}">{name}</text>')
    if not points:
        out.append(f'<text x="{(L + W - R) / 2}" y="{H / 2}" text-anchor="middle">'
                   "no release with effort and a measured effect yet</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def save_portfolio_chart(
    p: Portfolio, path: Path, *, title: str = "Effort vs measured impact"
) -> Path:
    """Write the scatter as ``.svg`` or ``.png`` (by the file's suffix)."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(portfolio_svg(p, title=title))
        return path
    if suffix != ".png":
        raise UserError(f"cannot write a chart to {path.name}: use a .svg or .png file name")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.axhline(0, color="#6b7280", linewidth=0.8)
    ax.axhline(
        p.min_effect * 100, color="#16a34a", linestyle="--", linewidth=0.8, label="min effect"
    )
    for action, name in LABELS.items():
        group = [x for x in plotted(p) if x.action == action]
        if not group:
            continue
        xs = [x.effort_days or 0.0 for x in group]
        ys = [(x.effect or 0.0) * 100 for x in group]
        lo = [
            ys[i] - (x.ci_low * 100 if x.ci_low is not None else ys[i]) for i, x in enumerate(group)
        ]
        hi = [
            (x.ci_high * 100 if x.ci_high is not None else ys[i]) - ys[i]
            for i, x in enumerate(group)
        ]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", color=COLOURS[action], label=name, capsize=3)
        for x, xv, yv in zip(group, xs, ys, strict=True):
            ax.annotate(
                x.release_id, (xv, yv), textcoords="offset points", xytext=(5, 5), fontsize=8
            )
    ax.set_xlabel("effort (days)")
    ax.set_ylabel("relative effect (%)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
