"""Tickets and comments linked to releases, release audiences and the customer impact of a release.

The fixture ships every release on Monday 2026-03-02 10:00; data runs from
2026-01-05 to 2026-04-05 09:00 (33 days 23 hours after shipping).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest
from scipy import stats

from impactlens.errors import NotFoundError
from impactlens.service.accounts import (
    assess_release_customers,
    compute_health,
    release_feedback,
    release_terms,
    releases_for_account,
    survey_trend,
)
from impactlens.warehouse import Warehouse

SHIP = datetime(2026, 3, 2, 10)
START = datetime(2026, 1, 5, 9)


def _days(n: float) -> datetime:
    return SHIP + timedelta(days=n)


def _fill(wh: Warehouse) -> None:
    wh.write(
        "accounts",
        pa.table(
            {
                "account_id": ["acc-a", "acc-b", "acc-c", "acc-d"],
                "name": ["A", "B", "C", "D"],
                "plan": ["enterprise", "pro", "pro", "starter"],
                "segment": ["enterprise", "smb", "smb", "smb"],
                "created_at": [datetime(2025, 1, 1)] * 2 + [_days(3), datetime(2025, 1, 1)],
                "churned_at": [None, None, None, datetime(2026, 2, 1)],
            }
        ),
    )
    rows = []
    day = START
    while day < datetime(2026, 4, 5, 12):
        for acc, user in (("acc-a", "a1"), ("acc-a", "a2"), ("acc-b", "b1")):
            rows.append((acc, user, day, "{}"))
        if day >= _days(3):
            rows.append(("acc-c", "c1", day, "{}"))
        if day < datetime(2026, 2, 1):
            rows.append(("acc-d", "d1", day, "{}"))
        day += timedelta(days=1)
    # b1 sees the search_v2 flag after shipping; a1 sees it switched off.
    rows.append(("acc-b", "b1", _days(2), json.dumps({"flags": {"search_v2": True}})))
    rows.append(("acc-a", "a1", _days(2), json.dumps({"flags": {"search_v2": False}})))
    # a flag seen before shipping does not count as reach
    rows.append(("acc-c", "c1", _days(-1), json.dumps({"flags": {"search_v2": True}})))
    wh.write(
        "events",
        pa.table(
            {
                "message_id": [f"m{i}" for i in range(len(rows))],
                "timestamp": [r[2] for r in rows],
                "type": ["track"] * len(rows),
                "event": ["Report Created"] * len(rows),
                "user_id": [r[1] for r in rows],
                "actor_id": [r[1] for r in rows],
                "account_id": [r[0] for r in rows],
                "properties": [r[3] for r in rows],
            }
        ),
    )
    tickets = (
        # 6 export tickets in the 28 days before, 2 after (+1 linked by its feature field)
        [("acc-a", _days(-d), ["export"], None) for d in (1, 3, 5, 10, 20, 27)]
        + [("acc-b", _days(d), ["exports", "slow"], None) for d in (2, 9)]
        + [("acc-a", _days(4), [], "export-timeout-fix")]
        # noise: other topics, and an export ticket outside both windows
        + [("acc-b", _days(d), ["login"], None) for d in (-6, -2, 1, 5, 8)]
        + [("acc-a", _days(-40), ["export"], None), ("acc-a", _days(-5), ["reports"], "reports")]
    )
    wh.write(
        "tickets",
        pa.table(
            {
                "ticket_id": [f"t{i}" for i in range(len(tickets))],
                "created_at": [t[1] for t in tickets],
                "account_id": [t[0] for t in tickets],
                "priority": ["normal"] * len(tickets),
                "status": ["open"] * len(tickets),
                "tags": [json.dumps(t[2]) for t in tickets],
                "feature": [t[3] for t in tickets],
            }
        ),
    )
    surveys = [
        ("acc-a", _days(-10), "nps", 3.0, "Exports time out all the time"),
        ("acc-a", _days(-8), "nps", 6.0, ""),
        ("acc-b", _days(-4), "nps", 8.0, "fine"),
        ("acc-a", _days(6), "nps", 9.0, "The export finally works"),
        ("acc-b", _days(7), "nps", 10.0, None),
        ("acc-b", _days(8), "csat", 5.0, "quick support"),
        ("acc-c", _days(9), "nps", 2.0, "timeouts everywhere"),
    ]
    wh.write(
        "surveys",
        pa.table(
            {
                "response_id": [f"s{i}" for i in range(len(surveys))],
                "responded_at": [s[1] for s in surveys],
                "account_id": [s[0] for s in surveys],
                "survey": [s[2] for s in surveys],
                "score": [s[3] for s in surveys],
                "comment": [s[4] for s in surveys],
            }
        ),
    )
    wh.write(
        "revenue",
        pa.table(
            {
                "account_id": ["acc-a", "acc-a", "acc-b", "acc-b", "acc-c"],
                "period_start": [date(2026, 2, 1), date(2026, 3, 1)] * 2 + [date(2026, 3, 1)],
                "mrr": [1000.0, 1200.0, 100.0, 100.0, 50.0],
                "status": ["active"] * 5,
            }
        ),
    )
    releases = [
        ("export-timeout-fix", "Exports no longer time out", None, None, None),
        ("search-v2", "Faster search", "search_v2", None, None),
        ("sso-login", "SAML single sign-on", None, json.dumps(["acc-a", "acc-b"]), None),
        ("ent-reports", "Enterprise reports", None, None, "plan = 'enterprise'"),
        ("odd-filter", "Odd", None, None, "seats > 10"),
    ]
    wh.write(
        "releases",
        pa.table(
            {
                "release_id": [r[0] for r in releases],
                "title": [r[1] for r in releases],
                "kind": ["feature"] * len(releases),
                "shipped_at": [SHIP] * len(releases),
                "audience_flag": [r[2] for r in releases],
                "audience_accounts": [r[3] for r in releases],
                "audience_filter": [r[4] for r in releases],
            }
        ),
    )


@pytest.fixture(scope="module")
def wh():
    warehouse = Warehouse.connect("duckdb://:memory:")
    warehouse.ensure_schema()
    _fill(warehouse)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def health(wh):
    return compute_health(wh)


@pytest.mark.parametrize(
    ("release_id", "title", "terms"),
    [
        ("export-timeout-fix", "Exports no longer time out", ("export", "timeout")),
        ("search-v2", "Faster, typo-tolerant search", ("search",)),
        ("sso-login", None, ("sso", "login")),
        ("bulk-actions", None, ("bulk", "action")),
        ("v2", "Dark mode for reports", ("dark", "mode", "report")),
    ],
)
def test_release_terms(release_id, title, terms):
    assert release_terms(release_id, title) == terms


def test_export_fix_cut_export_tickets(wh):
    fb = release_feedback(wh, "export-timeout-fix")
    assert fb.window_days == 28 and not fb.truncated
    # before: the six export tickets; after: two "exports" tags + one by its feature field
    assert (fb.before.matched_tickets, fb.after.matched_tickets) == (6, 3)
    # all tickets: 6 export + 2 login + 1 reports before; 3 export + 3 login after
    assert (fb.before.all_tickets, fb.after.all_tickets) == (9, 6)
    ci = stats.binomtest(3, 9).proportion_ci(0.95, method="exact")
    assert fb.matched_tickets.ratio == pytest.approx(0.5)
    assert fb.matched_tickets.ci_low == pytest.approx(ci.low / (1 - ci.low))
    # comments: "Exports time out" before; "export finally works" and "timeouts" after
    assert (fb.before.matched_comments, fb.after.matched_comments) == (1, 2)
    assert {e["kind"] for e in fb.examples} == {"ticket", "comment"}
    assert all(e["at"] >= SHIP for e in fb.examples)


def test_feedback_windows_shrink_to_the_data(wh):
    fb = release_feedback(wh, "export-timeout-fix", window_days=60)
    # the last event is at 2026-04-05 09:00, 33 days and 23 hours after shipping
    assert fb.window_days == 33 and fb.truncated
    assert fb.before.matched_tickets == 6  # the ticket 40 days before is still outside


def test_feedback_of_some_accounts(wh):
    fb = release_feedback(wh, "export-timeout-fix", accounts=["acc-b"])
    assert (fb.before.matched_tickets, fb.after.matched_tickets) == (0, 2)


def test_unknown_release(wh):
    with pytest.raises(NotFoundError):
        release_feedback(wh, "nope")


def test_flag_audience_counts_who_saw_the_flag_after_shipping(wh, health):
    r = assess_release_customers(wh, "search-v2", health=health)
    assert r.audience == "flag"
    assert (r.accounts_reached, r.users_reached) == (1, 1)  # acc-b's b1; c1 saw it before
    assert r.arr_reached == pytest.approx(12 * 100)


def test_account_list_audience(wh):
    r = assess_release_customers(wh, "sso-login")
    assert r.audience == "accounts" and r.accounts_reached == 2
    assert r.users_reached == 3  # a1, a2, b1 active in the 28 days after shipping
    # MRR in force on 2026-03-02 (March rows): 1200 + 100
    assert r.arr_reached == pytest.approx(12 * 1300)
    # NPS of acc-a and acc-b: before 3, 6, 8 -> 0 promoters, 2 detractors: -66.7;
    # after 9, 10 -> +100
    assert r.nps_before.n == 3 and r.nps_before.value == pytest.approx(-200 / 3)
    assert r.nps_after.n == 2 and r.nps_after.value == pytest.approx(100.0)
    assert r.nps_after.few_answers
    assert r.csat_after.n == 1 and r.csat_before.n == 0
    assert set(r.health_now) == {"green", "yellow", "red", "unscored"}
    assert sum(r.health_now.values()) == 2


def test_filter_audience_and_unsupported_filter(wh, health):
    r = assess_release_customers(wh, "ent-reports", health=health)
    assert r.audience == "filter" and r.accounts_reached == 1
    odd = assess_release_customers(wh, "odd-filter", health=health)
    assert odd.audience == "everyone"
    assert any("not a simple filter" in n for n in odd.notes)


def test_everyone_audience_is_the_accounts_active_after_shipping(wh, health):
    r = assess_release_customers(wh, "export-timeout-fix", window_days=60, health=health)
    assert r.audience == "everyone"
    assert r.accounts_reached == 3  # acc-d churned before shipping
    assert r.users_reached == 4
    assert r.window_days == 33 and any("shortened" in n for n in r.notes)
    assert r.feedback.after.matched_tickets == 3
    d = r.to_dict()
    assert d["feedback"]["matched_tickets"]["ratio"] == pytest.approx(0.5)


def test_releases_that_reached_an_account(wh):
    reach = {r.release_id: r.how for r in releases_for_account(wh, "acc-b")}
    assert reach == {
        "export-timeout-fix": "shipped to everyone",
        "search-v2": "flag seen in its events",
        "sso-login": "audience list",
        "odd-filter": "shipped to everyone",
    }
    a = {r.release_id for r in releases_for_account(wh, "acc-a")}
    assert "ent-reports" in a and "search-v2" not in a
    # acc-d churned before shipping: nothing reached it
    assert releases_for_account(wh, "acc-d") == ()


def test_survey_trend_by_month_and_segment(wh):
    trend = survey_trend(wh, "nps", period="month", by_segment=True)
    points = {(p.period_start, p.segment): p for p in trend.points}
    feb_ent = points[(date(2026, 2, 1), "enterprise")]
    # acc-a answered 3 and 6 in February (days -10 and -8 from 2026-03-02)
    assert feb_ent.n == 2 and feb_ent.value == pytest.approx(-100.0) and feb_ent.few_answers
    march_smb = points[(date(2026, 3, 1), "smb")]
    # acc-b 10 and acc-c 2 in March: one promoter, one detractor
    assert march_smb.n == 2 and march_smb.value == pytest.approx(0.0)
    overall = survey_trend(wh, "csat", period="quarter")
    assert [(p.period_start, p.n) for p in overall.points] == [(date(2026, 1, 1), 1)]
