"""Health components against values computed by hand on a four-account fixture.

Weeks are Mondays from 2026-01-05 (week 0) to 2026-02-23 (week 7, the last
week of the data). The health window is 4 weeks: "recent" = weeks 4-7,
"prior" = weeks 0-3. Key features are fixed to four event names.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from impactlens.errors import ValidationError
from impactlens.service.accounts import compute_health, load_health_config
from impactlens.service.accounts.health import trailing_sum
from impactlens.warehouse import Warehouse

W0 = datetime(2026, 1, 5)
FEATURES = ["Report Created", "Export Started", "Dashboard Viewed", "Search Performed"]
CONFIG = {"components": {"breadth": {"features": FEATURES}}}


def at(week: int, day: int = 1, hour: int = 10) -> datetime:
    return W0 + timedelta(weeks=week, days=day, hours=hour)


def _events(rows: list[tuple[str, str, str, datetime]]) -> pa.Table:
    return pa.table(
        {
            "message_id": [f"m{i}" for i in range(len(rows))],
            "timestamp": [r[3] for r in rows],
            "type": ["track"] * len(rows),
            "event": [r[2] for r in rows],
            "user_id": [r[1] for r in rows],
            "actor_id": [r[1] for r in rows],
            "account_id": [r[0] for r in rows],
            "properties": ["{}"] * len(rows),
        }
    )


@pytest.fixture(scope="module")
def health_fixture():
    warehouse = Warehouse.connect("duckdb://:memory:")
    warehouse.ensure_schema()
    _fill(warehouse)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def report(health_fixture):
    return compute_health(health_fixture, load_health_config(CONFIG))


def _fill(warehouse: Warehouse) -> None:
    ev = []
    # acc-a: 10 events a week in weeks 0-3, 5 a week in weeks 4-7, 3 active users a
    # week in weeks 4-7, two of the four key features used in weeks 4-7.
    for w in range(8):
        n = 10 if w < 4 else 5
        for i in range(n):
            feature = FEATURES[i % 2] if w >= 4 else FEATURES[i % 4]
            ev.append(("acc-a", f"a-u{i % 3}", feature, at(w, day=i % 5)))
    # acc-b: 10 events a week in every week, all four features, 6 active users a week.
    for w in range(8):
        for i in range(10):
            ev.append(("acc-b", f"b-u{i % 6}", FEATURES[i % 4], at(w, day=i % 5)))
    # acc-c: created in week 5; 4 events a week in weeks 5-7, one feature, 2 users.
    for w in range(5, 8):
        for i in range(4):
            ev.append(("acc-c", f"c-u{i % 2}", FEATURES[0], at(w, day=i)))
    # acc-d: active weeks 0-5, churned in week 6.
    for w in range(6):
        for i in range(5):
            ev.append(("acc-d", "d-u0", FEATURES[0], at(w, day=i)))
    # A reserved event never counts as usage.
    ev.append(("acc-a", "a-u0", "Survey Responded", at(7)))
    warehouse.write("events", _events(ev))

    warehouse.write(
        "accounts",
        pa.table(
            {
                "account_id": ["acc-a", "acc-b", "acc-c", "acc-d"],
                "name": ["A", "B", "C", "D"],
                "segment": ["enterprise", "smb", "smb", "smb"],
                "created_at": [
                    datetime(2024, 1, 1),
                    datetime(2024, 1, 1),
                    at(5, 0, 0),
                    datetime(2024, 1, 1),
                ],
                "churned_at": [None, None, None, at(6, 2)],
                "attributes": [json.dumps({"seats": 10}), "{}", "{}", "{}"],
            }
        ),
    )
    users = [f"b-u{i}" for i in range(8)] + ["c-u0", "c-u1"]
    warehouse.write(
        "users",
        pa.table(
            {
                "user_id": users,
                "account_id": ["acc-b"] * 8 + ["acc-c"] * 2,
                "created_at": [datetime(2024, 1, 1)] * 8 + [at(5, 0, 0)] * 2,
            }
        ),
    )
    warehouse.write(
        "surveys",
        pa.table(
            {
                "response_id": ["s1", "s2", "s3", "s4"],
                "responded_at": [at(2), at(4), at(6), at(6, 2)],
                "account_id": ["acc-a"] * 4,
                "survey": ["nps", "nps", "nps", "csat"],
                "score": [10.0, 9.0, 3.0, 4.0],
            }
        ),
    )
    warehouse.write(
        "tickets",
        pa.table(
            {
                "ticket_id": ["t1", "t2", "t3"],
                "created_at": [at(4), at(5), at(5, 2)],
                "solved_at": [at(4, 3), None, at(6, 1)],
                "account_id": ["acc-a"] * 3,
                "priority": ["normal", "High", "urgent"],
                "status": ["solved", "open", "solved"],
                "tags": ['["export"]', '["login"]', '["billing"]'],
            }
        ),
    )
    months = [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    warehouse.write(
        "revenue",
        pa.table(
            {
                "account_id": ["acc-a"] * 4 + ["acc-b"] * 4,
                "period_start": months * 2,
                "mrr": [1000.0, 1000.0, 900.0, 800.0] + [500.0] * 4,
                "status": ["active"] * 8,
            }
        ),
    )


def _latest(report, account_id):
    a = report.panel.index_of(account_id)
    return report.at(a, report.latest_week(a))


def test_panel_covers_the_eight_weeks(report):
    assert report.panel.week_starts[0] == date(2026, 1, 5)
    assert report.panel.n_weeks == 8
    assert report.panel.key_features == tuple(FEATURES)


def test_declining_account_components_by_hand(report):
    h = _latest(report, "acc-a")
    assert h.week_start == date(2026, 2, 23)
    subs = {c.name: c.sub_score for c in h.components}
    # usage: 20 events in weeks 4-7 vs 40 in weeks 0-3: c = -0.5; 100 * clip(1 - 0.5/0.5) = 0
    assert subs["usage_trend"] == pytest.approx(0.0)
    # breadth: 2 of 4 key features in weeks 4-7 -> 50
    assert subs["breadth"] == pytest.approx(50.0)
    # seats: 3 active users each week / 10 seats (attribute) = 0.3; 100 * 0.3 / 0.6 = 50
    assert subs["seats"] == pytest.approx(50.0)
    # sentiment: NPS from 10, 9, 3 = 100 * (2 - 1) / 3 = 33.3 -> (33.3 + 100) / 2 = 66.67;
    # CSAT 4 -> 100 * (4 - 1) / 4 = 75; mean = 70.83
    assert subs["sentiment"] == pytest.approx((200 / 3 + 75) / 2)
    # tickets: 3 opened in weeks 4-7, r = 10 * 3 / max(10, 10) = 3; 100 * (1 - 3/4) = 25;
    # one high-priority ticket still open (t2; t3 was solved in week 6): 25 - 20 = 5
    assert subs["tickets"] == pytest.approx(5.0)
    # MRR: February (in force on Sun 2026-03-01) 800 vs December 1000: c = -0.2;
    # 100 * (1 - 0.2 / 0.3) = 33.33
    assert subs["mrr_trend"] == pytest.approx(100 / 3)
    # score = .25*0 + .15*50 + .20*50 + .15*70.83 + .15*5 + .10*33.33 = 32.21 -> red
    expected = 0.15 * 50 + 0.2 * 50 + 0.15 * (200 / 3 + 75) / 2 + 0.15 * 5 + 0.1 * 100 / 3
    assert h.score == pytest.approx(expected)
    assert h.band == "red"
    assert sum(c.contribution for c in h.components) == pytest.approx(h.score)
    assert h.coverage == pytest.approx(1.0)


def test_history_carries_each_weeks_contributions(report):
    a = report.panel.index_of("acc-a")
    weeks = report.contributions(a)
    assert [w["week_start"] for w in weeks][-1] == "2026-02-23"
    for w in weeks:
        parts = [v for v in w["contributions"].values() if v is not None]
        assert sum(parts) == pytest.approx(w["score"], abs=0.05)
    assert weeks[-1]["contributions"]["usage_trend"] == 0.0


def test_high_priority_tickets_open_at_week_end(report):
    a = report.panel.index_of("acc-a")
    # t2 (High, never solved) and t3 (urgent, solved in week 6) are open at the end of week 5.
    assert report.panel.high_open[a].tolist() == [0, 0, 0, 0, 0, 2, 1, 1]
    # week 5: r = 10 * 3 / 10 = 3 -> 25, minus 2 * 20 -> clipped to 0
    assert report.sub_scores["tickets"][a, 5] == pytest.approx(0.0)


def test_healthy_account_without_surveys_renormalizes_weights(report):
    h = _latest(report, "acc-b")
    subs = {c.name: c.sub_score for c in h.components}
    # flat usage (40 vs 40) -> 100; four features -> 100; seats: 6 active / 8 users = 0.75
    # >= 0.6 -> 100; no tickets -> 100; MRR flat -> 100; no answers -> sentiment n/a
    assert subs == {
        "usage_trend": 100,
        "breadth": 100,
        "seats": 100,
        "sentiment": None,
        "tickets": 100,
        "mrr_trend": 100,
    }
    # the remaining weights (0.85 of 1) are rescaled to sum to 1
    assert h.coverage == pytest.approx(0.85)
    assert sum(c.weight for c in h.components) == pytest.approx(1.0)
    assert h.score == pytest.approx(100.0)
    assert h.band == "green"


def test_new_account_has_no_trend_and_is_scored_on_what_is_there(report):
    h = _latest(report, "acc-c")
    subs = {c.name: c.sub_score for c in h.components}
    # created in week 5: no prior window -> usage n/a; no revenue -> MRR n/a; no answers
    assert subs["usage_trend"] is None and subs["mrr_trend"] is None and subs["sentiment"] is None
    # breadth 1/4 = 25; seats: (0 + 2 + 2 + 2) / 4 = 1.5 active / 2 users = 0.75 -> 100; tickets 100
    assert subs["breadth"] == pytest.approx(25.0)
    assert subs["seats"] == pytest.approx(100.0)
    # available weight .15 + .20 + .15 = 0.5 (= min_coverage): (3.75 + 20 + 15) / 0.5 = 77.5
    assert h.coverage == pytest.approx(0.5)
    assert h.score == pytest.approx(77.5)


def test_min_coverage_leaves_thin_weeks_unscored(health_fixture):
    report = compute_health(health_fixture, load_health_config({**CONFIG, "min_coverage": 0.6}))
    a = report.panel.index_of("acc-c")
    assert report.latest_week(a) is None


def test_churned_account_stops_being_scored(report):
    d = report.panel.index_of("acc-d")
    # churned on Wednesday of week 6: weeks 6 and 7 are not scored
    assert report.latest_week(d) == 5
    assert np.isnan(report.scores[d, 6:]).all()


def test_weights_and_thresholds_come_from_the_config(health_fixture):
    only_usage = {
        "components": {
            "usage_trend": {"weight": 1},
            "breadth": {"weight": 0, "features": FEATURES},
            "seats": {"weight": 0},
            "sentiment": {"weight": 0},
            "tickets": {"weight": 0},
            "mrr_trend": {"weight": 0},
        },
        "thresholds": {"green": 90, "red": 10},
    }
    report = compute_health(health_fixture, load_health_config(only_usage))
    assert _latest(report, "acc-a").score == pytest.approx(0.0)
    assert _latest(report, "acc-b").band == "green"
    # full_decline 1.0: a 50% drop scores 100 * (1 - 0.5 / 1.0) = 50 (yellow with these thresholds)
    softer = {
        **only_usage,
        "components": {
            **only_usage["components"],
            "usage_trend": {"weight": 1, "full_decline": 1.0},
        },
    }
    h = _latest(compute_health(health_fixture, load_health_config(softer)), "acc-a")
    assert h.score == pytest.approx(50.0) and h.band == "yellow"


def test_trailing_sum():
    x = np.array([[1.0, 2, 3, 4, 5]])
    assert trailing_sum(x, 2).tolist() == [[1, 3, 5, 7, 9]]


def test_bad_health_config_names_every_problem():
    with pytest.raises(ValidationError) as err:
        load_health_config(
            {
                "tresholds": {},
                "thresholds": {"green": 30, "red": 60},
                "components": {"seats": {"weight": -1}},
            },
            file="impactlens.yaml",
        )
    fields = {p.field for p in err.value.problems}
    assert "health.tresholds" in fields
    assert "health.components.seats.weight" in fields
    assert any(f and f.startswith("health.thresholds") for f in fields)
    assert all(p.file == "impactlens.yaml" for p in err.value.problems)


def test_all_zero_weights_are_rejected():
    zero = {
        name: {"weight": 0}
        for name in ("usage_trend", "breadth", "seats", "sentiment", "tickets", "mrr_trend")
    }
    with pytest.raises(ValidationError, match="at least one component"):
        load_health_config({"components": zero})


def test_empty_warehouse_gives_an_empty_report(warehouse):
    report = compute_health(warehouse)
    assert report.scores.shape == (0, 0)
    assert report.to_dict()["accounts"] == []


def test_an_event_name_with_a_nul_character_is_never_a_key_feature(warehouse):
    # DuckDB's parser ends a string literal at a NUL byte: a key feature named so would
    # break the panel query (found by the server's fuzz test on GET /api/v1/accounts).
    rows = [("acc-a", "u1", "Report\x00Created", at(w, day=d)) for w in range(3) for d in range(5)]
    rows += [("acc-a", "u1", "Report Created", at(w)) for w in range(3)]
    warehouse.write("events", _events(rows))
    report = compute_health(warehouse)
    assert report.panel.key_features == ("Report Created",)
    assert report.panel.breadth[0].max() == 1
