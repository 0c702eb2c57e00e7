"""Backlog scoring: RICE and ROI by hand, estimates with their sources, what-if moves."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

from impactlens.errors import UserError, ValidationError
from impactlens.service.backlog import (
    BacklogItem,
    add_backlog_item,
    item_links,
    rank_backlog,
    rice,
    roi,
    what_if,
)
from impactlens.service.backlog_evidence import impact_from_effect
from impactlens.service.portfolio import MeasuredRelease
from impactlens.warehouse import Warehouse

MEASURED = [
    MeasuredRelease("search-v2", "discovery", 15, "search", "met", 0.08, 0.03, 0.13, "search_ctr"),
    MeasuredRelease(
        "search-autocomplete",
        "discovery",
        5,
        "search",
        "inconclusive",
        0.02,
        -0.01,
        0.05,
        "search_ctr",
    ),
    MeasuredRelease(
        "onboarding-v1", "growth", 8, "onboarding", "met", 0.20, 0.10, 0.30, "activation"
    ),
    MeasuredRelease("latency-fix", "platform", 3, None, "too_early", None, None, None, "p95"),
]


def D(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour)


def _table(rows: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.table({n: [row.get(n) for row in rows] for n in names})


def _flag(on: bool) -> str:
    return json.dumps({"flags": {"search_v2": on}})


@pytest.fixture(scope="module")
def backlog_wh():
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    wh.write("accounts", _table([{"account_id": f"a{i}", "name": f"A{i}"} for i in range(1, 6)]))
    # Latest month: ARR = 12 x MRR: a1 12000, a2 6000, a3 3000, a5 3000 (a4 pays nothing).
    # Total 24000, mean over the 4 paying accounts 6000. An older month must be ignored.
    wh.write(
        "revenue",
        _table(
            [
                {"account_id": a, "period_start": datetime(2026, 4, 1).date(), "mrr": m}
                for a, m in (("a1", 1000.0), ("a2", 500.0), ("a3", 250.0), ("a5", 250.0))
            ]
            + [{"account_id": "a4", "period_start": datetime(2026, 3, 1).date(), "mrr": 9999.0}]
        ),
    )
    wh.write(
        "releases",
        _table(
            [
                {"release_id": "search-v2", "title": "Faster, typo-tolerant search",
                 "team": "discovery", "shipped_at": D(3, 2), "audience_flag": "search_v2"},
            ]
        ),
    )  # fmt: skip
    # Latest event on 1 May -> the 90-day window is [1 Feb, 2 May).
    events = [
        ("e1", D(4, 20), "Used", "u1", "a1", _flag(True)),
        ("e2", D(4, 21), "Used", "u2", "a2", _flag(True)),
        ("e3", D(4, 21), "Used", "u3", "a2", _flag(False)),
        ("e4", D(1, 5), "Used", "u4", "a3", _flag(True)),  # before the window
        ("e5", D(4, 25), "Used", "u5", "a4", json.dumps({"feature": "search-v2"})),
        ("e6", D(5, 1), "Used", "u6", "a5", "{}"),
        ("e7", D(4, 28), "Search Performed", "u8", "a3", "{}"),  # its name has "search"
    ]
    wh.write(
        "events",
        _table(
            [
                {"message_id": m, "timestamp": t, "event": e, "user_id": u,
                 "actor_id": u, "account_id": a, "properties": p}
                for m, t, e, u, a, p in events
            ]
        ),
    )  # fmt: skip
    wh.write(
        "tickets",
        _table(
            [
                {"ticket_id": "t1", "created_at": D(4, 10), "account_id": "a3", "user_id": "u7",
                 "feature": "search-v2"},
                {"ticket_id": "t2", "created_at": D(4, 11), "account_id": "a5", "user_id": "u6",
                 "tags": '["bulk-export"]'},
                {"ticket_id": "t3", "created_at": D(4, 12), "account_id": "a1",
                 "user_id": "u1", "attributes": '{"subject": "Please add CSV export in bulk"}'},
                {"ticket_id": "t4", "created_at": D(4, 13), "account_id": "a2",
                 "user_id": "u3", "attributes": '{"subject": "export is slow"}'},
            ]
        ),
    )  # fmt: skip
    wh.write(
        "surveys",
        _table(
            [{"response_id": "s1", "responded_at": D(4, 14), "account_id": "a4", "user_id": "u5",
              "survey": "nps", "score": 9.0, "comment": "Would love a BULK export"}]
        ),
    )  # fmt: skip
    add_backlog_item(
        wh, item_id="bulk-export", title="Bulk export to CSV", team="reporting", effort_days=5,
        impact=2, confidence=0.5, business_impact=4, technical_sustainability=2,
        dependencies=["auth-revamp"],
    )  # fmt: skip
    # The rest as the importer stores backlog.yaml: contract columns, extra keys in attributes.
    wh.write(
        "backlog",
        _table(
            [
                {"item_id": "search-filters", "title": "Search filters", "team": "discovery",
                 "effort_days": 10.0, "feature": "search-v2"},
                {"item_id": "sso", "title": "Single sign-on", "team": "platform",
                 "effort_days": 20.0, "reach": 500.0, "impact": 3.0, "confidence": 1.0},
                {"item_id": "dark-mode", "title": "Dark mode", "team": "growth", "effort_days": 4.0,
                 "attributes": "{}"},
            ]
        ),
    )  # fmt: skip
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def ranking(backlog_wh):
    return rank_backlog(backlog_wh, measured=MEASURED)


def test_formulas_on_hand_computed_examples() -> None:
    assert rice(500, 3, 1.0, 20) == pytest.approx(75.0)  # 500 * 3 * 1.0 / 20
    assert rice(3, 2, 0.5, 5) == pytest.approx(0.6)  # 3 * 2 * 0.5 / 5
    assert rice(3, 2, 0.5, None) is None and rice(None, 2, 0.5, 5) is None
    # (4 + 4 + 2) / (5 * (1 + 0.25 * (2 - 1))) = 10 / 6.25
    assert roi(4, 4, 2, 5, 2) == pytest.approx(1.6)
    assert roi(1, 5, 3, 20, 1) == pytest.approx(0.45)  # 9 / 20
    assert roi(5, 5, 5, 0, 1) is None


@pytest.mark.parametrize(
    ("effect", "impact"),
    [
        (-0.05, 0.25),
        (0.0099, 0.25),
        (0.01, 0.5),
        (0.03, 1.0),
        (0.0699, 1.0),
        (0.07, 2.0),
        (0.15, 3.0),
    ],
)
def test_effect_to_impact_mapping(effect, impact) -> None:
    assert impact_from_effect(effect)[0] == impact


def test_ranking_by_rice(ranking) -> None:
    assert [(i.item_id, i.rank) for i in ranking.items] == [
        ("sso", 1), ("bulk-export", 2), ("search-filters", 3), ("dark-mode", 4),
    ]  # fmt: skip
    assert ranking.reach_unit == "users"
    assert ranking.window == ("2026-02-01T00:00:00", "2026-05-02T00:00:00")


def test_estimates_from_usage_tickets_and_measured_releases(ranking) -> None:
    item = ranking.get("search-filters")
    # Reach (users): flag search_v2 on for u1 u2, feature property u5, event name with
    # "search" u8 (u4's flagged event is too old; u3's flag is off); ticket t1 of u7 -> 5.
    assert (item.reach.value, item.reach.estimated) == (5.0, True)
    assert item.reach.source.startswith("5 users used or asked for it (4 via usage, 1 via tickets)")
    # Impact: comparables share the feature area (search-v2 itself, and search-autocomplete
    # of feature "search"): median(+8%, +2%) = +5% -> 1 (medium).
    assert (item.impact.value, item.impact.estimated) == (1.0, True)
    assert "+5.0%" in item.impact.source and "search-autocomplete" in item.impact.source
    # Confidence: 2 comparables, 1 interval excluding zero -> 0.8.
    assert item.confidence.value == 0.8 and "2 measured release(s)" in item.confidence.source
    assert (item.effort.value, item.effort.estimated) == (10.0, False)
    assert item.rice == pytest.approx(5 * 1 * 0.8 / 10)
    # Five factors: reach holds 21000 / 24000 = 87.5% of ARR -> 5; user impact from impact 1 -> 3.
    assert item.business_impact.value == 5.0 and "87.5% of ARR" in item.business_impact.source
    assert (item.user_impact.value, item.sustainability.value, item.dependencies.value) == (3, 3, 1)
    assert all(f.estimated for f in (item.user_impact, item.sustainability, item.dependencies))
    assert item.roi == pytest.approx((5 + 3 + 3) / 10)


def test_requests_by_text_and_given_factors(ranking) -> None:
    item = ranking.get("bulk-export")
    # No feature: t2's tag names the id (a5), t3 names 2 title words (a1), the survey
    # comment s1 names 2 (a4); t4 names only "export" -> 3 users (and accounts).
    assert item.reach.value == 3.0 and "2 via tickets" in item.reach.source
    assert "1 via comments" in item.reach.source
    assert not item.impact.estimated and item.impact.source == "given"
    assert item.dependencies.value == 2.0 and not item.dependencies.estimated  # one dependency
    assert item.user_impact.value == 4.0  # from the given impact 2
    assert (item.rice, item.roi) == (pytest.approx(0.6), pytest.approx(1.6))


def test_team_comparables_and_empty_reach(ranking) -> None:
    item = ranking.get("dark-mode")
    assert item.reach.value == 0.0 and "0 users" in item.reach.source
    # Nothing names it, so the business impact is neutral rather than "no one's ARR".
    assert (
        item.business_impact.value == 3.0 and "nothing in the data" in item.business_impact.source
    )
    assert item.roi == pytest.approx((3 + 5 + 3) / 4)
    # Team growth measured onboarding-v1 at +20% [+10%, +30%] -> impact 3, confidence 0.8.
    assert (item.impact.value, item.confidence.value) == (3.0, 0.8)
    assert "team growth" in item.impact.source
    sso = ranking.get("sso")
    assert sso.business_impact.value == 3.0
    assert sso.roi == pytest.approx((3 + 5 + 3) / 20)


def test_explain_has_one_line_per_factor(ranking) -> None:
    lines = ranking.get("search-filters").explain()
    assert len(lines) == 8
    assert lines[0].startswith("reach: 5 (estimated: 5 users used or asked for it")
    assert lines[3] == "effort: 10 (given: given)"
    payload = ranking.to_dict()
    first = payload["items"][0]
    assert first["reach"] == {"value": 500.0, "estimated": False, "source": "given"}


def test_account_and_arr_weighting(backlog_wh) -> None:
    by_account = rank_backlog(backlog_wh, measured=MEASURED, weight="accounts")
    item = by_account.get("search-filters")
    # a1 a2 (flag), a4 (feature property), a3 (search event and ticket t1) -> 4 accounts.
    assert item.reach.value == 4.0
    assert item.reach.source.startswith(
        "4 accounts used or asked for it (4 via usage, 1 via tickets)"
    )
    weighted = rank_backlog(backlog_wh, measured=MEASURED, weight="arr")
    item = weighted.get("search-filters")
    # a1 12000 + a2 6000 + a3 3000 + a4 0 = 21000 ARR / mean 6000 = 3.5 account-equivalents.
    assert item.reach.value == pytest.approx(3.5) and "ARR-weighted" in item.reach.source
    assert weighted.reach_unit == "ARR-weighted accounts"


def test_what_if_moves_the_ranking(ranking) -> None:
    # search-filters at reach 500: 500 * 1 * 0.8 / 10 = 40 < 75 (sso) -> from 3rd to 2nd.
    assert ranking.get("search-filters").rank == 3
    move = what_if(ranking, "search-filters", reach=500)
    assert (move.old_rank, move.new_rank) == (3, 2)
    assert move.after.rice == pytest.approx(40.0)
    assert move.after.reach.source == "what-if" and not move.after.reach.estimated
    assert [(m.item_id, m.old_rank, m.new_rank) for m in move.moves] == [
        ("search-filters", 3, 2), ("bulk-export", 2, 3),
    ]  # fmt: skip
    # dark-mode at reach 100: 100 * 3 * 0.8 / 4 = 60 -> 2nd; at effort 1 too: 240 -> 1st.
    assert what_if(ranking, "dark-mode", reach=100).new_rank == 2
    assert what_if(ranking, "dark-mode", reach=100, effort=1).new_rank == 1
    # A derived user impact follows a new impact: 3 -> user impact 5.
    assert what_if(ranking, "search-filters", impact=3).after.user_impact.value == 5.0
    assert ranking.get("search-filters").rank == 3  # the original is untouched
    with pytest.raises(ValidationError):
        what_if(ranking, "sso", confidence=80)
    with pytest.raises(UserError):
        what_if(ranking, "nope", reach=1)


def test_item_links() -> None:
    templates = BacklogItem("t", "Share templates", "reporting", 8.0, feature="report-templates")
    links = item_links(templates, {})
    # No release known: the feature id is taken as flag names and phrases; its words name events.
    assert links.flags == ("report-templates", "report_templates")
    assert links.event_words == ("report", "template", "templates")
    assert links.phrases == ("report templates", "report-templates")
    assert links.words == ("share", "templates")
    chosen = BacklogItem(
        "t", "T", None, 1.0, feature="report-templates", reach_events=("Report Created",)
    )
    assert item_links(chosen, {}).events == ("Report Created",)
    assert item_links(chosen, {}).event_words == ()  # the user's events replace the guess
    bare = item_links(BacklogItem("dark-mode", "Dark mode", None, 1.0), {})
    assert (bare.feature, bare.flags, bare.phrases) == (None, (), ("dark-mode",))


def test_missing_effort_is_estimated(warehouse) -> None:
    warehouse.write(
        "backlog",
        _table([{"item_id": "x", "title": "X", "team": "discovery", "reach": 10.0, "impact": 1.0}]),
    )
    item = rank_backlog(warehouse, measured=MEASURED).get("x")
    # Team discovery's measured releases took 15 and 5 days -> median 10.
    assert (item.effort.value, item.effort.estimated) == (10.0, True)
    assert "median effort of 2 release(s)" in item.effort.source
    assert item.reach.source == "given" and "no usage" not in item.reach.source


def test_add_validates_every_field(warehouse) -> None:
    with pytest.raises(ValidationError) as err:
        add_backlog_item(
            warehouse, item_id="bad", title="Bad", team=None, effort_days=0, impact=5,
            confidence=1.5, user_impact=9,
        )  # fmt: skip
    fields = {p.field for p in err.value.problems}
    assert fields == {"effort_days", "impact", "confidence", "user_impact"}
    assert warehouse.count("backlog") == 0


def test_bad_attributes_in_the_table_are_reported(warehouse) -> None:
    warehouse.write(
        "backlog",
        _table(
            [
                {
                    "item_id": "y",
                    "title": "Y",
                    "effort_days": 2.0,
                    "attributes": '{"dependencies": 8}',
                }
            ]
        ),
    )
    with pytest.raises(ValidationError, match="dependencies"):
        rank_backlog(warehouse, measured=[])


def test_arr_weight_needs_revenue(warehouse) -> None:
    with pytest.raises(UserError, match="revenue"):
        rank_backlog(warehouse, measured=[], weight="arr")
