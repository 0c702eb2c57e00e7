"""Commands for experiments: ``experiment ID`` (the readout), ``experiments`` (the list), ``decide``."""

from __future__ import annotations

import getpass
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.render.experiment_report import (
    check_readout_path,
    metric_value,
    p_text,
    pct,
    write_readout,
)
from impactlens.service.experiments import (
    ExperimentReadout,
    analyze_experiment,
    decide_experiment,
    experiment_statuses,
)

DECISION_STYLE = {"ship": "bold green", "iterate": "bold yellow", "abandon": "bold red"}
OUTCOME_STYLE = {"better": "green", "worse": "red", "inconclusive": "", "error": "yellow"}


@app.command("experiment")
def experiment(
    experiment_id: Annotated[str, typer.Argument(help="The experiment's id (experiments.yaml).")],
    method: Annotated[
        str, typer.Option("--method", help="frequentist, sequential or bayesian.")
    ] = "frequentist",
    correction: Annotated[
        str,
        typer.Option("--correction", help="holm or benjamini_hochberg, across metrics x arms."),
    ] = "holm",
    cuped: Annotated[
        bool, typer.Option("--cuped/--no-cuped", help="Adjust by the pre-exposure metric.")
    ] = True,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Analyse the data up to this time (UTC); default: all."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the readout: readout.html (self-contained) or .md."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read an experiment: SRM, every metric's lift, and ship / iterate / abandon with reasons."""
    if out is not None:
        check_readout_path(out)
    ws = open_workspace(workspace)
    wh = ws.connect()
    try:
        readout = analyze_experiment(
            wh, ws, experiment_id, as_of=as_of, method=method, cuped=cuped, correction=correction
        )
    finally:
        wh.close()
    written = write_readout(readout, out) if out is not None else []
    if as_json:
        print_json(readout.to_dict())
        return
    _print_readout(readout)
    for path in written[:1]:
        console.print(f"\nreadout written to {escape(str(path))}")


def _print_readout(r: ExperimentReadout) -> None:
    e, rec = r.experiment, r.recommendation
    console.print(
        f"[bold]{escape(e.name)}[/bold] ({escape(e.experiment_id)}) · {r.window.status} · "
        f"{r.window.start:%Y-%m-%d} to {r.window.end:%Y-%m-%d %H:%M} · {r.method}, "
        f"correction {r.correction}, CUPED {'on' if r.cuped else 'off'}"
    )
    units = ", ".join(
        f"{v} {n:,}" for v, n in zip(r.exposure.variations, r.exposure.units, strict=True)
    )
    srm = (
        f"SRM not run ({r.srm.error})"
        if r.srm.error
        else f"SRM p = {p_text(r.srm.p_value)}" + (" [red]MISMATCH[/red]" if r.srm.mismatch else "")
    )
    console.print(f"{r.exposure.unit}s: {units} · {srm}")
    for warning in r.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    table = Table(show_lines=False)
    for column in ("metric", "role", "arm", "control", "treatment", "lift", "interval"):
        table.add_column(column, justify="right" if column in ("control", "treatment") else "left")
    table.add_column("chance to win" if r.method == "bayesian" else "p (adj.)", justify="right")
    table.add_column("outcome")
    for m in r.metrics:
        if m.skipped:
            table.add_row(escape(m.label), m.role, "", "", "", "", escape(m.skipped), "", "skipped")
        for c in m.comparisons:
            stat = (
                pct(c.chance_to_win, signed=False)
                if r.method == "bayesian"
                else p_text(c.adjusted_p_value)
            )
            style = OUTCOME_STYLE.get(c.outcome, "")
            table.add_row(
                escape(m.label),
                m.role,
                escape(c.variation),
                metric_value(c.value_control, c.statistic),
                metric_value(c.value_treatment, c.statistic),
                pct(c.effect) if c.relative else f"{c.effect:+.4g} abs",
                f"{pct(c.ci_lower)} to {pct(c.ci_upper)}" if c.relative else "",
                stat,
                f"[{style}]{c.outcome}[/{style}]" if style else c.outcome,
            )
    console.print(table)
    for m in r.metrics:
        for note in m.notes:
            console.print(f"[dim]{escape(m.label)}:[/dim] {escape(note)}", soft_wrap=True)
    style = DECISION_STYLE.get(rec.decision, "bold")
    console.print(f"\n[{style}]{rec.decision.upper()}[/{style}]: {escape(rec.headline)}")
    for reason in rec.reasons:
        mark = "[red]✗[/red]" if reason in rec.blockers else "-"
        console.print(f"  {mark} {escape(reason)}", soft_wrap=True)
    if r.decision is not None:
        d = r.decision
        console.print(
            f"\ndecided: {d.decision} by {escape(d.decided_by)} on {d.decided_at:%Y-%m-%d} — "
            f"{escape(d.why)} (next: {escape(d.next_step)})"
        )
    elif r.window.status == "ended":
        console.print(
            f"\n[yellow]no decision recorded:[/yellow] impactlens decide {escape(e.experiment_id)} "
            '--decision ship|iterate|abandon --why "..." --next-step "..."'
        )


@app.command("experiments")
def experiments(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List experiments: running or ended, exposed users, and the decision taken (if any)."""
    wh = open_workspace(workspace).connect()
    try:
        statuses = experiment_statuses(wh)
    finally:
        wh.close()
    if as_json:
        print_json({"experiments": [s.to_dict() for s in statuses]})
        return
    table = Table()
    for column in ("id", "name", "status", "unit", "started", "ended", "exposed users", "decision"):
        table.add_column(column, justify="right" if column == "exposed users" else "left")
    for s in statuses:
        if s.decision is not None:
            decision = f"{s.decision.decision} ({s.decision.decided_at:%Y-%m-%d})"
        else:
            decision = "[yellow]none[/yellow]" if s.status == "ended" else ""
        table.add_row(
            escape(s.experiment_id),
            escape(s.name),
            s.status,
            s.unit,
            f"{s.started_at:%Y-%m-%d}",
            f"{s.ended_at:%Y-%m-%d}" if s.ended_at else "",
            f"{s.exposed_users:,}",
            decision,
        )
    console.print(table)


@app.command("decide")
def decide(
    experiment_id: Annotated[str, typer.Argument(help="The experiment decided on.")],
    decision: Annotated[str, typer.Option("--decision", help="ship, iterate or abandon.")],
    why: Annotated[str, typer.Option("--why", help="Why: the evidence the decision rests on.")],
    next_step: Annotated[
        str, typer.Option("--next-step", help="What happens next, and who does it.")
    ],
    by: Annotated[
        str | None, typer.Option("--by", help="Who decided (default: your login name).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the decision that closes an experiment (ship, iterate or abandon) and why."""
    wh = open_workspace(workspace).connect()
    try:
        recorded = decide_experiment(
            wh,
            experiment_id,
            decision=decision,
            why=why,
            next_step=next_step,
            decided_by=by or _login(),
        )
    finally:
        wh.close()
    if as_json:
        print_json({"decision": asdict(recorded)})
        return
    console.print(
        f"recorded: {escape(experiment_id)} → {recorded.decision} by {escape(recorded.decided_by)} "
        f"at {recorded.decided_at:%Y-%m-%d %H:%M} UTC"
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
