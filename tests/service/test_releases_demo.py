"""Release impact on the demo company: every planted truth is recovered, no null is a win.

The demo's generator records what it planted in truth.json (docs/demo-company.md);
these tests read it, so a change of the demo's effects changes the expectations.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from impactlens.reports.review import render_html, render_markdown
from impactlens.service.releases import review_releases
from impactlens.service.review import build_review

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truth(demo_small) -> dict:
    return json.loads((demo_small.root / "data" / "truth.json").read_text())


@pytest.fixture(scope="module")
def impacts(demo_small):
    wh = demo_small.connect(read_only=True)
    try:
        return {r.release.release_id: r for r in review_releases(wh, demo_small)}
    finally:
        wh.close()


def _planted(truth: dict, label: str) -> list[dict]:
    return [r for r in truth["releases"] if r["label"] == label]


def _brute_force_flag_did(demo_small, release) -> float:
    """Ratio-of-sums DiD for a flag release, computed from raw events with pandas.

    Independent of the metrics layer: the actors seen with the flag true in the
    28 days from the ship day (exposed) and those seen with it only false there
    (the rollout's control arm); clicks/searches of each group in the 56 days
    before vs the 28 days after.
    """
    import duckdb

    start = release.shipped_at.replace(hour=0, minute=0, second=0)
    con = duckdb.connect(str(demo_small.root / ".impactlens" / "warehouse.duckdb"), read_only=True)
    try:
        frame = con.execute(
            "SELECT e.actor_id, e.timestamp, e.event, e.properties FROM events e "
            "LEFT JOIN accounts a USING (account_id) "
            "WHERE e.timestamp >= ? AND e.timestamp < ? "
            "AND coalesce(json_extract_string(a.attributes, '$.holdout'), 'false') <> 'true'",
            [start - timedelta(days=56), start + timedelta(days=28)],
        ).df()
    finally:
        con.close()
    post = frame[frame.timestamp >= start]
    flag = release.audience.flag
    props = post.properties.fillna("")
    flagged = set(post[props.str.contains(f'"{flag}":true')].actor_id)
    control = set(post[props.str.contains(f'"{flag}":false')].actor_id) - flagged
    frame = frame[frame.actor_id.isin(flagged | control)]
    frame = frame.assign(
        post=frame.timestamp >= start,
        exposed=frame.actor_id.isin(flagged),
        click=frame.event == "Search Result Clicked",
        search=frame.event == "Search Performed",
    )
    sums = frame.groupby(["exposed", "post"])[["click", "search"]].sum()
    ctr = sums.click / sums.search
    change_unexposed = ctr[(False, True)] - ctr[(False, False)]
    did = (ctr[(True, True)] - ctr[(True, False)]) - change_unexposed
    return did / (ctr[(True, False)] + change_unexposed)


def test_planted_wins_are_met_and_recovered(demo_small, truth, impacts) -> None:
    wins = _planted(truth, "win")
    assert wins, "the demo plants winning releases"
    for planted in wins:
        got = impacts[planted["id"]]
        effect = next(
            e for e in planted["true_effects"] if e["metric"] == planted["hypothesis"]["metric"]
        )
        assert got.verdict == "met", (planted["id"], got.verdict, got.reason)
        if got.release.audience.flag:
            # The flag release's estimate is the DiD of its two arms; it must equal an
            # independent computation exactly.
            assert got.primary.relative == pytest.approx(
                _brute_force_flag_did(demo_small, got.release), rel=1e-9
            )
        assert got.primary.lower <= effect["relative"] <= got.primary.upper, (
            planted["id"], effect["relative"], got.primary.lower, got.primary.upper,
        )  # fmt: skip


def test_null_releases_are_never_called_a_win(truth, impacts) -> None:
    for planted in _planted(truth, "null"):
        got = impacts[planted["id"]]
        assert got.verdict not in ("met", "harmful"), (planted["id"], got.verdict, got.reason)


def test_the_release_that_harms_a_guardrail_is_harmful(truth, impacts) -> None:
    for planted in _planted(truth, "harm"):
        got = impacts[planted["id"]]
        assert got.verdict == "harmful", (planted["id"], got.verdict, got.reason)
        harmed = [e for e in planted["true_effects"] if e["relative"]]
        for effect in harmed:
            guard = next(g for g in got.guardrails if g.metric == effect["metric"])
            assert guard.lower <= effect["relative"] <= guard.upper


def test_releases_days_apart_on_one_metric_are_flagged_confounded(truth, impacts) -> None:
    for group in truth["confounded"]:
        for rid in group["releases"]:
            others = set(group["releases"]) - {rid}
            assert others <= set(impacts[rid].confounded_with)
            assert "Confounded" in impacts[rid].reason


def test_releases_without_hypothesis_get_candidate_metrics(truth, impacts) -> None:
    for planted in _planted(truth, "no-hypothesis"):
        got = impacts[planted["id"]]
        assert got.verdict == "no_hypothesis"
        assert "how would we know" in got.reason


def test_review_coverage_and_reports(demo_small, impacts) -> None:
    wh = demo_small.connect(read_only=True)
    try:
        review = build_review(wh, demo_small, last_days=180)
    finally:
        wh.close()
    assert review.shipped == len(impacts)
    measured = sum(r.measured for r in impacts.values())
    assert review.measured == measured
    assert math.isclose(review.coverage, measured / len(impacts))
    assert sum(t.shipped for t in review.coverage_by_team) == review.shipped
    html = render_html(review)
    assert (
        "<script src" not in html
        and "https://" not in html.split("<footer>")[0].split("</style>")[0]
    )
    assert html.count("<svg") >= review.measured
    md = render_markdown(review)
    assert "Impact coverage" in md and "search-v2" in md
    payload = review.to_dict()
    assert payload["coverage"] == review.coverage
    json.dumps(payload)  # JSON-serialisable all the way down
