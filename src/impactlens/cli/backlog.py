"""Commands for what to build next: backlog (rank, add, what-if), delivery (DORA), portfolio."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.service.backlog import (
    BacklogRanking,
    RankBy,
    Weight,
    WhatIf,
    add_backlog_item,
    rank_backlog,
    what_if_backlog,
)
from impactlens.service.delivery import (
    DeliveryReport,
    DoraFigures,
    GroupBy,
    ReleaseDelivery,
    TeamView,
    delivery_report,
    release_delivery,
    team_view,
)
from impactlens.service.portfolio import DEFAULT_MIN_EFFECT, Portfolio, pct, workspace_portfolio
from impactlens.service.portfolio_chart import save_portfolio_chart

backlog_app = typer.Typer(
    help="Rank the backlog by RICE or ROI, add items, and try what-ifs.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(backlog_app, name="backlog")

ByOption = Annotated[str, typer.Option("--by", help="Rank by rice or roi.")]
WeightOption = Annotated[
    str,
    typer.Option(
        "--weight", help="Count reach in users, accounts, or accounts weighted by ARR (arr)."
    ),
]
WindowOption = Annotated[
    int, typer.Option("--window-days", help="Days of data reach is read from.")
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of", help="End of the reach window (default: end of the last day with data)."
    ),
]


def _num(value: float | None, fmt: str = "{:,.2f}") -> str:
    return "" if value is None else fmt.format(value)


@backlog_app.callback()
def backlog(
    ctx: typer.Context,
    by: ByOption = "rice",
    weight: WeightOption = "users",
    window_days: WindowOption = 90,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank the backlog; every factor shows its value and where it came from."""
    if ctx.invoked_subcommand is not None:
        return
    wh = open_workspace(workspace).connect()
    try:
        ranking = rank_backlog(
            wh,
            weight=cast(Weight, weight),
            by=cast(RankBy, by),
            window_days=window_days,
            as_of=as_of,
        )
    finally:
        wh.close()
    if as_json:
        print_json(ranking.to_dict())
        return
    render_ranking(ranking)


def render_ranking(ranking: BacklogRanking) -> None:
    if not ranking.items:
        console.print("The backlog is empty: import backlog.yaml or run `impactlens backlog add`.")
        return
    table = Table(title=f"Backlog by {ranking.by.upper()}", title_justify="left")
    for col in ("#", "item", "team", "RICE", "ROI", "estimated (R I C E | ROI)"):
        table.add_column(col, justify="right" if col in ("#", "RICE", "ROI") else "left")
    for i in ranking.items:
        # one mark per factor: "e" estimated, "." given -- the lines below say from what
        marks = ["e" if f.estimated else "." for f in i.factors().values()]
        table.add_row(
            str(i.rank),
            f"{i.item_id}: {i.title}",
            i.team or "",
            _num(i.rice),
            _num(i.roi),
            f"{' '.join(marks[:4])} | {' '.join(marks[4:])}",
        )
    console.print(table)
    console.print(
        f"reach in {ranking.reach_unit}"
        + (f", data {ranking.window[0][:10]}..{ranking.window[1][:10]}" if ranking.window else "")
    )
    for i in ranking.items:
        console.print(f"[bold]{i.rank}. {escape(i.item_id)}[/bold]", highlight=False)
        for line in i.explain():
            console.print(f"   {escape(line)}", highlight=False, soft_wrap=True)


