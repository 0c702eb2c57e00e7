"""Portfolio rules on a hand-worked set of measured releases; the scatter in SVG and PNG."""

from __future__ import annotations

import sys
import types
import xml.etree.ElementTree as ET

import pytest

from impactlens.errors import UserError
from impactlens.service.portfolio import MeasuredRelease, measured_releases, portfolio
from impactlens.service.portfolio_chart import portfolio_svg, save_portfolio_chart


def M(rid, team, effort, verdict, effect=None, lo=None, hi=None, expected="increase"):
    return MeasuredRelease(rid, team, effort, None, verdict, effect, lo, hi, "m", expected)


# Impact per effort (ipe) = oriented effect / effort days.
MEASURED = [
    M("A", "x", 10, "met", 0.10, 0.05, 0.15),  # ipe 0.01
    M("B", "x", 2, "met", 0.06, 0.02, 0.10),  # ipe 0.03
    M("C", "y", 20, "met", 0.04, 0.01, 0.07),  # ipe 0.002
    M("D", "y", 5, "inconclusive", 0.03, -0.01, 0.07),  # ipe 0.006
    M("E", "y", 30, "not_met", 0.005, -0.005, 0.015),  # ipe 0.000167
    M("F", "z", 8, "harmful", -0.05, -0.08, -0.02),
    M("G", "z", 3, "not_met", -0.01, -0.06, 0.04),
    M("H", "z", 4, "inconclusive", -0.02, -0.09, 0.05),
    M("I", "x", None, "met", 0.08, 0.03, 0.13),  # effort unknown
    M("J", "x", 6, "too_early"),
    M("K", "y", 4, "met", -0.12, -0.18, -0.06, expected="decrease"),  # oriented +12%, ipe 0.03
]


@pytest.fixture(scope="module")
def p():
    return portfolio(MEASURED)


def test_bar_is_the_median_positive_impact_per_effort(p) -> None:
    # Positive ipes: E 0.000167, C 0.002, D 0.006, A 0.01, B 0.03, K 0.03 -> (0.006 + 0.01) / 2.
    assert p.impact_per_effort_bar == pytest.approx(0.008)


def test_lists(p) -> None:
    # Met, effect >= 2% and ipe >= 0.008: B and K (0.03, tie by id), then A (0.01).
    assert [x.release_id for x in p.double_down] == ["B", "K", "A"]
    # Inconclusive, positive estimate, interval reaching +2%.
    assert [x.release_id for x in p.iterate] == ["D"]
    # E: interval below +2%; F harmful; G not met with a negative estimate -- costliest first.
    assert [x.release_id for x in p.stop] == ["E", "F", "G"]
    actions = {x.release_id: x.action for x in p.points}
    assert (actions["C"], actions["I"], actions["H"], actions["J"]) == (
        "keep",
        "keep",
        "hold",
        "wait",
    )


def test_evidence_and_orientation(p) -> None:
    points = {x.release_id: x for x in p.points}
    k = points["K"]
    assert (k.effect, k.ci_low, k.ci_high) == (0.12, 0.06, 0.18)  # a wanted decrease, flipped
    assert k.impact_per_effort == pytest.approx(0.03)
    assert k.evidence.startswith("met: +12.0% [+6.0%, +18.0%] on m")
    assert "+0.8% per effort-day" not in k.evidence and "portfolio bar +0.8%" in k.evidence
    assert "too small to matter" in points["E"].evidence
    assert "hurts" in points["F"].evidence
    assert points["J"].effect is None and points["J"].evidence == "too_early: too early"


def test_teams(p) -> None:
    teams = {t.team: t for t in p.teams}
    x, y, z = teams["x"], teams["y"], teams["z"]
    # x: A B I J; effort 10 + 2 + 6 = 18; measured A B I; ipe (0.10 + 0.06) / (10 + 2).
    assert (x.releases, x.effort_days, x.measured, x.wins) == (4, 18, 3, 3)
    assert x.impact_per_effort == pytest.approx(0.16 / 12)
    # y: (0.04 + 0.03 + 0.005 + 0.12) / (20 + 5 + 30 + 4) = 0.195 / 59.
    assert y.impact_per_effort == pytest.approx(0.195 / 59) and y.wins == 2
    assert (z.harmful, z.wins) == (1, 0) and z.impact_per_effort == pytest.approx(-0.08 / 15)


def test_min_effect_changes_the_lists() -> None:
    stricter = portfolio(MEASURED, min_effect=0.08)
    # D's interval (up to +7%) no longer reaches +8%: stop. B (+6%) is no longer big enough.
    assert "D" in [x.release_id for x in stricter.stop]
    assert [x.release_id for x in stricter.double_down] == ["K", "A"]


def test_empty_portfolio() -> None:
    empty = portfolio([])
    assert empty.points == () and empty.impact_per_effort_bar is None
    assert empty.to_dict()["double_down"] == []
    assert "no release with effort" in portfolio_svg(empty)


def test_measured_releases_hook(warehouse, monkeypatch) -> None:
    service = types.ModuleType("impactlens.service.releases")
    monkeypatch.setitem(sys.modules, "impactlens.service.releases", service)
    assert measured_releases(warehouse) == []  # the service has no provider yet
    service.measured_releases = lambda wh: (MEASURED[0],)
    assert measured_releases(warehouse) == [MEASURED[0]]


def test_svg_scatter(p) -> None:
    svg = portfolio_svg(p)
    root = ET.fromstring(svg)
    circles = root.findall(".//{http://www.w3.org/2000/svg}circle")
    # 9 plotted points (I has no effort, J no effect) + 5 legend dots.
    assert len(circles) == 9 + 5
    assert "B (x): met: +6.0%" in svg


def test_png_and_svg_files(p, tmp_path) -> None:
    png = save_portfolio_chart(p, tmp_path / "portfolio.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_portfolio_chart(p, tmp_path / "portfolio.svg")
    assert svg.read_text().startswith("<svg")
    with pytest.raises(UserError):
        save_portfolio_chart(p, tmp_path / "portfolio.gif")
