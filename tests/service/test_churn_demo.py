"""Health and churn on the demo company (impactlens.demo), imported through the real importer.

The demo's paying accounts decide to leave by a planted monthly hazard (truth.json ->
churn): logit h = -3.9 + 5.0 usage decline + 0.8 log(1 + tickets per 10 seats that
month) + 2.2 detractor - 0.3 log(seats); then they wind down for 30-90 days before
they churn (usage falling by 1.0 of log usage every 30 days, a billing ticket a month,
NPS answers 3 points lower); trials that do not convert expire (not churn of a paying
customer).

- `tiny` (24 accounts): too few paying accounts churn, so the model must refuse to
  train and the account list must rank by health alone.
- `small` (300 accounts, six months, marked slow): 51 paying accounts churn by the
  hazard (45 inside the snapshots' labels), three back-test folds. Measured (seeds 7
  to 11): model AUC 0.87 / 0.85 / 0.71 / 0.76 / 0.86, health score 0.85 / 0.88 / 0.80 /
  0.80 / 0.84 on the same folds, shuffled labels 0.45 / 0.48 / 0.49 / 0.45 / 0.46; the
  floors below hold for every one of those seeds.
"""

from __future__ import annotations

import json
import re
from datetime import date

import numpy as np
import pytest

from impactlens.service.accounts import (
    ChurnConfig,
    assess_release_customers,
    build_account_book,
    fit_churn_model,
    release_feedback,
)
from impactlens.service.accounts.panel import build_panel, week_of

DEMO_AUC_FLOOR = 0.70  # seed 7 gives 0.87, seeds 7-11 at least 0.71; see the module doc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from impactlens.service.demo import build_demo

    run = build_demo(tmp_path_factory.mktemp("demo_tiny"), size="tiny", seed=7)
    wh = run.workspace.connect()
    yield wh, json.loads(run.truth_path.read_text())
    wh.close()


def test_tiny_demo_is_too_small_for_a_churn_model(tiny):
    wh, truth = tiny
    book = build_account_book(wh)
    hazard = truth["churn"]["by_reason"].get("hazard", 0)
    assert book.churn.status == "insufficient_data"
    # the model counts the churns its snapshots can label: not those before the first
    # snapshot (June) nor those too late to have 30 days of label after a snapshot
    seen = re.search(r"only (\d+) churned account\(s\)", book.churn.message)
    assert seen and 0 < int(seen.group(1)) <= hazard
    assert book.churn.n_churned_accounts == int(seen.group(1)) < book.churn.min_churned
    assert "ranking by health score" in book.churn.message
    listing = book.listing()
    # every current (not churned) account is scored and ranked by health; no churn probability
    assert listing.n_accounts == truth["churn"]["accounts"] - truth["churn"]["churned"] >= 15
    assert all(r.health_score is not None and r.churn_probability is None for r in listing.rows)
    assert sum(listing.bands.values()) == listing.n_accounts
    assert all(r.at_risk == (r.band in ("yellow", "red")) for r in listing.rows)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from impactlens.service.demo import build_demo

    run = build_demo(tmp_path_factory.mktemp("demo_small"), size="small", seed=7)
    wh = run.workspace.connect()
    yield wh, json.loads(run.truth_path.read_text())
    wh.close()


@pytest.mark.slow
def test_small_demo_churn_backtest(small):
    wh, truth = small
    book = build_account_book(wh)
    result = book.churn
    assert result.trained
    # expired trials are not churn of paying accounts: only the hazard churns count
    assert result.n_churned_accounts <= truth["churn"]["by_reason"]["hazard"]
    bt = result.backtest
    assert sum(f.skipped is None for f in bt.folds) >= 3
    assert bt.auc_mean >= DEMO_AUC_FLOOR and bt.auc_pooled >= DEMO_AUC_FLOOR - 0.05
    assert bt.health_auc_mean >= 0.7
    assert abs(bt.null_auc_mean - 0.5) <= 0.1
    # the riskiest tenth churns at several times the base rate
    assert bt.precision_at_k_mean >= 3 * bt.base_rate
    assert sum(b.n for b in bt.calibration) == sum(f.n_test for f in bt.folds if not f.skipped)


