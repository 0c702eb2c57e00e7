"""Release impact commands: ship (record a hypothesis), releases, release, review."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.cli.data import progress_bar
from impactlens.errors import UserError

VERDICT_STYLE = {
    "met": "green", "harmful": "red", "not_met": "yellow", "inconclusive": "blue",
    "too_early": "dim", "no_hypothesis": "dim",
}  # fmt: skip


def _pct(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{v * 100:+.1f}%"


def _parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UserError(
            f"{option} {text!r} is not an ISO date or timestamp (e.g. 2026-03-02)"
        ) from exc
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _parse_last(text: str | None) -> int | None:
    if text is None:
        return None
    m = re.fullmatch(r"(\d+)\s*([dw])", text.strip())
    if not m:
        raise UserError(f"--last {text!r}: write a number of days or weeks, e.g. 14d or 6w")
    return int(m.group(1)) * (7 if m.group(2) == "w" else 1)


@app.command()
def ship(
    release_id: Annotated[str, typer.Option("--id", help="Release id (re-using one replaces it).")],
    metric: Annotated[str | None, typer.Option(help="The metric this release should move.")] = None,
    expected: Annotated[str | None, typer.Option(help="increase or decrease")] = None,
    min_effect: Annotated[
        float | None, typer.Option(help="Smallest relative change that counts, e.g. 0.05.")
    ] = None,
    guardrail: Annotated[
        list[str] | None, typer.Option(help="A metric that must not regress (repeatable).")
    ] = None,
    flag: Annotated[
        str | None, typer.Option(help="Feature flag whose users got it (properties.flags.KEY).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Human title.")] = None,
    kind: Annotated[
        str, typer.Option(help="release, feature, fix, flag or experiment.")
    ] = "release",
    team: Annotated[str | None, typer.Option(help="Owning team.")] = None,
    effort_days: Annotated[
        float | None, typer.Option(help="Effort in person-days, for ROI.")
    ] = None,
    shipped_at: Annotated[str | None, typer.Option(help="ISO time (default: now).")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a release and its hypothesis (usable from a CI job after a deploy)."""
    from impactlens.metrics import load_metrics
    from impactlens.service.ledger import record_release

    ws = open_workspace(workspace)
    wh = ws.connect()
    try:
        known = load_metrics(ws.metrics_path).names if ws.metrics_path.exists() else None
        release = record_release(
            wh, release_id=release_id, title=title, kind=kind, team=team, effort_days=effort_days,
            shipped_at=_parse_time(shipped_at, "--shipped-at"), metric=metric, expected=expected,
            min_effect=min_effect, guardrails=guardrail or (), flag=flag, known_metrics=known,
        )  # fmt: skip
    finally:
        wh.close()
    if as_json:
        print_json({"recorded": release.release_id, "shipped_at": release.shipped_at.isoformat(),
                    "hypothesis": None if release.hypothesis is None else vars(release.hypothesis)})  # fmt: skip
        return
    console.print(
        f"Recorded [bold]{escape(release.release_id)}[/bold], shipped {release.shipped_at:%Y-%m-%d %H:%M} UTC."
    )
    if release.hypothesis is None:
        console.print(
            "[yellow]No hypothesis: how would we know if this didn't help? Add --metric and --expected.[/yellow]"
        )


