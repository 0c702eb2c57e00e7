"""Customer commands: accounts, account, churn, surveys, release-customers.

Each command parses, makes one library call (``impactlens.service.accounts``)
and renders the result; ``--json`` prints the result's ``to_dict()``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.service.accounts import (
    account_detail,
    assess_release_customers,
    configs_from_workspace,
    fit_churn_model,
    load_churn_config,
    score_accounts,
    survey_trend,
)
from impactlens.service.accounts.churn import ChurnModelResult
from impactlens.service.accounts.voice import SurveyScore

BAND_STYLE = {"green": "green", "yellow": "yellow", "red": "red", None: "dim"}


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.0f}"


def _band(band: str | None) -> str:
    return f"[{BAND_STYLE.get(band, 'dim')}]{band or 'n/a'}[/]"


def _pct(p: float | None) -> str:
    return "" if p is None else f"{p:.0%}"


def _run(workspace, call):
    ws = open_workspace(workspace)
    health, churn = configs_from_workspace(ws)
    warehouse = ws.connect()
    try:
        return call(warehouse, health, churn)
    finally:
        warehouse.close()


@app.command("accounts")
def accounts_command(
    at_risk: Annotated[bool, typer.Option("--at-risk", help="Only accounts at risk.")] = False,
    segment: Annotated[str | None, typer.Option(help="Only accounts of this segment.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (tables only).")] = 25,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accounts ranked by ARR at risk (red/yellow health or churn risk above the threshold)."""
    result = _run(
        workspace,
        lambda wh, h, c: score_accounts(
            wh, health_config=h, churn_config=c, at_risk=at_risk, segment=segment
        ),
    )
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(title=f"Accounts as of {result.as_of:%Y-%m-%d}" if result.as_of else "Accounts")
    for col, justify in (
        ("account", "left"),
        ("segment", "left"),
        ("ARR", "right"),
        ("health", "right"),
        ("band", "left"),
        ("churn risk", "right"),
        ("why", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in result.rows[:limit]:
        score = "" if r.health_score is None else f"{r.health_score:.0f}"
        table.add_row(
            escape(f"{r.name or r.account_id} ({r.account_id})"),
            escape(r.segment or ""),
            _money(r.arr),
            score,
            _band(r.band),
            _pct(r.churn_probability),
            escape("; ".join(r.reasons)),
        )
    console.print(table)
    more = len(result.rows) - limit
    if more > 0:
        console.print(f"... and {more} more (--limit, or --json for all)")
    console.print(
        f"{result.n_accounts} accounts, ARR {_money(result.total_arr)}, at risk "
        f"{_money(result.total_arr_at_risk)}; health: {result.bands['green']} green, "
        f"{result.bands['yellow']} yellow, {result.bands['red']} red"
    )
    console.print(f"churn model: {escape(result.churn.message)}", highlight=False)


@app.command("account")
def account_command(
    account_id: Annotated[str, typer.Argument(help="The account id.")],
    chart: Annotated[
        Path | None, typer.Option(help="Also draw the health history to a .png, .svg or .html.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """One account: health history and drivers, churn risk, tickets, comments, releases."""
    d = _run(
        workspace, lambda wh, h, c: account_detail(wh, account_id, health_config=h, churn_config=c)
    )
    if chart is not None:
        written = _history_chart(d, chart)
        if not as_json:
            console.print(f"chart written to {written}")
    if as_json:
        print_json(d.to_dict())
        return
    title = escape(d.row.name or account_id) if d.row else escape(account_id)
    console.print(f"[bold]{title}[/bold] ({escape(account_id)})")
    if d.churned_at:
        console.print(f"churned on {d.churned_at}")
    if d.row:
        console.print(
            f"ARR {_money(d.row.arr)}  segment {escape(d.row.segment or 'n/a')}  "
            f"plan {escape(d.row.plan or 'n/a')}"
        )
    if d.health:
        h = d.health
        console.print(
            f"health {h.score:.0f} {_band(h.band)} (week of {h.week_start})"
            if h.score is not None
            else "health: not scored"
        )
        table = Table(title="Why: each component's part of the score")
        for col in ("component", "weight", "sub-score", "contribution", "points lost"):
            table.add_column(col, justify="left" if col == "component" else "right")
        for c in h.components:
            if c.sub_score is None:
                table.add_row(c.name, "", "n/a", "", "")
                continue
            table.add_row(
                c.name,
                f"{c.weight:.2f}",
                f"{c.sub_score:.0f}",
                f"{c.contribution:.1f}",
                f"{c.weight * (100 - c.sub_score):.1f}",
            )
        console.print(table)
    if d.history:
        recent = d.history[-12:]
        console.print(
            "history: " + "  ".join(f"{h['week_start'][5:]} {h['score']:.0f}" for h in recent)
        )
    if d.churn_risk:
        drivers = ", ".join(f"{x.feature} (+{x.effect:.2f})" for x in d.churn_risk.drivers)
        console.print(f"churn risk {_pct(d.churn_risk.probability)}; drivers: {drivers or 'none'}")
    else:
        console.print(f"churn risk: {escape(d.churn_status)}", highlight=False)
    for t in d.tickets:
        console.print(
            f"  ticket {escape(str(t['ticket_id']))} {t['created_at']:%Y-%m-%d} "
            f"{escape(str(t['priority']))} {escape(str(t['status']))} {escape(', '.join(t['tags']))}"
        )
    for c in d.comments:
        console.print(
            f"  {c['survey']} {c['score']:.0f} {c['responded_at']:%Y-%m-%d}: {escape(c['comment'])}"
        )
    for r in d.releases:
        console.print(f"  release {escape(r.release_id)} {r.shipped_at:%Y-%m-%d} ({r.how})")


def _history_chart(d, path: Path) -> Path:
    from impactlens.render.charts import Marker, Series, save_chart

    weeks = [date.fromisoformat(h["week_start"]) for h in d.history]
    series = [Series("health score", weeks, [h["score"] for h in d.history])]
    markers = [
        Marker(r.shipped_at.date(), r.release_id)
        for r in d.releases
        if weeks and r.shipped_at.date() >= weeks[0]
    ]
    return save_chart(
        path, series, title=f"Health of {d.account_id}", y_label="score (0-100)", markers=markers
    )


def render_churn(result: ChurnModelResult) -> None:
    console.print(escape(result.message), highlight=False)
    bt = result.backtest
    if not result.trained or bt is None:
        return
    folds = Table(title=f"Back-test: predict churn within {result.horizon_days} days")
    for col in (
        "snapshot",
        "train rows",
        "test accounts",
        "churned",
        "AUC",
        "prec@k",
        "shuffled AUC",
        "note",
    ):
        folds.add_column(col)
    for f in bt.folds:
        folds.add_row(
            str(f.snapshot),
            str(f.n_train),
            str(f.n_test),
            str(f.n_test_churned),
            "" if f.auc is None else f"{f.auc:.2f}",
            "" if f.precision_at_k is None else f"{f.precision_at_k:.2f} (k={f.k})",
            "" if f.null_auc is None else f"{f.null_auc:.2f}",
            escape(f.skipped or ""),
        )
    console.print(folds)
    cal = Table(title="Calibration (back-test predictions)")
    for col in ("predicted", "n", "mean predicted", "observed"):
        cal.add_column(col)
    for b in bt.calibration:
        cal.add_row(
            f"{b.lower:.2f}-{b.upper:.2f}",
            str(b.n),
            f"{b.mean_predicted:.3f}",
            f"{b.observed_rate:.3f}",
        )
    console.print(cal)
    console.print(
        "weights: " + ", ".join(f"{w.feature} {w.weight:+.2f}" for w in result.weights[:6])
    )


@app.command("churn")
def churn_command(
    model: Annotated[
        str | None, typer.Option(help="logistic or gradient_boosting (default: config).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train and back-test the churn model: AUC, precision at top-k, calibration, weights."""

    def call(wh, h, c):
        c = load_churn_config({**c.model_dump(), "model": model}) if model else c
        return fit_churn_model(wh, c, h)

    result = _run(workspace, call)
    if as_json:
        print_json(result.to_dict())
        return
    render_churn(result)


def _score_text(s: SurveyScore) -> str:
    if s.value is None:
        return "no answers"
    ci = "" if s.ci_low is None else f" [{s.ci_low:.1f}, {s.ci_high:.1f}]"
    few = " few answers" if s.few_answers else ""
    return f"{s.value:.1f}{ci} n={s.n}{few}"


@app.command("surveys")
def surveys_command(
    survey: Annotated[str, typer.Argument(help="nps, csat or ces.")] = "nps",
    by: Annotated[str, typer.Option(help="week, month or quarter.")] = "month",
    by_segment: Annotated[
        bool, typer.Option("--by-segment", help="Split by account segment.")
    ] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """NPS, CSAT or CES over time (and by segment) with answer counts and 95% intervals."""
    trend = _run(
        workspace,
        lambda wh, h, c: survey_trend(wh, survey, period=by, by_segment=by_segment),  # type: ignore[arg-type]
    )
    if as_json:
        print_json(trend.to_dict())
        return
    table = Table(title=f"{survey.upper()} by {by}")
    for col in ("period", "segment", "score [95% interval]"):
        table.add_column(col)
    for p in trend.points:
        table.add_row(str(p.period_start), escape(p.segment or "all"), _score_text(p))
    console.print(table)


@app.command("release-customers")
def release_customers_command(
    release_id: Annotated[str, typer.Argument(help="The release id.")],
    window: Annotated[int, typer.Option(help="Days before and after shipping to compare.")] = 28,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A release seen from its customers: reach, ARR, health mix, sentiment and tickets."""
    r = _run(
        workspace,
        lambda wh, h, c: assess_release_customers(
            wh, release_id, window_days=window, health_config=h
        ),
    )
    if as_json:
        print_json(r.to_dict())
        return
    console.print(
        f"[bold]{escape(r.release_id)}[/bold] {escape(r.title or '')} shipped {r.shipped_at:%Y-%m-%d}"
    )
    console.print(
        f"reached {r.accounts_reached} accounts ({r.audience}), {r.users_reached} users, "
        f"ARR {_money(r.arr_reached)} at shipping, {_money(r.arr_reached_now)} now"
    )
    console.print(
        f"health before {r.health_before}; now {r.health_now}; churned after: {r.churned_after}"
    )
    console.print(f"NPS {_score_text(r.nps_before)} -> {_score_text(r.nps_after)}")
    console.print(f"CSAT {_score_text(r.csat_before)} -> {_score_text(r.csat_after)}")
    fb = r.feedback
    rr = fb.matched_tickets
    ratio = "n/a" if rr.ratio is None else f"{rr.ratio:.2f}"
    hi = "inf" if rr.ci_high is None else f"{rr.ci_high:.2f}"
    lo = "n/a" if rr.ci_low is None else f"{rr.ci_low:.2f}"
    console.print(
        f"tickets about {', '.join(fb.terms) or r.release_id}: {fb.before.matched_tickets} -> "
        f"{fb.after.matched_tickets} in {fb.window_days} days (rate ratio {ratio}, 95% CI {lo}-{hi})"
    )
    for note in r.notes:
        console.print(f"note: {escape(note)}", highlight=False)
