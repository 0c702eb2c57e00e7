"""Workspace and data commands: init, import, status, demo."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.config import init_workspace
from impactlens.service.overview import Overview, workspace_overview
from impactlens.service.status import WarehouseStatus, warehouse_status

if TYPE_CHECKING:  # imported when the command runs: importing the importer is not free
    from impactlens.service.imports import PairTablesReport


@contextmanager
def progress_bar(enabled: bool = True):
    """A rich progress bar on stderr; yields the callback the library calls."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console.__class__(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(description: str, done: int, total: int | None) -> None:
            key = description.split(":")[0]
            if key not in tasks:
                tasks[key] = bar.add_task(description, total=total)
            bar.update(tasks[key], description=description, completed=done, total=total)

        yield update


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new workspace.")] = Path("."),
    timezone: Annotated[str, typer.Option(help="IANA time zone that cuts days and weeks.")] = "UTC",
    force: Annotated[
        bool, typer.Option(help="Overwrite impactlens.yaml and metrics.yaml.")
    ] = False,
) -> None:
    """Create a workspace: impactlens.yaml, a starter metrics.yaml and an empty warehouse."""
    ws = init_workspace(directory, timezone=timezone, force=force)
    console.print(f"Workspace ready at [bold]{ws.root}[/bold]")
    console.print(f"  warehouse: {ws.warehouse_url}")
    console.print(f"  metrics:   {ws.metrics_path}")
    console.print(
        "Next: [bold]impactlens import PATH[/bold] (a file or a folder of contract files)."
    )


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A contract file or a folder of them.", exists=True)],
    on_error: Annotated[
        str | None,
        typer.Option(
            "--on-error",
            help="skip: load valid rows, report the rest (default for events). "
            "fail: load nothing of a file with any error (default for other entities).",
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import contract files (events, accounts, releases, ...) into the warehouse, then keep
    the pair tables of metrics.yaml's duration metrics."""
    from impactlens.service.imports import import_workspace

    if on_error not in (None, "skip", "fail"):
        raise typer.BadParameter("--on-error must be skip or fail")
    mode: Literal["skip", "fail"] | None = (
        None if on_error is None else ("skip" if on_error == "skip" else "fail")
    )
    ws = open_workspace(workspace)
    warehouse = ws.connect()
    started = time.perf_counter()
    try:
        with progress_bar(not as_json) as progress:
            result = import_workspace(warehouse, ws, path, on_error=mode, progress=progress)
    finally:
        warehouse.close()
    elapsed = time.perf_counter() - started
    if as_json:
        print_json(result.to_dict())
    else:
        render_import_report(result.report, elapsed, result.pair_tables)
    if not result.ok:
        raise typer.Exit(2)


def render_import_report(report, elapsed: float, pairs: PairTablesReport) -> None:
    """The files' table and rejections, the pair tables, and where the time went."""
    table = Table(title="Import", title_justify="left")
    for col in ("file", "entity", "read", "loaded", "duplicate", "rejected", "status"):
        table.add_column(
            col, justify="right" if col in ("read", "loaded", "duplicate", "rejected") else "left"
        )
    for f in report.files:
        style = "red" if f.status == "failed" else ("yellow" if f.rows_rejected else "")
        table.add_row(
            str(f.file),
            f.entity,
            str(f.rows_read),
            str(f.rows_loaded),
            str(f.rows_duplicate),
            str(f.rows_rejected),
            f.status,
            style=style,
        )
    console.print(table)
    for f in report.files:
        for problem in f.rejections[:20]:
            console.print(f"  [red]rejected[/red] {escape(str(problem))}", highlight=False)
        if len(f.rejections) > 20:
            console.print(
                f"  ... {len(f.rejections) - 20} more rejected rows in {f.file} (see --json)"
            )
    if pairs.problem is not None:
        console.print(f"[yellow]metrics.yaml:[/yellow] {escape(pairs.problem)}", highlight=False)
    if pairs.kept or pairs.dropped:
        console.print(
            f"pair tables of duration metrics: {len(pairs.kept)} kept ({len(pairs.built)} built "
            f"now), {len(pairs.dropped)} dropped"
        )
    steps = []
    if report.rollup_seconds is not None:
        steps.append(f"then rollups refreshed in {report.rollup_seconds:.1f}s")
    if pairs.kept or pairs.dropped:
        steps.append(f"pair tables kept in {pairs.seconds:.1f}s")
    if not steps:
        console.print(f"done in {elapsed:.1f}s")
    else:
        loaded = elapsed - (report.rollup_seconds or 0.0) - pairs.seconds
        console.print(f"done in {elapsed:.1f}s: files {loaded:.1f}s, " + ", ".join(steps))


@app.command()
def status(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Counts and date ranges per entity, and a short overview."""
    ws = open_workspace(workspace)
    warehouse = ws.connect(read_only=False)
    try:
        st = warehouse_status(warehouse)
        ov = workspace_overview(warehouse)
    finally:
        warehouse.close()
    if as_json:
        print_json({"workspace": str(ws.root), "status": st.to_dict(), "overview": ov.to_dict()})
        return
    render_status(st)
    render_overview(ov)


def render_status(st: WarehouseStatus) -> None:
    table = Table(
        title=f"Warehouse ({st.engine}, schema v{st.schema_version})", title_justify="left"
    )
    table.add_column("entity")
    table.add_column("rows", justify="right")
    table.add_column("from")
    table.add_column("to")
    for e in st.entities:
        table.add_row(
            e.entity,
            f"{e.rows:,}",
            e.first.strftime("%Y-%m-%d %H:%M") if e.first else "",
            e.last.strftime("%Y-%m-%d %H:%M") if e.last else "",
        )
    console.print(table)
    console.print(
        f"actors: {st.identified_actors:,} identified users, {st.anonymous_actors:,} anonymous; "
        f"{st.imports} file(s) imported"
    )
    if st.event_parts:
        console.print(
            f"{st.event_part_rows:,} events kept in {st.event_parts} Parquet part(s) read in place"
        )


def render_overview(ov: Overview) -> None:
    if ov.last_event_at is None:
        console.print("No events yet.")
        return
    nps = (
        f"{ov.nps_90d:+.1f} ({ov.nps_responses_90d} answers)"
        if ov.nps_90d is not None
        else "no answers"
    )
    mrr = (
        f"${ov.mrr_latest:,.0f} in {ov.mrr_period} ({ov.paying_accounts} paying accounts)"
        if ov.mrr_latest is not None
        else "no revenue data"
    )
    console.print("[bold]Overview[/bold] (up to the last event, " + ov.last_event_at[:10] + ")")
    console.print(f"  events per day (7d):   {ov.events_per_day_7d:,.0f}")
    console.print(
        f"  active accounts (7d):  {ov.active_accounts_7d:,}   active users (7d): {ov.active_users_7d:,}"
    )
    console.print(f"  NPS (90d):             {nps}")
    console.print(f"  MRR:                   {mrr}")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to build the demo workspace.")] = Path(
        "demo-workspace"
    ),
    size: Annotated[
        str, typer.Option(help="small (~1M events), large (~50M, Parquet) or tiny (tests).")
    ] = "small",
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same company.")
    ] = 7,
    review: Annotated[bool, typer.Option(help="End with the impact review (HTML).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Build a realistic demo company, import it, review it and show where the report is."""
    from impactlens.service.demo import build_demo

    if size not in ("tiny", "small", "large"):
        raise typer.BadParameter("--size must be tiny, small or large")
    started = time.perf_counter()
    with progress_bar(not as_json) as progress:
        run = build_demo(directory, size=size, seed=seed, progress=progress)
    warehouse = run.workspace.connect()
    review_path = None
    try:
        st = warehouse_status(warehouse)
        ov = workspace_overview(warehouse)
        if review:
            from impactlens.reports.review import render_html, render_markdown
            from impactlens.service.review import build_review

            with progress_bar(not as_json) as progress:
                # The demo covers its whole history: every planted release is in the review.
                rv = build_review(warehouse, run.workspace, last_days=180, progress=progress)
            review_path = run.workspace.root / "review.html"
            review_path.write_text(render_html(rv))
            (run.workspace.root / "review.md").write_text(render_markdown(rv))
    finally:
        warehouse.close()
    elapsed = time.perf_counter() - started
    if as_json:
        print_json(
            {
                "workspace": str(run.workspace.root),
                "data": str(run.data_dir),
                "truth": str(run.truth_path),
                "seconds": round(elapsed, 1),
                "import": run.import_report.to_dict(),
                "pair_tables": run.pair_tables.to_dict(),
                "status": st.to_dict(),
                "overview": ov.to_dict(),
                "review": None if review_path is None else str(review_path),
            }
        )
        return
    render_status(st)
    render_overview(ov)
    if review_path is not None:
        cov = "n/a" if rv.coverage is None else f"{rv.coverage:.0%}"
        console.print(
            f"[bold]Impact review[/bold] {rv.start:%Y-%m-%d} to {rv.end:%Y-%m-%d}: {rv.shipped} shipped, "
            f"{rv.measured} with a measured verdict (impact coverage {cov})"
        )
        for r in rv.releases:
            console.print(
                f"  {r.verdict.replace('_', ' '):>14}  {escape(r.statement)}", highlight=False
            )
    console.print(f"\nDemo company built in {elapsed:.1f}s.")
    console.print(f"  workspace:      [bold]{run.workspace.root}[/bold]")
    console.print(f"  contract files: {run.data_dir}")
    console.print(f"  planted truths: {run.truth_path}")
    if review_path is not None:
        console.print(
            f"  impact review:  [bold]{review_path}[/bold] (open it in a browser; also review.md)"
        )
    console.print(f"Try: [bold]impactlens -w {directory} status[/bold]")
