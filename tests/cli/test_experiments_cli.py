"""`impactlens experiment`, `experiments` and `decide` as a user runs them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from test_experiments_world import random_world  # noqa: E402

from impactlens.cli.app import run  # noqa: E402
from impactlens.config import init_workspace  # noqa: E402

METRICS_YAML = """
metrics:
  - {name: reports, kind: count, event: Report Created, higher_is_better: true}
  - {name: errors, kind: count, event: Error Shown, higher_is_better: false}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    ws = init_workspace(root)
    (root / "metrics.yaml").write_text(METRICS_YAML)
    wh = ws.connect()
    random_world(wh, n=800, lift=0.4, error_lift=0.0, seed=2, guardrails=("errors",))
    wh.close()
    return root


def _json(capsys, argv) -> dict:
    capsys.readouterr()
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_experiment_json_and_html_and_markdown_readouts(workspace, capsys, tmp_path) -> None:
    html = tmp_path / "readout.html"
    payload = _json(
        capsys, ["-w", str(workspace), "experiment", "exp", "--json", "--out", str(html)]
    )
    assert payload["recommendation"]["decision"] == "ship"
    assert payload["method"] == "frequentist" and payload["correction"] == "holm"
    page = html.read_text()
    assert page.count("<svg") >= 3  # the forest plot and a cumulative chart per metric
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    assert "SHIP" in page.upper() and "Lift by metric" in page
    md = tmp_path / "readout.md"
    assert (
        run(["-w", str(workspace), "experiment", "exp", "--method", "bayesian", "--out", str(md)])
        == 0
    )
    text = md.read_text()
    links = re.findall(r"\]\((readout_charts/[^)]+\.svg)\)", text)
    assert "forest" in links[0] and len(links) == 3
    assert all((tmp_path / link).read_text().startswith("<svg") for link in links)
    assert "chance to win" in text
    out = capsys.readouterr().out
    assert "SHIP" in out and "readout written to" in out


def test_decide_then_the_list_and_the_readout_show_it(workspace, capsys) -> None:
    listed = _json(capsys, ["-w", str(workspace), "experiments", "--json"])["experiments"]
    assert [(e["experiment_id"], e["status"], e["decided"]) for e in listed] == [
        ("exp", "ended", False)
    ]
    assert listed[0]["exposed_users"] == 800
    recorded = _json(capsys, ["-w", str(workspace), "decide", "exp", "--decision", "ship",
                              "--why", "reports +40%, guardrail flat", "--next-step", "roll out",
                              "--by", "alice", "--json"])["decision"]  # fmt: skip
    assert (recorded["decision"], recorded["decided_by"]) == ("ship", "alice")
    listed = _json(capsys, ["-w", str(workspace), "experiments", "--json"])["experiments"]
    assert listed[0]["decided"] and listed[0]["decision"]["why"] == "reports +40%, guardrail flat"
    assert run(["-w", str(workspace), "experiment", "exp"]) == 0
    assert "decided: ship by alice" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decide", "exp", "--decision", "ship", "--next-step", "x"], "--why"),
        (
            ["decide", "exp", "--decision", "maybe", "--why", "x", "--next-step", "x"],
            "ship, iterate or abandon",
        ),
        (["experiment", "nope"], "known: exp"),
        (["experiment", "exp", "--method", "magic"], "unknown method"),
        (["experiment", "exp", "--out", "readout.pdf"], "use a .html or .md file"),
    ],
)
def test_user_errors_exit_2_and_say_why(workspace, capsys, argv, message) -> None:
    capsys.readouterr()
    assert run(["-w", str(workspace), *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
