"""The planted truths hold in the tiny company's rows (structure and strong effects).

Weaker statistical effects (click-through lift, experiment lifts, SRM p-value)
need the small size; they are in test_demo_small.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from demo_helpers import ratio_of_sums, relative_change

from impactlens.demo import DemoManifest
from impactlens.demo.delivery import dora_figures

CATALOG_METRICS = {
    "search_click_through",
    "error_rate",
    "reports_per_active_user",
    "invites_per_account",
}


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _shipped(truth: dict) -> dict[str, pd.Timestamp]:
    return {r["id"]: _ts(r["shipped_at"]) for r in truth["releases"]}


def _per_user(df: pd.DataFrame, num: str, den: str) -> tuple[float, float]:
    y = df[df.event == den].groupby("user_id").size()
    x = df[df.event == num].groupby("user_id").size().reindex(y.index, fill_value=0)
    return ratio_of_sums(x, y)


def test_weekdays_are_much_busier_than_weekends(events_df: pd.DataFrame) -> None:
    sessions = events_df[(events_df.event == "Session Started") & events_df.user_id.notna()]
    per_day = sessions.groupby(sessions.timestamp.dt.date).size()
    weekend = np.array([d.weekday() >= 5 for d in per_day.index])
    assert per_day[~weekend].mean() > 2.5 * per_day[weekend].mean()


def test_export_fix_halves_export_failures(events_df: pd.DataFrame, truth: dict) -> None:
    ship = _shipped(truth)
    users = events_df[
        events_df.user_id.notna() & ~events_df.user_id.isin(_holdout_users(events_df))
    ]
    before = users[users.timestamp < ship["export-timeout-fix"]]
    after = users[users.timestamp >= ship["export-timeout-fix"]]
    change, se = relative_change(_failure_rate(before), _failure_rate(after))
    assert abs(change - (-0.5)) < 3 * se and change < 0 and se < 0.15


def _failure_rate(df: pd.DataFrame) -> tuple[float, float]:
    """export_failure_rate: Export Failed / (Report Exported + Export Failed) attempts."""
    attempts = df[df.event.isin(["Report Exported", "Export Failed"])]
    y = attempts.groupby("user_id").size()
    x = attempts[attempts.event == "Export Failed"].groupby("user_id").size()
    return ratio_of_sums(x.reindex(y.index, fill_value=0), y)


def test_every_failed_export_shows_a_timeout_error(events_df: pd.DataFrame) -> None:
    failed = (events_df.event == "Export Failed").sum()
    timeouts = (events_df.event == "Error Shown") & events_df.properties.str.contains(
        "E_EXPORT_TIMEOUT"
    )
    assert failed > 0 and timeouts.sum() == failed


def test_bulk_action_errors_only_after_its_release_and_never_in_the_holdout(
    events_df: pd.DataFrame, truth: dict
) -> None:
    bulk = events_df[events_df.properties.str.contains("E_BULK_ACTION", regex=False)]
    assert len(bulk) > 0
    assert (bulk.timestamp >= _shipped(truth)["bulk-actions"]).all()
    assert not bulk.user_id.isin(_holdout_users(events_df)).any()


def _holdout_users(events_df: pd.DataFrame) -> set[str]:
    return set(events_df.loc[events_df.holdout, "user_id"].dropna())


def test_holdout_accounts_flags_and_no_experiments(
    events_df, rows, truth, segment_messages
) -> None:
    holdout = {r["account_id"] for r in rows("accounts") if r["holdout"] == "true"}
    assert holdout == set(truth["holdout"]["accounts"]) and holdout
    start = _ts(truth["holdout"]["start"])
    mine = events_df[events_df.account_id.isin(holdout)]
    after = mine[mine.timestamp >= start]
    assert after.holdout.all() and (after.v2 == "").all()
    assert not mine[mine.timestamp < start].holdout.any()
    assert not events_df[
        ~events_df.account_id.isin(holdout) & events_df.account_id.notna()
    ].holdout.any()
    exposures = [
        m
        for m in segment_messages
        if m.get("event") == "Experiment Viewed"
        and m.get("context", {}).get("groupId") in holdout
        and _ts(m["timestamp"]) >= start
    ]
    assert exposures == []


def test_search_v2_flag_is_sticky_and_about_half(events_df: pd.DataFrame, truth: dict) -> None:
    flagged = events_df[events_df.v2 != ""]
    per_user = flagged.groupby("user_id").v2.nunique()
    assert (per_user == 1).all()
    assert (flagged.timestamp >= _shipped(truth)["search-v2"]).all()
    share_on = (flagged.groupby("user_id").v2.first() == "on").mean()
    assert 0.3 < share_on < 0.7


def test_churned_accounts_stop_and_show_a_churned_month(events_df, rows, truth) -> None:
    churned = {r["account_id"]: _ts(r["churned_at"]) for r in rows("accounts") if r["churned_at"]}
    assert len(churned) == truth["churn"]["churned"] > 0
    ev = events_df[events_df.account_id.isin(churned)]
    assert (ev.timestamp < ev.account_id.map(churned)).all()
    revenue = pd.DataFrame(rows("revenue"))
    for account, when in churned.items():
        mine = revenue[revenue.account_id == account]
        later = mine[pd.to_datetime(mine.period_start).dt.tz_localize("UTC") > when]
        assert list(later.status) in ([], ["churned"])
        assert (later.mrr.astype(float) == 0).all()
    tickets = pd.DataFrame(rows("tickets"))
    t = tickets[tickets.account_id.isin(churned)]
    assert (pd.to_datetime(t.created_at, utc=True) < t.account_id.map(churned)).all()


def test_srm_experiment_lost_treatment_exposures(segment_messages: list[dict], truth: dict) -> None:
    srm = next(e for e in truth["experiments"] if e["id"] == "search-autocomplete")["srm"]
    first = {}
    for m in segment_messages:
        p = m.get("properties", {})
        if (
            m.get("event") == "Experiment Viewed"
            and p.get("experiment_id") == "search-autocomplete"
        ):
            first.setdefault(m["userId"], p["variation_id"])
    logged = [sum(v == arm for v in first.values()) for arm in ("control", "autocomplete")]
    assert logged == srm["logged"]
    assert srm["logged"][0] == srm["assigned"][0]
    lost = srm["assigned"][1] - srm["logged"][1]
    n = srm["assigned"][1]
    assert lost > 0 and abs(lost / n - 0.15) < 3 * np.sqrt(0.15 * 0.85 / n)


def test_team_dashboards_arm_is_the_accounts(segment_messages: list[dict]) -> None:
    arms: dict[str, set[str]] = {}
    for m in segment_messages:
        p = m.get("properties", {})
        if m.get("event") == "Experiment Viewed" and p.get("experiment_id") == "team-dashboards":
            arms.setdefault(m["context"]["groupId"], set()).add(p["variation_id"])
    assert len(arms) >= 4 and all(len(v) == 1 for v in arms.values())
    assert {next(iter(v)) for v in arms.values()} == {"control", "team-dashboards"}


def test_onboarding_activation_in_truth_matches_the_rows(
    events_df, segment_messages, truth
) -> None:
    exp = next(e for e in truth["experiments"] if e["id"] == "onboarding-checklist")
    arm = {}
    for m in segment_messages:
        p = m.get("properties", {})
        if (
            m.get("event") == "Experiment Viewed"
            and p.get("experiment_id") == "onboarding-checklist"
        ):
            arm.setdefault(m["userId"], p["variation_id"])
    signed = events_df[events_df.event == "Signed Up"].set_index("user_id").timestamp
    first_report = events_df[events_df.event == "Report Created"].groupby("user_id").timestamp.min()
    end = _ts(truth["generator"]["end"]).tz_localize("UTC") + timedelta(days=1)
    users, activated = [0, 0], [0, 0]
    for user, variation in arm.items():
        k = 0 if variation == "control" else 1
        if signed[user] + timedelta(days=7) > end:
            continue
        users[k] += 1
        activated[k] += bool(
            user in first_report and first_report[user] < signed[user] + timedelta(days=7)
        )
    assert users == exp["observed"]["users"] and activated == exp["observed"]["activated"]
    onboarding_ts = [
        _ts(m["timestamp"]) - signed[m["userId"]]
        for m in segment_messages
        if m.get("properties", {}).get("experiment_id") == "onboarding-checklist"
        and m["userId"] in signed.index
    ]
    assert min(onboarding_ts) >= timedelta(0)


def test_dora_truth_equals_figures_from_the_csv(rows, truth) -> None:
    deploys, incidents = rows("deployments"), rows("incidents")

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp() * 1000)

    start, end = (datetime.fromisoformat(truth["generator"][k]).date() for k in ("start", "end"))
    workdays = sum((start + timedelta(days=i)).weekday() < 5 for i in range((end - start).days + 1))
    figures = dora_figures(
        [d["service"] for d in deploys],
        [ms(d["deployed_at"]) for d in deploys],
        [ms(d["committed_at"]) for d in deploys],
        [d["status"] for d in deploys],
        [ms(i["started_at"]) for i in incidents],
        [ms(i["resolved_at"]) for i in incidents],
        workdays,
    )
    assert figures == truth["dora"]["observed"]
    failing = {d["deploy_id"] for d in deploys if d["status"] != "success"}
    assert {i["deploy_id"] for i in incidents if i["deploy_id"]} <= failing
    release_deploys = {
        d["release_id"] for d in deploys if d["status"] == "success" and d["release_id"]
    }
    assert {r["id"] for r in truth["releases"]} <= release_deploys


def test_dora_figures_by_hand() -> None:
    hour = 3_600_000
    figures = dora_figures(
        ["web", "web", "api"],
        [10 * hour, 20 * hour, 30 * hour],
        [8 * hour, 10 * hour, 29 * hour],
        ["success", "failed", "rolled_back"],
        [0, 0],
        [hour, 3 * hour],
        n_workdays=2,
    )
    assert figures["deploys_per_service"] == {"web": 2, "api": 1, "worker": 0}
    assert figures["change_failure_rate"] == round(2 / 3, 6)
    assert figures["median_lead_time_hours"] == 2.0  # lead times 2, 10, 1 hours
    assert figures["successful_deploys"] == 1
    assert figures["median_lead_time_hours_successful"] == 2.0
    assert figures["median_time_to_restore_hours"] == 2.0


def test_release_timing_leaves_room_for_analysis(truth: dict) -> None:
    planted = {r["id"]: r for r in truth["releases"]}
    with_hypothesis = [r for r in planted.values() if r["hypothesis"]]
    assert {r["hypothesis"]["metric"] for r in with_hypothesis} == CATALOG_METRICS
    for r in with_hypothesis:
        assert r["pre_period_days"] >= 56 and r["post_period_days"] >= 28, r["id"]
    ship = _shipped(truth)
    assert ship["report-builder-speedup"] - ship["report-templates"] == timedelta(days=2, hours=5)
    assert ship["bulk-actions"] - ship["export-timeout-fix"] >= timedelta(days=56)
    assert any(r["hypothesis"] is None for r in planted.values())
    labels = {r["label"] for r in planted.values()}
    assert {"win", "null", "harm", "confounded", "no-hypothesis"} <= labels
    assert _ts(truth["holdout"]["start"]) < min(ship.values())


def test_surveys_split_between_events_and_csv(
    rows, events_df, segment_messages, truth, tiny: DemoManifest
) -> None:
    counts = truth["surveys"]["counts"]
    in_app = [m for m in segment_messages if m.get("event") == "Survey Responded"]
    assert len(in_app) == sum(c["in_app"] for c in counts.values()) == tiny.counts["survey_events"]
    assert len(rows("surveys")) == sum(c["csv"] for c in counts.values())
    assert not (events_df.event == "Survey Responded").any()  # tiny: they are Segment messages
    assert all(datetime.fromisoformat(m["timestamp"]).tzinfo == UTC for m in in_app)