@backlog_app.command("add")
def backlog_add(
    item_id: Annotated[str, typer.Option("--id", help="Item id.")],
    title: Annotated[str, typer.Option(help="What the item is.")],
    team: Annotated[str, typer.Option(help="Team that would build it.")],
    effort_days: Annotated[float, typer.Option("--effort-days", help="Person-days of work.")],
    feature: Annotated[str | None, typer.Option(help="Shipped feature/release it extends.")] = None,
    reach: Annotated[float | None, typer.Option(help="Accounts (or users) it reaches.")] = None,
    impact: Annotated[float | None, typer.Option(help="0.25, 0.5, 1, 2 or 3.")] = None,
    confidence: Annotated[float | None, typer.Option(help="0-1, e.g. 0.8.")] = None,
    business_impact: Annotated[float | None, typer.Option(help="1-5.")] = None,
    user_impact: Annotated[float | None, typer.Option(help="1-5.")] = None,
    sustainability: Annotated[
        float | None, typer.Option(help="Technical sustainability 1-5.")
    ] = None,
    dependencies: Annotated[float | None, typer.Option(help="1 (none) to 5 (many).")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add (or replace) one backlog item; what you leave out is estimated when ranking."""
    wh = open_workspace(workspace).connect()
    try:
        item = add_backlog_item(
            wh,
            item_id=item_id,
            title=title,
            team=team,
            effort_days=effort_days,
            feature=feature,
            reach=reach,
            impact=impact,
            confidence=confidence,
            business_impact=business_impact,
            user_impact=user_impact,
            technical_sustainability=sustainability,
            dependencies=dependencies,
        )
    finally:
        wh.close()
    if as_json:
        print_json({"added": item.__dict__})
        return
    console.print(f"Added [bold]{escape(item.item_id)}[/bold] to the backlog.")


@backlog_app.command("what-if")
def backlog_what_if(
    item: Annotated[str, typer.Argument(help="Backlog item id.")],
    reach: Annotated[float | None, typer.Option(help="Reach to try.")] = None,
    impact: Annotated[float | None, typer.Option(help="Impact to try.")] = None,
    confidence: Annotated[float | None, typer.Option(help="Confidence to try.")] = None,
    effort: Annotated[float | None, typer.Option(help="Effort days to try.")] = None,
    by: ByOption = "rice",
    weight: WeightOption = "users",
    window_days: WindowOption = 90,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show how the ranking would move with other values for one item (nothing is saved)."""
    if all(v is None for v in (reach, impact, confidence, effort)):
        raise typer.BadParameter("give at least one of --reach, --impact, --confidence, --effort")
    wh = open_workspace(workspace).connect()
    try:
        result = what_if_backlog(
            wh,
            item,
            weight=cast(Weight, weight),
            by=cast(RankBy, by),
            window_days=window_days,
            as_of=as_of,
            reach=reach,
            impact=impact,
            confidence=confidence,
            effort=effort,
        )
    finally:
        wh.close()
    if as_json:
        print_json(result.to_dict())
        return
    render_what_if(result)


def render_what_if(r: WhatIf) -> None:
    score = r.ranking.by
    old, new = getattr(r.before, score), getattr(r.after, score)
    changes = ", ".join(f"{k} {v:g}" for k, v in r.changes.items())
    console.print(
        f"[bold]{escape(r.item_id)}[/bold] with {changes}: rank {r.old_rank} -> {r.new_rank} "
        f"({score.upper()} {_num(old)} -> {_num(new)})",
        highlight=False,
    )
    for m in r.moves:
        if m.item_id != r.item_id:
            console.print(f"   {escape(m.item_id)}: {m.old_rank} -> {m.new_rank}", highlight=False)


@app.command()
def delivery(
    by: Annotated[str | None, typer.Option("--by", help="Group by service or team.")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this day (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Up to this day (UTC, exclusive).")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    weekly: Annotated[bool, typer.Option(help="Show the week-by-week series.")] = False,
    release: Annotated[str | None, typer.Option(help="Delivery facts of one release.")] = None,
    teams: Annotated[bool, typer.Option(help="Team view: speed beside impact.")] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """DORA delivery metrics (deploys, lead time, change failure rate, time to restore)."""
    wh = open_workspace(workspace).connect()
    try:
        if release is not None:
            result: ReleaseDelivery | list[TeamView] | DeliveryReport = release_delivery(
                wh, release
            )
        elif teams:
            result = team_view(wh, start=since, end=until)
        else:
            result = delivery_report(
                wh, by=cast(GroupBy | None, by), start=since, end=until, service=service, team=team
            )
    finally:
        wh.close()
    if as_json:
        print_json([v.to_dict() for v in result] if isinstance(result, list) else result.to_dict())
    elif isinstance(result, ReleaseDelivery):
        render_release(result)
    elif isinstance(result, list):
        render_teams(result)
    else:
        render_delivery(result, weekly)


def _hours(h: float | None) -> str:
    if h is None:
        return ""
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


def _rate(r: float | None) -> str:
    return "" if r is None else f"{r * 100:.1f}%"


def _band_row(f: DoraFigures, label: str) -> list[str]:
    b = f.bands
    return [
        label,
        str(f.deploys),
        f"{_num(f.deploys_per_week)} ({b.deployment_frequency or '-'})",
        f"{_hours(f.lead_time_median_hours)} ({b.lead_time or '-'})",
        _hours(f.lead_time_p90_hours),
        f"{_rate(f.change_failure_rate)} ({b.change_failure_rate or '-'})",
        f"{_hours(f.time_to_restore_median_hours)} ({b.time_to_restore or '-'})",
    ]


def render_delivery(r: DeliveryReport, weekly: bool) -> None:
    span = "no deploys"
    if r.start and r.end:
        last = r.end - timedelta(microseconds=1)  # the window's end is exclusive
        span = f"{r.start:%Y-%m-%d} to {last:%Y-%m-%d} ({r.days:g} days)"
    table = Table(title=f"Delivery (DORA), {span}", title_justify="left")
    for col in (
        "scope",
        "deploys",
        "per week",
        "lead time (median)",
        "p90",
        "change failure",
        "restore (median)",
    ):
        table.add_column(col)
    table.add_row(*_band_row(r.overall, "all"))
    for g in r.groups:
        table.add_row(*_band_row(g, g.group or "(none)"))
    console.print(table)
    console.print("bands: DORA 2023 (elite / high / medium / low); see docs/delivery.md")
    if weekly and r.weekly:
        wt = Table(title="Week by week", title_justify="left")
        for col in (
            "week",
            "deploys",
            "successful",
            "change failure",
            "lead time",
            "incidents",
            "restore",
        ):
            wt.add_column(col)
        for w in r.weekly:
            wt.add_row(
                str(w.week_start),
                str(w.deploys),
                str(w.successful_deploys),
                _rate(w.change_failure_rate),
                _hours(w.lead_time_median_hours),
                str(w.incidents),
                _hours(w.time_to_restore_median_hours),
            )
        console.print(wt)


def render_release(r: ReleaseDelivery) -> None:
    lead = _hours(r.lead_time_median_hours) or "n/a"
    console.print(
        f"[bold]{escape(r.release_id)}[/bold]: {len(r.deploys)} deploy(s), median lead time "
        f"{lead}, {r.change_failures} change failure(s), {len(r.incidents)} incident(s)",
        highlight=False,
    )
    for d in r.deploys:
        when = f"{d.deployed_at:%Y-%m-%d %H:%M}" if d.deployed_at else "?"
        inc = f", incidents {', '.join(d.incident_ids)}" if d.incident_ids else ""
        console.print(
            f"   {d.deploy_id} {d.service or ''} {when} {d.status}, "
            f"lead {_hours(d.lead_time_hours) or '-'}{inc}",
            highlight=False,
        )
    for i in r.incidents:
        restored = _hours(i.restore_hours) or "not yet"
        console.print(
            f"   incident {i.incident_id} {i.severity or ''}: restored in {restored}",
            highlight=False,
        )


def render_teams(views: list[TeamView]) -> None:
    table = Table(title="Teams: speed beside impact", title_justify="left")
    for col in ("team", "deploys", "/week", "lead time", "CFR", "measured", "wins", "win rate"):
        table.add_column(col, overflow="fold")
    for v in views:
        table.add_row(
            v.team or "(none)",
            str(v.deploys),
            _num(v.deploys_per_week),
            _hours(v.lead_time_median_hours),
            _rate(v.change_failure_rate),
            f"{v.measured} of {v.releases}",
            str(v.wins),
            _rate(v.win_rate),
        )
    console.print(table)
    console.print("measured: releases with a verdict from data; win rate: met / measured")


@app.command()
def portfolio(
    min_effect: Annotated[
        float, typer.Option(help="Smallest relative effect worth having.")
    ] = DEFAULT_MIN_EFFECT,
    chart: Annotated[
        Path | None, typer.Option(help="Write the effort/impact scatter (.svg or .png).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Effort against measured impact: what to double down on, iterate, or stop."""
    wh = open_workspace(workspace).connect()
    try:
        result = workspace_portfolio(wh, min_effect=min_effect)
    finally:
        wh.close()
    if chart is not None:
        save_portfolio_chart(result, chart)
    if as_json:
        print_json(result.to_dict() | ({"chart": str(chart)} if chart else {}))
        return
    render_portfolio(result)
    if chart is not None:
        console.print(f"chart written to {chart}")


def render_portfolio(p: Portfolio) -> None:
    if not p.points:
        console.print(
            "No measured releases yet: record releases with a hypothesis, then review them."
        )
        return
    bar = (
        f"{pct(p.impact_per_effort_bar)} per effort-day"
        if p.impact_per_effort_bar is not None
        else "n/a"
    )
    console.print(
        f"[bold]Portfolio[/bold]: min effect {pct(p.min_effect)}, impact-per-effort bar {bar}"
    )
    for title, items in (
        ("Double down", p.double_down),
        ("Iterate", p.iterate),
        ("Stop investing", p.stop),
    ):
        console.print(f"[bold]{title}[/bold] ({len(items)})")
        for x in items:
            effort = f"{x.effort_days:g} d" if x.effort_days is not None else "effort ?"
            console.print(
                f"   {escape(x.release_id)} ({escape(x.team or '-')}, {effort}): {escape(x.evidence)}",
                highlight=False,
            )
    table = Table(title="Teams", title_justify="left")
    for col in (
        "team",
        "releases",
        "effort (d)",
        "measured",
        "wins",
        "harmful",
        "impact / effort-day",
    ):
        table.add_column(col)
    for t in p.teams:
        table.add_row(
            t.team,
            str(t.releases),
            f"{t.effort_days:g}",
            str(t.measured),
            str(t.wins),
            str(t.harmful),
            pct(t.impact_per_effort),
        )
    console.print(table)
