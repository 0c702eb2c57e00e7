"""The customer commands as a user runs them: tables, --json, exit codes, config errors."""

from __future__ import annotations

import json

import pytest

from impactlens.cli.app import run
from impactlens.config import init_workspace
from impactlens.service.accounts.synthetic import make_world


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("customers")
    ws = init_workspace(root)
    wh = ws.connect()
    try:
        make_world(wh, n_accounts=120, weeks=36, seed=3)
    finally:
        wh.close()
    return root


def _json(capsys, argv):
    code = run(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_accounts_json_is_ranked_by_arr_at_risk(workspace, capsys):
    payload = _json(capsys, ["-w", str(workspace), "accounts", "--at-risk", "--json"])
    rows = payload["rows"]
    assert rows and all(r["at_risk"] for r in rows)
    assert [r["arr_at_risk"] for r in rows] == sorted(
        (r["arr_at_risk"] for r in rows), reverse=True
    )
    assert payload["churn"]["status"] == "trained"
    assert "risks" not in payload["churn"]
    assert payload["churn"]["backtest"]["auc_mean"] > 0.5


def test_account_page(workspace, capsys):
    first = _json(capsys, ["-w", str(workspace), "accounts", "--json"])["rows"][0]["account_id"]
    page = _json(capsys, ["-w", str(workspace), "account", first, "--json"])
    assert page["account_id"] == first
    assert len(page["health"]["components"]) == 6
    assert page["history"] and page["releases"][0]["release_id"] == "export-timeout-fix"
    chart = workspace / "health.svg"
    assert run(["-w", str(workspace), "account", first, "--chart", str(chart)]) == 0
    assert "Why: each component" in capsys.readouterr().out
    assert chart.read_text().startswith("<svg") and "export-timeout-fix" in chart.read_text()


def test_unknown_account_exits_2(workspace, capsys):
    assert run(["-w", str(workspace), "account", "nope"]) == 2
    assert "no account 'nope'" in capsys.readouterr().err


def test_tables(workspace, capsys):
    assert run(["-w", str(workspace), "accounts", "--segment", "smb", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "churn model:" in out and "accounts, ARR" in out
    assert run(["-w", str(workspace), "churn"]) == 0
    out = capsys.readouterr().out
    assert "Back-test" in out and "Calibration" in out


def test_churn_command(workspace, capsys):
    payload = _json(
        capsys, ["-w", str(workspace), "churn", "--model", "gradient_boosting", "--json"]
    )
    assert payload["method"] == "gradient boosting"
    assert payload["backtest"]["calibration"]
    assert run(["-w", str(workspace), "churn", "--model", "forest"]) == 2


def test_surveys_and_release_customers(workspace, capsys):
    trend = _json(capsys, ["-w", str(workspace), "surveys", "nps", "--by", "quarter", "--json"])
    assert trend["points"] and all("few_answers" in p for p in trend["points"])
    impact = _json(
        capsys, ["-w", str(workspace), "release-customers", "export-timeout-fix", "--json"]
    )
    assert impact["accounts_reached"] > 0 and impact["feedback"]["terms"] == ["export", "timeout"]
    assert run(["-w", str(workspace), "release-customers", "export-timeout-fix"]) == 0
    assert "tickets about export, timeout" in capsys.readouterr().out
    assert run(["-w", str(workspace), "surveys", "xps"]) == 2


def test_config_errors_name_the_field(workspace, capsys):
    config = workspace / "impactlens.yaml"
    original = config.read_text()
    try:
        config.write_text(original + "health:\n  thresholds:\n    greem: 80\n")
        assert run(["-w", str(workspace), "accounts"]) == 2
        err = capsys.readouterr().err
        assert "health.thresholds.greem" in err and "impactlens.yaml" in err
    finally:
        config.write_text(original)


def test_config_changes_the_ranking(workspace, capsys):
    config = workspace / "impactlens.yaml"
    original = config.read_text()
    try:
        config.write_text(original + "churn:\n  min_churned: 100000\n")
        payload = _json(capsys, ["-w", str(workspace), "accounts", "--json"])
        assert payload["churn"]["status"] == "insufficient_data"
        assert all(r["churn_probability"] is None for r in payload["rows"])
    finally:
        config.write_text(original)
