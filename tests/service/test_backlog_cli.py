"""The backlog, delivery and portfolio commands as a user runs them."""

from __future__ import annotations

import json
import sys
import types
from datetime import datetime

import pyarrow as pa
import pytest

from impactlens.cli.app import run
from impactlens.config import load_workspace
from impactlens.service.portfolio import MeasuredRelease

MEASURED = [
    MeasuredRelease("r1", "alpha", 5, "search", "met", 0.12, 0.06, 0.18, "search_ctr"),
    MeasuredRelease("r2", "beta", 20, "export", "harmful", -0.04, -0.07, -0.01, "exports"),
    MeasuredRelease("r3", "beta", 8, "export", "inconclusive", 0.03, -0.01, 0.07, "exports"),
]


@pytest.fixture
def ws(tmp_path, capsys, monkeypatch):
    root = tmp_path / "ws"
    assert run(["init", str(root)]) == 0
    service = types.ModuleType("impactlens.service.releases")
    service.measured_releases = lambda wh: list(MEASURED)
    monkeypatch.setitem(sys.modules, "impactlens.service.releases", service)
    wh = load_workspace(root).connect()
    wh.write(
        "deployments",
        pa.table(
            {
                "deploy_id": ["d1", "d2", "d3"],
                "service": ["api", "api", "web"],
                "deployed_at": [
                    datetime(2026, 3, 2, 10),
                    datetime(2026, 3, 3, 10),
                    datetime(2026, 3, 4, 10),
                ],
                "committed_at": [
                    datetime(2026, 3, 2, 4),
                    datetime(2026, 3, 2, 10),
                    datetime(2026, 3, 4, 8),
                ],
                "release_id": ["r1", "r1", "r2"],
                "status": ["success", "success", "rolled_back"],
            }
        ),
    )
    wh.write("releases", pa.table({"release_id": ["r1", "r2"], "team": ["alpha", "beta"],
                                   "shipped_at": [datetime(2026, 3, 2), datetime(2026, 3, 4)]}))  # fmt: skip
    wh.close()
    capsys.readouterr()
    return root


def _json(capsys, argv):
    assert run(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_backlog_add_rank_explain_and_what_if(ws, capsys) -> None:
    w = ["-w", str(ws)]
    assert run([*w, "backlog", "add", "--id", "a", "--title", "A", "--team", "alpha",
                "--effort-days", "10", "--reach", "100", "--impact", "1", "--confidence", "0.8"]) == 0  # fmt: skip
    assert run([*w, "backlog", "add", "--id", "b", "--title", "B", "--team", "beta",
                "--effort-days", "4", "--reach", "50", "--dependencies", "3"]) == 0  # fmt: skip
    capsys.readouterr()
    ranking = _json(capsys, [*w, "backlog", "--json"])
    # a: 100 * 1 * 0.8 / 10 = 8. b: impact from beta's measured releases r2 -4%, r3 +3% ->
    # median -0.5% -> 0.25; confidence 0.8 (2 comparables) -> 50 * 0.25 * 0.8 / 4 = 2.5.
    assert [(i["item_id"], i["rank"]) for i in ranking["items"]] == [("a", 1), ("b", 2)]
    b = ranking["items"][1]
    assert b["impact"]["value"] == 0.25 and b["impact"]["estimated"] is True
    assert "team beta" in b["impact"]["source"] and b["rice"] == pytest.approx(2.5)
    assert b["explain"][0].startswith("reach: 50 (given")

    assert run([*w, "backlog"]) == 0
    out = capsys.readouterr().out
    assert "Backlog by RICE" in out and "impact: 0.25 (estimated: median effect" in out

    # b at reach 500: 500 * 0.25 * 0.8 / 4 = 25 > 8 -> rank 2 -> 1; nothing is written.
    moved = _json(capsys, [*w, "backlog", "what-if", "b", "--reach", "500", "--json"])
    assert (moved["old_rank"], moved["new_rank"]) == (2, 1)
    assert moved["new_score"]["rice"] == pytest.approx(25.0)
    assert run([*w, "backlog", "what-if", "b", "--reach", "500"]) == 0
    assert "rank 2 -> 1" in capsys.readouterr().out
    assert _json(capsys, [*w, "backlog", "--json"])["items"][0]["item_id"] == "a"


def test_backlog_errors_exit_2(ws, capsys) -> None:
    w = ["-w", str(ws)]
    assert run([*w, "backlog", "add", "--id", "x", "--title", "X", "--team", "t",
                "--effort-days", "2", "--impact", "7"]) == 2  # fmt: skip
    assert "impact" in capsys.readouterr().err
    assert run([*w, "backlog", "what-if", "x", "--reach", "5"]) == 2  # no such item
    assert run([*w, "backlog", "what-if", "x"]) == 2  # nothing to change
    assert run([*w, "backlog", "--weight", "arr"]) == 2  # no revenue


def test_delivery_commands(ws, capsys) -> None:
    w = ["-w", str(ws)]
    report = _json(capsys, [*w, "delivery", "--by", "team", "--json"])
    # 3 deploys over 3 days; successful d1 d2; failure d3 (rolled back); leads 6 h, 24 h.
    o = report["overall"]
    assert (o["deploys"], o["change_failures"], o["lead_time_median_hours"]) == (3, 1, 15.0)
    assert [g["group"] for g in report["groups"]] == ["alpha", "beta"]
    assert run([*w, "delivery", "--weekly"]) == 0
    out = capsys.readouterr().out
    assert "Delivery (DORA)" in out and "Week by week" in out
    facts = _json(capsys, [*w, "delivery", "--release", "r1", "--json"])
    assert [d["deploy_id"] for d in facts["deploys"]] == ["d1", "d2"]
    teams = _json(capsys, [*w, "delivery", "--teams", "--json"])
    alpha = next(t for t in teams if t["team"] == "alpha")
    assert (alpha["deploys"], alpha["wins"], alpha["win_rate"]) == (2, 1, 1.0)
    assert (
        run([*w, "delivery", "--teams"]) == 0 and "speed beside impact" in capsys.readouterr().out
    )
    assert run([*w, "delivery", "--release", "nope"]) == 2


def test_portfolio_command(ws, capsys, tmp_path) -> None:
    w = ["-w", str(ws)]
    chart = tmp_path / "p.png"
    payload = _json(capsys, [*w, "portfolio", "--json", "--chart", str(chart)])
    assert [x["release_id"] for x in payload["double_down"]] == ["r1"]
    assert [x["release_id"] for x in payload["stop"]] == ["r2"]
    assert [x["release_id"] for x in payload["iterate"]] == ["r3"]
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert run([*w, "portfolio"]) == 0
    out = capsys.readouterr().out
    assert "Double down (1)" in out and "Stop investing (1)" in out
