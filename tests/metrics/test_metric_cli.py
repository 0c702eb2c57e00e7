"""The metrics commands as a user runs them, on a workspace filled with Warehouse.write."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from impactlens.cli.app import run
from impactlens.config import init_workspace

DEMO = Path(__file__).resolve().parents[2] / "src" / "impactlens" / "demo" / "metrics.yaml"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "team", timezone="Europe/Berlin")
    (ws.root / "metrics.yaml").write_text(DEMO.read_text())
    wh = ws.connect()
    rows = []
    for i in range(60):
        day = datetime(2026, 3, 1) + timedelta(hours=7 * i)
        rows.append(
            {
                "message_id": f"s{i}",
                "timestamp": day,
                "event": "Session Started",
                "actor_id": f"u{i % 4}",
                "account_id": f"a{i % 2}",
                "properties": "{}",
            }
        )
        if i % 3 == 0:
            rows.append(
                {
                    "message_id": f"e{i}",
                    "timestamp": day + timedelta(minutes=5),
                    "event": "Error Shown",
                    "actor_id": f"u{i % 4}",
                    "account_id": f"a{i % 2}",
                    "properties": "{}",
                }
            )
    wh.write("events", pa.Table.from_pylist(rows))
    wh.write("accounts", pa.table({"account_id": ["a0", "a1"], "plan": ["pro", "free"]}))
    wh.close()
    return ws.root


def test_metrics_lists_groups_and_warns_about_unseen_events(workspace, capsys) -> None:
    assert run(["-w", str(workspace), "metrics", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in payload["groups"]["north star"]] == ["weekly_reporting_accounts"]
    assert any("Report Created" in w["reason"] for w in payload["warnings"])
    assert run(["-w", str(workspace), "metrics"]) == 0
    out = capsys.readouterr()
    assert "North star" in out.out and "Leading" in out.out and "warning:" in out.err


def test_metric_by_week_with_segment_json_and_chart(workspace, tmp_path, capsys) -> None:
    chart = tmp_path / "error_rate.html"
    code = run(
        [
            "-w",
            str(workspace),
            "metric",
            "error_rate",
            "--by",
            "week",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-15",
            "--segment",
            "plan",
            "--json",
            "--chart",
            str(chart),
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["grain"] == "week" and payload["timezone"] == "Europe/Berlin"
    assert {r["segment"] for r in payload["rows"]} == {"pro", "free"}
    assert {r["period_start"] for r in payload["rows"]} == {"2026-03-02", "2026-03-09"}
    for row in payload["rows"]:
        assert row["value"] == pytest.approx(row["numerator"] / row["denominator"])
    assert "<svg" in chart.read_text()


def test_metric_table_png_and_explain(workspace, tmp_path, capsys) -> None:
    png = tmp_path / "sessions.png"
    assert run(["-w", str(workspace), "metric", "sessions", "--chart", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Sessions (sessions) by day" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(["-w", str(workspace), "metric", "sessions", "--explain"]) == 0
    assert "SELECT" in capsys.readouterr().out


def test_cohort_table(workspace, capsys) -> None:
    args = ["-w", str(workspace), "metric", "week1_retention", "--by", "week", "--cohorts", "2"]
    assert run([*args, "--json"]) == 0
    cohorts = json.loads(capsys.readouterr().out)["cohorts"]
    assert cohorts and set(cohorts[0]) == {"period_start", "size", "week_1", "week_2"}
    assert run(args) == 0 and "cohorts" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metric", "eror_rate"], "did you mean error_rate"),
        (["metric", "error_rate", "--by", "year"], "--by must be one of"),
        (["metric", "error_rate", "--from", "March"], "--from expects a date"),
        (["metric", "mrr", "--by", "day"], "--by month"),
        (["metric", "sessions", "--cohorts", "3"], "retention metric"),
    ],
)
def test_user_errors_exit_2_with_a_message(workspace, capsys, args, message) -> None:
    assert run(["-w", str(workspace), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_broken_metrics_file_lists_every_problem(workspace, capsys) -> None:
    (workspace / "metrics.yaml").write_text(
        "metrics:\n  - {name: a, kind: cuont, higher_is_better: true}\n  - {name: b, kind: count}\n"
    )
    assert run(["-w", str(workspace), "metrics"]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "line 2" in err and "line 3" in err
