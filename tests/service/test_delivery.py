"""DORA figures on a hand-built fixture: every expected number is worked out in a comment."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from impactlens.errors import NotFoundError, UserError
from impactlens.service.delivery import delivery_report, release_delivery, team_view
from impactlens.service.delivery_bands import classify
from impactlens.service.portfolio import MeasuredRelease
from impactlens.warehouse import Warehouse


def T(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute)


# id, service, deployed_at, committed_at, release, status, attributes      lead (h)
DEPLOYS = [
    ("d1", "api", T(2, 10), T(1, 10), "r1", "success", None),  # 24
    ("d2", "api", T(3, 12), T(3, 6), "r1", "success", None),  # 6
    ("d3", "web", T(4, 9), T(2, 9), "r2", "failed", None),  # (not successful)
    ("d4", "web", T(5, 15), T(5, 13), "r2", "success", None),  # 2, incident i1 -> failure
    ("d5", "api", T(9, 8), T(8, 20), None, "rolled_back", '{"team": "alpha"}'),
    ("d6", "api", T(10, 18), T(6, 18), None, "success", '{"team": "beta"}'),  # 96
    ("d7", "web", T(11, 11), T(11, 10), "r2", "success", '{"environment": "staging"}'),  # ignored
    ("d8", "web", T(12, 20), T(12, 14), "r2", "success", '{"team": "alpha"}'),  # 6; team wins
]
# id, started_at, resolved_at, deploy_id, release_id                        restore (h)
INCIDENTS = [
    ("i1", T(5, 16), T(5, 18, 30), "d4", None),  # 2.5, web / beta
    ("i2", T(9, 9), T(9, 9, 30), None, "r1"),  # 0.5, no service / alpha (via r1)
    ("i3", T(12, 22), None, None, None),  # open: counted, not restored
    ("i4", datetime(2026, 2, 20, 8), datetime(2026, 2, 20, 9), None, None),  # before the window
]


def _columns(names: list[str], rows: list[tuple]) -> pa.Table:
    return pa.table({n: [row[k] for row in rows] for k, n in enumerate(names)})


@pytest.fixture(scope="module")
def delivery_wh():
    warehouse = Warehouse.connect("duckdb://:memory:")
    warehouse.ensure_schema()
    warehouse.write(
        "releases",
        pa.table(
            {
                "release_id": ["r1", "r2", "r3"],
                "title": ["One", "Two", "Three"],
                "team": ["alpha", "beta", "beta"],
                "shipped_at": [T(2, 0), T(4, 0), T(20, 0)],
            }
        ),
    )
    cols = [
        "deploy_id",
        "service",
        "deployed_at",
        "committed_at",
        "release_id",
        "status",
        "attributes",
    ]
    warehouse.write("deployments", _columns(cols, DEPLOYS))
    icols = ["incident_id", "started_at", "resolved_at", "deploy_id", "release_id"]
    warehouse.write("incidents", _columns(icols, INCIDENTS))
    yield warehouse
    warehouse.close()


def test_overall_figures_match_the_hand_computation(delivery_wh) -> None:
    r = delivery_report(delivery_wh)
    # Window: first deploy day 2026-03-02 .. end of the last deploy day 2026-03-12 = 11 days.
    assert (r.start, r.end, r.days) == (T(2, 0), T(13, 0), 11.0)
    o = r.overall
    # Production deploys: all but d7 (staging) = 7; successful: d1 d2 d4 d6 d8 = 5.
    assert (o.deploys, o.successful_deploys) == (7, 5)
    assert o.deploys_per_day == pytest.approx(5 / 11)
    assert o.deploys_per_week == pytest.approx(35 / 11)  # 3.18/week: between daily and weekly
    # Lead times of successful deploys: 2, 6, 6, 24, 96 h -> median 6;
    # p90 at position 0.9 * (5 - 1) = 3.6 -> 24 + 0.6 * (96 - 24) = 67.2.
    assert o.lead_time_median_hours == pytest.approx(6.0)
    assert o.lead_time_p90_hours == pytest.approx(67.2)
    assert o.lead_time_changes == 5
    # Change failures: d3 failed, d5 rolled back, d4 named by incident i1 -> 3 / 7.
    assert o.change_failures == 3
    assert o.change_failure_rate == pytest.approx(3 / 7)
    # Incidents started in the window: i1 i2 i3 (i4 is before); restored i1 2.5 h, i2 0.5 h -> 1.5.
    assert (o.incidents, o.restored_incidents) == (3, 2)
    assert o.time_to_restore_median_hours == pytest.approx(1.5)
    assert (o.bands.deployment_frequency, o.bands.lead_time) == ("high", "elite")
    assert (o.bands.change_failure_rate, o.bands.time_to_restore) == ("low", "high")


def test_per_service(delivery_wh) -> None:
    groups = {g.group: g for g in delivery_report(delivery_wh, by="service").groups}
    assert list(groups) == ["api", "web", None]
    api, web, none = groups["api"], groups["web"], groups[None]
    # api: d1 d2 d5 d6; successful d1 d2 d6; failure d5; leads 6, 24, 96.
    assert (api.deploys, api.successful_deploys, api.change_failures) == (4, 3, 1)
    assert api.change_failure_rate == pytest.approx(0.25)
    assert api.lead_time_median_hours == pytest.approx(24.0)
    assert api.lead_time_p90_hours == pytest.approx(24 + 0.8 * 72)  # position 1.8 -> 81.6
    assert api.deploys_per_day == pytest.approx(3 / 11) and api.incidents == 0
    # web: d3 d4 d8; failures d3 (failed), d4 (incident); leads 2, 6; incident i1 2.5 h.
    assert (web.deploys, web.change_failures) == (3, 2)
    assert web.lead_time_median_hours == pytest.approx(4.0)
    assert web.time_to_restore_median_hours == pytest.approx(2.5)
    # Incidents naming no deploy have no service: i2 (0.5 h) and open i3.
    assert (none.deploys, none.incidents, none.restored_incidents) == (0, 2, 1)


def test_per_team_uses_the_deploy_attribute_then_the_release(delivery_wh) -> None:
    groups = {g.group: g for g in delivery_report(delivery_wh, by="team").groups}
    alpha, beta = groups["alpha"], groups["beta"]
    # alpha: d1 d2 (r1), d5 (attribute), d8 (attribute beats release r2); failure d5.
    assert (alpha.deploys, alpha.successful_deploys, alpha.change_failures) == (4, 3, 1)
    assert alpha.lead_time_median_hours == pytest.approx(6.0)  # 24, 6, 6
    assert alpha.time_to_restore_median_hours == pytest.approx(0.5)  # i2 via release r1
    # beta: d3 d4 (r2), d6 (attribute); failures d3 d4; leads 2, 96 -> 49.
    assert (beta.deploys, beta.change_failures) == (3, 2)
    assert beta.lead_time_median_hours == pytest.approx(49.0)
    assert beta.time_to_restore_median_hours == pytest.approx(2.5)  # i1 via d4
    assert groups[None].incidents == 1  # i3, linked to nothing


def test_weekly_series(delivery_wh) -> None:
    weeks = delivery_report(delivery_wh).weekly
    assert [w.week_start for w in weeks] == [date(2026, 3, 2), date(2026, 3, 9)]
    w1, w2 = weeks
    # Week of Mon 2 March: d1 d2 d3 d4; successful 3; failures d3 d4; leads 24, 6, 2; i1.
    assert (w1.deploys, w1.successful_deploys, w1.change_failures) == (4, 3, 2)
    assert w1.lead_time_median_hours == pytest.approx(6.0)
    assert (w1.incidents, w1.time_to_restore_median_hours) == (1, pytest.approx(2.5))
    # Week of 9 March: d5 d6 d8; failure d5; leads 96, 6 -> 51; i2 (0.5 h) and open i3.
    assert (w2.deploys, w2.change_failures) == (3, 1)
    assert w2.change_failure_rate == pytest.approx(1 / 3)
    assert w2.lead_time_median_hours == pytest.approx(51.0)
    assert (w2.incidents, w2.time_to_restore_median_hours) == (2, pytest.approx(0.5))


def test_explicit_window_and_filter(delivery_wh) -> None:
    r = delivery_report(delivery_wh, start=T(9, 0), end=T(16, 0))
    # d5 d6 d8 in [9 Mar, 16 Mar); successful d6 d8 -> 2 / 7 days.
    assert (r.days, r.overall.deploys) == (7.0, 3)
    assert r.overall.deploys_per_day == pytest.approx(2 / 7)
    only_web = delivery_report(delivery_wh, service="web").overall
    assert (only_web.deploys, only_web.incidents) == (3, 1)
    with pytest.raises(UserError):
        delivery_report(delivery_wh, by="week")  # type: ignore[arg-type]


def test_empty_warehouse_gives_empty_figures(warehouse) -> None:
    o = delivery_report(warehouse).overall
    assert (o.deploys, o.deploys_per_day, o.change_failure_rate, o.bands.lead_time) == (
        0,
        None,
        None,
        None,
    )


def test_release_delivery(delivery_wh) -> None:
    r2 = release_delivery(delivery_wh, "r2")
    # Production deploys of r2: d3 d4 d8 (d7 is staging). i1 names d4.
    assert [d.deploy_id for d in r2.deploys] == ["d3", "d4", "d8"]
    assert [d.incident_ids for d in r2.deploys] == [(), ("i1",), ()]
    assert r2.change_failures == 2 and r2.caused_incident
    assert r2.lead_time_median_hours == pytest.approx(4.0)  # d4 2 h, d8 6 h
    assert r2.time_to_restore_median_hours == pytest.approx(2.5)
    assert (r2.first_deployed_at, r2.last_deployed_at) == (T(4, 9), T(12, 20))
    # r1's incident names the release, not a deploy: it still counts for the release.
    r1 = release_delivery(delivery_wh, "r1")
    assert [i.incident_id for i in r1.incidents] == ["i2"] and r1.change_failures == 0
    quiet = release_delivery(delivery_wh, "r3")
    assert quiet.deploys == () and not quiet.caused_incident
    with pytest.raises(NotFoundError):
        release_delivery(delivery_wh, "nope")
    assert release_delivery(delivery_wh, "r2").to_dict()["deploys"][1]["incident_ids"] == ("i1",)


def test_team_view_puts_speed_beside_impact(delivery_wh) -> None:
    measured = [
        MeasuredRelease("r1", "alpha", 5, None, "met", 0.08, 0.03, 0.13, "m"),
        MeasuredRelease("r9", "alpha", 3, None, "too_early", None, None, None, "m"),
        MeasuredRelease("r2", "beta", 8, None, "harmful", -0.04, -0.07, -0.01, "m"),
        MeasuredRelease("r5", "gamma", 2, None, "inconclusive", 0.01, -0.02, 0.04, "m"),
    ]
    views = {v.team: v for v in team_view(delivery_wh, measured)}
    alpha = views["alpha"]
    assert (alpha.deploys, alpha.change_failure_rate) == (4, pytest.approx(0.25))
    assert (alpha.releases, alpha.measured, alpha.wins) == (2, 1, 1)
    assert (alpha.measured_share, alpha.win_rate) == (0.5, 1.0)
    assert (views["beta"].harmful, views["beta"].win_rate) == (1, 0.0)
    gamma = views["gamma"]  # measured releases, no deploys on record
    assert (gamma.deploys, gamma.deploys_per_week, gamma.measured) == (0, None, 1)
    assert views[None].releases == 0


@pytest.mark.parametrize(
    ("figures", "bands"),
    [
        ((1.0, 23.9, 0.05, 0.99), ("elite", "elite", "elite", "elite")),
        ((0.99, 24.0, 0.051, 1.0), ("high", "high", "high", "high")),
        ((1 / 7, 168.0, 0.10, 23.99), ("high", "high", "high", "high")),
        ((0.14, 168.1, 0.15, 24.0), ("medium", "medium", "medium", "medium")),
        ((1 / 30, 720.0, 0.15, 168.0), ("medium", "medium", "medium", "medium")),
        ((0.033, 720.1, 0.151, 168.1), ("low", "low", "low", "low")),
    ],
)
def test_band_boundaries(figures, bands) -> None:
    b = classify(*figures)
    assert (b.deployment_frequency, b.lead_time, b.change_failure_rate, b.time_to_restore) == bands
