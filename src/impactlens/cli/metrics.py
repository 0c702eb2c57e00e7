"""``impactlens metrics`` and ``impactlens metric NAME``: list metrics, show one over time.

Parse, one library call, render: no SQL and no statistics here.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from impactlens.cli.app import (
    JsonOption,
    WorkspaceOption,
    app,
    console,
    err_console,
    open_workspace,
    print_json,
)
from impactlens.errors import Problem, UserError
from impactlens.metrics import MetricCatalog, MetricFrame, load_metrics, retention_table
from impactlens.metrics.series import default_window, explain_metric, metric_series
from impactlens.render.charts import Series, save_chart

GRAINS = ("day", "week", "month")


def _print_warnings(warnings: tuple[Problem, ...]) -> None:
    for problem in warnings:
        err_console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)


def _metric_dict(metric: Any) -> dict[str, Any]:
    data = metric.model_dump(mode="json", exclude_defaults=False)
    return {k: v for k, v in data.items() if v not in ((), [], None) or k in ("indicator",)}


@app.command("metrics")
def list_metrics(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List the workspace's metrics: north star, leading and lagging indicators."""
    ws = open_workspace(workspace)
    warehouse = ws.connect()
    try:
        catalog = load_metrics(ws.metrics_path, warehouse)
    finally:
        warehouse.close()
    groups = catalog.groups()
    if as_json:
        print_json(
            {
                "file": str(catalog.path),
                "groups": {k: [_metric_dict(m) for m in v] for k, v in groups.items()},
                "warnings": [w.to_dict() for w in catalog.warnings],
            }
        )
        return
    for title, metrics in groups.items():
        if not metrics:
            continue
        table = Table(title=title.capitalize(), title_justify="left", show_lines=False)
        for col in ("name", "label", "kind", "actor", "better", "description"):
            table.add_column(col, overflow="fold")
        for m in metrics:
            better = "higher" if m.higher_is_better else "lower"
            table.add_row(m.name, m.label, m.kind, m.actor, better, m.description)
        console.print(table)
    _print_warnings(catalog.warnings)


def format_value(value: Any, fmt: str) -> str:
    """A number as people read it: 12.3%, $1,234, 4.2 (score), 1,234."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "currency":
        return f"${value:,.0f}"
    if fmt in ("score", "duration"):
        return f"{value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def _render(frame: MetricFrame) -> None:
    metric = frame.metric
    table = Table(
        title=f"{metric.label} ({metric.name}) by {frame.grain}, {frame.start} to "
        f"{frame.end - timedelta(days=1)}, {frame.timezone}",
        title_justify="left",
    )
    fixed = {"period_start", "segment", "value", "reason"}
    extras = [c for c in frame.columns if c not in fixed]
    for col in ("period", *(["segment"] if frame.segment else []), "value", *extras, "note"):
        table.add_column(col, justify="left" if col in ("period", "segment", "note") else "right")
    for row in frame.rows():
        cells = [row["period_start"].isoformat()]
        if frame.segment:
            cells.append(str(row["segment"]))
        cells.append(format_value(row["value"], metric.display_format))
        cells += [format_value(row[c], "number") for c in extras]
        cells.append(row["reason"] or "")
        table.add_row(*cells)
    console.print(table)


def _chart(frame: MetricFrame, path: Path) -> Path:
    metric = frame.metric
    scale = 100.0 if metric.display_format == "percent" else 1.0
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in frame.rows():
        groups.setdefault(row.get("segment") or metric.label, []).append(row)
    series = [
        Series(
            name,
            [r["period_start"] for r in rows],
            [None if r["value"] is None else r["value"] * scale for r in rows],
        )
        for name, rows in groups.items()
    ]
    unit = "%" if scale == 100.0 else metric.display_format
    return save_chart(path, series, title=f"{metric.label} by {frame.grain}", y_label=unit)


@app.command("metric")
def show_metric(
    name: Annotated[str, typer.Argument(help="The metric's name in metrics.yaml.")],
    by: Annotated[str, typer.Option("--by", help="Period: day, week or month.")] = "day",
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD); default: a recent window.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD).")
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(help="Split by a field: plan, account.segment, user.role, flag.<name>."),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also draw a chart to this .png, .svg or .html.")
    ] = None,
    explain: Annotated[
        bool, typer.Option(help="Print the compiled SQL without running it.")
    ] = False,
    cohorts: Annotated[
        int | None,
        typer.Option(help="Retention metrics: a cohort table, share retained 1..N periods later."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one metric over time, optionally split by a segment and drawn as a chart."""
    if by not in GRAINS:
        raise UserError(f"--by must be one of {', '.join(GRAINS)}, got {by!r}")
    ws = open_workspace(workspace)
    timezone = ws.config.timezone
    warehouse = ws.connect()
    try:
        catalog: MetricCatalog = load_metrics(ws.metrics_path, warehouse)
        metric = catalog.get(name)
        first, stop = default_window(warehouse, by, timezone)
        first = _date(start, "--from") if start else first
        stop = _date(end, "--to") + timedelta(days=1) if end else stop
        kwargs: dict[str, Any] = dict(
            grain=by, start=first, end=stop, timezone=timezone, segment=segment, catalog=catalog
        )
        if explain:
            console.print(
                explain_metric(warehouse, metric, **kwargs), highlight=False, markup=False
            )
            return
        if cohorts is not None:
            del kwargs["catalog"]
            table = retention_table(warehouse, metric, periods=cohorts, **kwargs)
            _render_cohorts(metric, table, as_json)
            return
        frame = metric_series(warehouse, metric, **kwargs)
    finally:
        warehouse.close()
    if chart is not None:
        written = _chart(frame, chart)
        if not as_json:
            err_console.print(f"chart written to {written}")
    if as_json:
        print_json(frame.to_dict())
    else:
        _print_warnings(catalog.warnings)
        _render(frame)


def _render_cohorts(metric: Any, table: Any, as_json: bool) -> None:
    rows = table.to_pylist()
    if as_json:
        print_json(
            {
                "metric": metric.name,
                "cohorts": [
                    {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
                    for row in rows
                ],
            }
        )
        return
    out = Table(title=f"{metric.label}: cohorts", title_justify="left")
    for col in table.column_names:
        out.add_column(col, justify="left" if col in ("period_start", "segment") else "right")
    for row in rows:
        out.add_row(
            *[
                v.isoformat()
                if isinstance(v, date)
                else str(v)
                if k in ("segment", "size")
                else format_value(v, "percent")
                for k, v in row.items()
            ]
        )
    console.print(out)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{option} expects a date like 2026-03-01, got {text!r}") from exc
