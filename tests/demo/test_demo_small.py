"""At the default size the planted effects are detectable, and land where planted.

One ``small`` company (about 1M events, a few seconds) per session. Each check
compares a figure computed from the rows with the planted truth, allowing three
standard errors (unit-clustered, delta method), and asks that the effect be
distinguishable from zero, which is what "detectable at small" promises.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
from demo_helpers import ratio_of_sums, relative_change

from impactlens.demo import DemoManifest, generate_company

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_company(tmp_path_factory.mktemp("small"), size="small", seed=7)


@pytest.fixture(scope="module")
def truth(small: DemoManifest) -> dict:
    return json.loads((small.out_dir / "truth.json").read_text())


@pytest.fixture(scope="module")
def ev(small: DemoManifest) -> pd.DataFrame:
    parts = sorted((small.out_dir / "events").glob("part-*.parquet"))
    df = pd.concat(
        [
            pq.read_table(p, columns=["timestamp", "event", "user_id", "properties"]).to_pandas()
            for p in parts
        ]
    )
    df = df[df.user_id.notna()]
    holdout_users = set(
        df.loc[df.properties.str.contains('"holdout":true', regex=False), "user_id"]
    )
    df["holdout"] = df.user_id.isin(holdout_users)
    df["v2"] = np.where(
        df.properties.str.contains('"search_v2":true', regex=False),
        "on",
        np.where(df.properties.str.contains('"search_v2":false', regex=False), "off", ""),
    )
    return df


def _ship(truth: dict, release: str) -> pd.Timestamp:
    return pd.Timestamp(next(r["shipped_at"] for r in truth["releases"] if r["id"] == release))


def _ratio(df: pd.DataFrame, num: str, den: str) -> tuple[float, float]:
    y = df[df.event == den].groupby("user_id").size()
    x = df[df.event == num].groupby("user_id").size().reindex(y.index, fill_value=0)
    return ratio_of_sums(x, y)


def _failure_rate(df: pd.DataFrame) -> tuple[float, float]:
    """export_failure_rate: Export Failed / (Report Exported + Export Failed) attempts."""
    attempts = df[df.event.isin(["Report Exported", "Export Failed"])]
    y = attempts.groupby("user_id").size()
    x = attempts[attempts.event == "Export Failed"].groupby("user_id").size()
    return ratio_of_sums(x.reindex(y.index, fill_value=0), y)


def _assert_planted(change: float, se: float, planted: float) -> None:
    assert abs(change - planted) < 3 * se, (change, se, planted)
    assert abs(change) > 2 * se, (change, se)  # distinguishable from no effect


def test_search_v2_raises_click_through_for_flagged_users(ev: pd.DataFrame, truth: dict) -> None:
    post = ev[ev.timestamp >= _ship(truth, "search-v2")]
    on = _ratio(post[post.v2 == "on"], "Search Result Clicked", "Search Performed")
    off = _ratio(post[post.v2 == "off"], "Search Result Clicked", "Search Performed")
    _assert_planted(*relative_change(off, on), 0.10)


def _treated(ev: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return ev[~ev.holdout & (ev.timestamp >= start) & (ev.timestamp < end)]


def test_export_fix_cuts_errors_by_30_percent_and_bulk_actions_adds_25(ev, truth) -> None:
    fix, bulk = _ship(truth, "export-timeout-fix"), _ship(truth, "bulk-actions")
    first, last = ev.timestamp.min(), ev.timestamp.max() + pd.Timedelta(seconds=1)
    before = _ratio(_treated(ev, first, fix), "Error Shown", "Session Started")
    between = _ratio(_treated(ev, fix, bulk), "Error Shown", "Session Started")
    after = _ratio(_treated(ev, bulk, last), "Error Shown", "Session Started")
    _assert_planted(*relative_change(before, between), -0.30)
    _assert_planted(*relative_change(between, after), 0.25)


def test_confounded_report_releases_add_up(ev, truth) -> None:
    first = ev.timestamp.min()
    pre = _ratio(
        _treated(ev, first, _ship(truth, "report-templates")), "Report Created", "Session Started"
    )
    post = _ratio(
        _treated(ev, _ship(truth, "report-builder-speedup"), _ship(truth, "bulk-actions")),
        "Report Created",
        "Session Started",
    )
    _assert_planted(*relative_change(pre, post), truth["confounded"][0]["combined_relative"])


def test_the_null_invite_release_plants_no_change_in_invites(ev, truth) -> None:
    # truth.json says invite-flow-redesign did nothing; the data must agree. Invites
    # per session in the review's windows (56 days before the ship day, 28 after)
    # stay put; what grows is sessions per account, so invites per active account
    # drifts up without the release (docs/release-impact.md).
    ship = _ship(truth, "invite-flow-redesign")
    day = pd.Timedelta(days=1)
    before = _ratio(_treated(ev, ship - 56 * day, ship), "User Invited", "Session Started")
    after = _ratio(_treated(ev, ship, ship + 28 * day), "User Invited", "Session Started")
    change, se = relative_change(before, after)
    # measured: -1.3% (se 4.9%); seeds 1, 2, 3: +1.3%, -5.7%, +2.1% (se 5.4%, 5.5%, 5.3%)
    assert abs(change) < 3 * se, (change, se)


def test_holdout_keeps_the_old_export_failure_rate(ev, truth) -> None:
    late = ev[ev.timestamp >= _ship(truth, "export-timeout-fix")]
    held, rest = _failure_rate(late[late.holdout]), _failure_rate(late[~late.holdout])
    change, se = relative_change(held, rest)
    assert change < -2 * se  # the released fix shows against the holdout


def test_onboarding_checklist_lift_is_detectable(truth: dict) -> None:
    exp = next(e for e in truth["experiments"] if e["id"] == "onboarding-checklist")
    (n0, n1), (a0, a1) = exp["observed"]["users"], exp["observed"]["activated"]
    p0, p1 = a0 / n0, a1 / n1
    se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    assert (p1 - p0) / se > 1.96
    assert abs(p1 / p0 - 1 - exp["true_lift_relative"]) < 3 * se / p0
    assert exp["power"] >= 0.8


def test_search_autocomplete_split_fails_the_srm_check(truth: dict) -> None:
    srm = next(e for e in truth["experiments"] if e["id"] == "search-autocomplete")["srm"]
    control, treatment = srm["logged"]
    expected = (control + treatment) / 2
    chi2 = ((control - expected) ** 2 + (treatment - expected) ** 2) / expected
    assert math.erfc(math.sqrt(chi2 / 2)) < 0.001  # SRM checks (GrowthBook) flag below 0.001


def test_pricing_copy_has_no_effect(truth: dict) -> None:
    obs = next(e for e in truth["experiments"] if e["id"] == "pricing-page-copy")["observed"]
    (s0, s1), (c0, c1) = obs["checkout_started"], obs["checkout_completed"]
    p0, p1 = c0 / s0, c1 / s1
    se = math.sqrt(p0 * (1 - p0) / s0 + p1 * (1 - p1) / s1)
    assert abs(p1 - p0) < 3 * se


def test_team_dashboards_lift_is_recovered_with_cuped(small: DemoManifest, ev, truth) -> None:
    """Account-level ratio metric, CUPED-adjusted by each account's 28 days before the window.

    Without the adjustment the arms differ mostly by which heavy accounts they drew;
    with it the planted +30% comes back (truth.json's power assumes the same).
    Accounts that churned before the window ended are left out: the estimate counts
    every exposed user as observed to the end of the window, and since issue #6 an
    account on its way out also winds its usage down over its last weeks. The
    generator decides churn without looking at the arm, so dropping them biases
    nothing; with them, seed 7 reads +18.6% +- 10.0% (one 127-seat treatment account
    leaving on 24 October), without them +23.5% +- 8.9% (+22.6% +- 8.3% before issue #6).
    """
    exp = next(e for e in truth["experiments"] if e["id"] == "team-dashboards")
    start, end = (pd.Timestamp(x) for x in exp["window"])
    gone = {
        r["account_id"]
        for r in truth["churn"]["churned_accounts"]
        if pd.Timestamp(r["churned_at"]) < end
    }
    with gzip.open(small.out_dir / "events" / "segment-0000.ndjson.gz", "rb") as f:
        seen = [orjson.loads(line) for line in f if b'"team-dashboards"' in line]
    exposed = (
        pd.DataFrame(
            {
                "user_id": [m["userId"] for m in seen],
                "account_id": [m["context"]["groupId"] for m in seen],
                "arm": [m["properties"]["variation_id"] for m in seen],
                "ts": [pd.Timestamp(m["timestamp"]) for m in seen],
            }
        )
        .sort_values("ts")
        .drop_duplicates("user_id")
    )
    exposed = exposed[~exposed.account_id.isin(gone)]
    views = ev[ev.event == "Dashboard Viewed"].merge(exposed, on="user_id")
    after = views[(views.timestamp >= views.ts) & (views.timestamp < end)].groupby("user_id").size()
    before_window = (views.timestamp >= start - pd.Timedelta(days=28)) & (views.timestamp < start)
    before = views[before_window].groupby("user_id").size()
    exposed["post"] = exposed.user_id.map(after).fillna(0)
    exposed["pre"] = exposed.user_id.map(before).fillna(0)
    acc = (
        exposed.groupby(["account_id", "arm"])
        .agg(n=("user_id", "size"), post=("post", "sum"), pre=("pre", "sum"))
        .reset_index()
    )
    pooled_pre = acc.pre.sum() / acc.n.sum()
    e = acc.post - acc.post.sum() / acc.n.sum() * acc.n
    b = acc.pre - pooled_pre * acc.n
    theta = np.cov(e, b)[0, 1] / np.var(b, ddof=1)
    arms = {}
    for arm, g in acc.groupby("arm"):
        rate, rate_pre = g.post.sum() / g.n.sum(), g.pre.sum() / g.n.sum()
        resid = (g.post - rate * g.n) - theta * (g.pre - rate_pre * g.n)
        arms[arm] = (
            rate - theta * (rate_pre - pooled_pre),
            np.var(resid, ddof=1) / (len(g) * g.n.mean() ** 2),
        )
    _assert_planted(
        *relative_change(arms["control"], arms["team-dashboards"]), exp["true_lift_relative"]
    )


def test_churn_is_frequent_enough_to_learn_from(truth: dict) -> None:
    churn = truth["churn"]
    assert 0.1 <= churn["churned"] / churn["accounts"] <= 0.22
    assert churn["by_reason"]["hazard"] >= 20


def test_export_tickets_per_session_halve_after_the_fix(small: DemoManifest, ev, truth) -> None:
    tickets = pd.read_csv(small.out_dir / "tickets.csv", parse_dates=["created_at"])
    accounts = pd.read_csv(small.out_dir / "accounts.csv")
    held = set(accounts.account_id[accounts.holdout])
    export = tickets[(tickets.tags == "export;timeout") & ~tickets.account_id.isin(held)]
    fix = _ship(truth, "export-timeout-fix")
    sessions = ev[(ev.event == "Session Started") & ~ev.holdout]
    before = (export.created_at < fix).sum() / (sessions.timestamp < fix).sum()
    after = (export.created_at >= fix).sum() / (sessions.timestamp >= fix).sum()
    n_before = (export.created_at < fix).sum()
    assert n_before > 40
    # Export tickets follow export failures, which halve (Poisson noise: ~1/sqrt(n)).
    assert abs(after / before - 0.5) < 3 * math.sqrt(
        1 / n_before + 1 / (export.created_at >= fix).sum()
    )


def test_nps_rises_after_the_fix(small: DemoManifest, truth: dict) -> None:
    csv_answers = pd.read_csv(small.out_dir / "surveys.csv", parse_dates=["responded_at"])
    with gzip.open(small.out_dir / "events" / "segment-0000.ndjson.gz", "rb") as f:
        in_app = [orjson.loads(line) for line in f if b"Survey Responded" in line]
    nps = pd.concat(
        [
            csv_answers.loc[csv_answers.survey == "nps", ["responded_at", "score"]],
            pd.DataFrame(
                {
                    "responded_at": [pd.Timestamp(m["timestamp"]) for m in in_app],
                    "score": [m["properties"]["score"] for m in in_app],
                    "survey": [m["properties"]["survey"] for m in in_app],
                }
            ).query("survey == 'nps'")[["responded_at", "score"]],
        ]
    )
    fix, bulk = _ship(truth, "export-timeout-fix"), _ship(truth, "bulk-actions")
    before = nps[nps.responded_at < fix].score
    after = nps[(nps.responded_at >= fix) & (nps.responded_at < bulk)].score
    se = math.sqrt(before.var() / len(before) + after.var() / len(after))
    assert after.mean() - before.mean() > 2 * se


def test_small_is_about_a_million_events(small: DemoManifest) -> None:
    assert 600_000 < small.counts["track_events"] < 1_500_000
    assert Path(small.files["truth"]).exists()