@pytest.mark.slow
def test_small_demo_churners_disengage_before_they_leave(small):
    # The planted wind-down reaches the events: over the 4 weeks before its churn week an
    # account that churned by the hazard used the product much less than in the 4 weeks
    # before that (planted: log usage -1.0 every 30 days from the decision, 30-90 days
    # before the churn), while the accounts that stayed held steady at the same weeks.
    # Measured: churners' median log change -0.77 (seeds 8, 9: -0.76, -0.63) against
    # +0.06 (+0.06, +0.08) for the others, 97% (97%, 93%) of churners below; with the
    # demo before issue #6: -0.00 against +0.06, and -0.16 with its disengagement runs.
    wh, truth = small
    panel = build_panel(wh)
    cum = np.c_[np.zeros(panel.n_accounts), np.cumsum(panel.events, axis=1)]

    def trend(rows: np.ndarray, col: int) -> np.ndarray:
        recent, prior = cum[rows, col] - cum[rows, col - 4], cum[rows, col - 4] - cum[rows, col - 8]
        return np.log((1 + recent) / (1 + prior))

    churners, others = [], []
    for row in truth["churn"]["churned_accounts"]:
        i = panel.index_of(row["account_id"])
        col = week_of(date.fromisoformat(row["churned_at"][:10])) - panel.first_week
        if (
            row["reason"] != "hazard"
            or col < 8
            or panel.created_week[i] > panel.first_week + col - 8
        ):
            continue
        churners.append(trend(np.array([i]), col)[0])
        stayed = panel.alive[:, col] & np.isnat(panel.churn_day)
        stayed &= panel.created_week <= panel.first_week + col - 8
        others.append(float(np.median(trend(np.flatnonzero(stayed), col))))
    assert len(churners) >= 20
    assert np.median(churners) < np.median(others) - 0.4
    assert np.mean(np.array(churners) < np.array(others)) >= 0.85


@pytest.mark.slow
def test_small_demo_model_finds_the_planted_drivers(small):
    # Standardized coefficients of the model over the whole demo: the planted drivers are
    # among its 5 strongest of 13 with the planted signs: the usage decline (its trend,
    # and the low usage per seat a wind-down leaves) -, tickets per 10 seats +, NPS -.
    # Measured (seed 7): tickets +0.76 (1st), events per seat -0.69, NPS -0.42, usage
    # trend -0.39 (4th), seats -0.20; seeds 8-11 put the usage trend 3rd, 4th, 4th, 5th
    # and NPS 4th, 3rd, 5th, 4th. Before issue #6's wind-down the usage trend came 7th-8th
    # of 15 and tickets and NPS only on some seeds.
    wh, _ = small
    result = fit_churn_model(wh)
    weights = {w.feature: w.weight for w in result.weights}
    top = [w.feature for w in result.weights[:5]]
    assert weights["usage_trend"] < 0 and "usage_trend" in top
    assert weights["events_per_seat_log"] < 0 and "events_per_seat_log" in top
    assert weights["tickets_12w_rate"] > 0 and "tickets_12w_rate" in top
    assert weights["nps_mean"] < 0 and "nps_mean" in top


@pytest.mark.slow
def test_small_demo_boosting_and_weekly_snapshots(small):
    # Measured (seeds 7-11): weekly snapshots, 13 folds, AUC 0.86 / 0.82 / 0.71 / 0.77 /
    # 0.87; gradient boosting 0.79 / 0.82 / 0.71 / 0.80 / 0.81 (shuffled 0.45-0.48).
    wh, _ = small
    weekly = fit_churn_model(wh, ChurnConfig(snapshots="week"))
    assert sum(f.skipped is None for f in weekly.backtest.folds) >= 10
    assert weekly.backtest.auc_mean >= DEMO_AUC_FLOOR
    boosted = fit_churn_model(wh, ChurnConfig(model="gradient_boosting"))
    assert boosted.backtest.auc_mean >= DEMO_AUC_FLOOR - 0.05
    assert abs(boosted.backtest.null_auc_mean - 0.5) <= 0.1
    assert boosted.warnings == ()


@pytest.mark.slow
def test_small_demo_fixes_cut_their_tickets(small):
    # truth.json: the export fix halves P(export fails) and with it export;timeout tickets;
    # SSO halves login-tagged tickets. Measured: 38 -> 22 (0.58) and 15 -> 7 (0.47).
    wh, _ = small
    export = release_feedback(wh, "export-timeout-fix")
    assert export.terms == ("export", "timeout")
    assert export.matched_tickets.ratio < 0.85
    login = release_feedback(wh, "sso-login")
    assert login.matched_tickets.ratio < 0.85
    impact = assess_release_customers(wh, "export-timeout-fix")
    assert impact.audience == "everyone" and impact.accounts_reached > 200
    assert impact.arr_reached > 0 and sum(impact.health_before.values()) == impact.accounts_reached
