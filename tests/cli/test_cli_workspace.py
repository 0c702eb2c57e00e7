"""The CLI as a user runs it: init, status, JSON output, exit codes for user errors."""

from __future__ import annotations

import json

import pytest

from impactlens.cli.app import run
from impactlens.config import load_workspace


def test_init_writes_a_workspace_that_status_reads(tmp_path, capsys) -> None:
    ws_dir = tmp_path / "team"
    assert run(["init", str(ws_dir), "--timezone", "Europe/Berlin"]) == 0
    ws = load_workspace(ws_dir)
    assert ws.config.timezone == "Europe/Berlin"
    assert ws.warehouse_url == f"duckdb://{ws_dir.resolve()}/.impactlens/warehouse.duckdb"
    assert (ws_dir / "metrics.yaml").read_text().strip()
    capsys.readouterr()

    assert run(["-w", str(ws_dir), "status", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    entities = {e["entity"]: e["rows"] for e in payload["status"]["entities"]}
    assert entities["events"] == 0 and len(entities) == 13
    assert payload["status"]["schema_version"] >= 1
    assert payload["overview"]["last_event_at"] is None


def test_missing_workspace_is_a_user_error_with_exit_code_2(tmp_path, capsys) -> None:
    assert run(["-w", str(tmp_path / "nowhere"), "status"]) == 2
    assert "impactlens init" in capsys.readouterr().err


def test_bad_config_names_the_field(tmp_path, capsys) -> None:
    run(["init", str(tmp_path)])
    config = tmp_path / "impactlens.yaml"
    config.write_text(config.read_text() + "warehosue: typo\n")
    capsys.readouterr()
    assert run(["-w", str(tmp_path), "status"]) == 2
    err = capsys.readouterr().err
    assert "warehosue" in err and "impactlens.yaml" in err


@pytest.mark.parametrize("argv", [["status", "--bogus"], ["import"]])
def test_usage_errors_exit_2(argv, tmp_path) -> None:
    assert run(["-w", str(tmp_path), *argv]) == 2


def test_help_lists_the_commands(capsys) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "import", "status", "demo"):
        assert command in out


def test_import_reports_the_rollup_refresh_as_its_own_step(tmp_path, capsys) -> None:
    run(["init", str(tmp_path)])
    line = {"type": "track", "event": "Report Created", "userId": "u1", "messageId": "m1",
            "timestamp": "2026-03-01T08:05:00Z"}  # fmt: skip
    (tmp_path / "events.ndjson").write_text(json.dumps(line) + "\n")
    capsys.readouterr()
    assert run(["-w", str(tmp_path), "import", str(tmp_path / "events.ndjson")]) == 0
    assert "then rollups refreshed in" in capsys.readouterr().out
    assert run(["-w", str(tmp_path), "import", str(tmp_path / "events.ndjson"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rollup_seconds"] is None  # nothing new