@app.command()
def releases(
    from_: Annotated[
        str | None, typer.Option("--from", help="Shipped on or after (ISO date).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Shipped before (ISO date).")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's releases.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Releases with their verdicts: met, not met, harmful, inconclusive, too early, no hypothesis."""
    from impactlens.service.releases import review_releases

    ws = open_workspace(workspace)
    wh = ws.connect()
    try:
        with progress_bar(not as_json) as progress:
            impacts = review_releases(
                wh, ws, start=_parse_time(from_, "--from"), end=_parse_time(to, "--to"),
                team=team, progress=progress,
            )  # fmt: skip
    finally:
        wh.close()
    if as_json:
        print_json([r.to_dict() for r in impacts])
        return
    table = Table(title="Releases", title_justify="left")
    for col in ("release", "team", "shipped", "verdict", "metric", "effect (95% CI)"):
        table.add_column(col)
    for r in impacts:
        p = r.primary
        effect = (
            f"{_pct(p.relative)} ({_pct(p.lower)} to {_pct(p.upper)})"
            if p and p.error is None
            else ""
        )
        verdict = r.verdict.replace("_", " ") + (" (confounded)" if r.confounded_with else "")
        table.add_row(
            r.release.release_id, r.release.team or "", f"{r.release.shipped_at:%Y-%m-%d}",
            f"[{VERDICT_STYLE.get(r.verdict, '')}]{verdict}[/]",
            p.label if p else (r.release.hypothesis.metric if r.release.hypothesis else ""), effect,
        )  # fmt: skip
    console.print(table)


@app.command()
def release(
    release_id: Annotated[str, typer.Argument(help="Release id.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
    chart: Annotated[
        Path | None, typer.Option(help="Write the release chart (.png, .svg or .html).")
    ] = None,
) -> None:
    """One release: the estimate, the interval, the verdict and the plain statement."""
    from impactlens.service.releases import review_release

    ws = open_workspace(workspace)
    wh = ws.connect()
    try:
        r = review_release(wh, ws, release_id)
    finally:
        wh.close()
    if chart is not None and r.primary is not None and r.primary.chart is not None:
        from impactlens.reports.review import release_chart

        svg = release_chart(r)
        if svg:
            chart.write_text(
                svg if chart.suffix != ".html" else f"<!doctype html><meta charset=utf-8>{svg}"
            )
    if as_json:
        print_json(r.to_dict())
        return
    style = VERDICT_STYLE.get(r.verdict, "")
    console.print(
        f"[bold]{escape(r.release.title)}[/bold] ({escape(r.release.release_id)}), shipped {r.release.shipped_at:%Y-%m-%d}"
    )
    console.print(f"verdict: [{style}]{r.verdict.replace('_', ' ')}[/]")
    console.print(escape(r.statement))
    console.print(escape(r.reason))
    if r.primary:
        console.print(f"method: {escape(r.primary.method)}")
    for g in r.guardrails:
        console.print(
            f"guardrail {escape(g.label)}: {_pct(g.relative)} ({_pct(g.lower)} to {_pct(g.upper)})"
        )
    for note in r.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    for s in r.suggestions:
        console.print(f"candidate metric: {escape(s.metric)} ({escape(s.reason)})")


@app.command()
def review(
    from_: Annotated[str | None, typer.Option("--from", help="Period start (ISO date).")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Period end, exclusive (ISO date).")
    ] = None,
    last: Annotated[
        str | None, typer.Option(help="The last N days or weeks of data, e.g. 14d, 12w.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, md or json.")] = "html",
    out: Annotated[
        Path | None, typer.Option(help="Write here (default: review.<format> in the workspace).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The impact review: what shipped, what moved, impact coverage, indicators, decisions."""
    from impactlens.reports.review import render
    from impactlens.service.review import build_review

    if fmt not in ("html", "md", "json"):
        raise UserError("--format must be html, md or json")
    ws = open_workspace(workspace)
    wh = ws.connect()
    try:
        with progress_bar(not as_json) as progress:
            rv = build_review(
                wh, ws, start=_parse_time(from_, "--from"), end=_parse_time(to, "--to"),
                last_days=_parse_last(last), team=team, progress=progress,
            )  # fmt: skip
    finally:
        wh.close()
    if as_json:
        print_json(rv.to_dict())
        return
    path = out or ws.root / f"review.{fmt}"
    path.write_text(render(rv, fmt))
    cov = "n/a" if rv.coverage is None else f"{rv.coverage:.0%}"
    console.print(f"Impact review {rv.start:%Y-%m-%d} to {rv.end - timedelta(seconds=1):%Y-%m-%d}: "
                  f"{rv.shipped} shipped, {rv.measured} measured (impact coverage {cov}).")  # fmt: skip
    for r in rv.releases:
        style = VERDICT_STYLE.get(r.verdict, "")
        console.print(f"  [{style}]{r.verdict.replace('_', ' '):>14}[/]  {escape(r.statement)}")
    if rv.undecided_experiments:
        console.print(f"[yellow]{len(rv.undecided_experiments)} experiment(s) ended without a decision: "
                      + ", ".join(e.experiment_id for e in rv.undecided_experiments) + "[/yellow]")  # fmt: skip
    console.print(f"Review written to [bold]{path}[/bold]")
