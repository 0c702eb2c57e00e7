"""Health and churn on the demo company (impactlens.demo), imported through the real importer.

The demo's paying accounts churn by a planted monthly hazard (truth.json -> churn):
logit h = -3.8 + 4.0 usage decline + 0.5 log(1 + tickets last month) + 0.9 detractor
- 0.25 log(seats); trials that do not convert expire (not churn of a paying customer).

- `tiny` (24 accounts): one paying account churns, so the model must refuse to train
  and the account list must rank by health alone.
- `small` (300 accounts, six months, marked slow): 27 paying accounts churn, so only
  two back-test folds (17 and 9 churned test accounts) can be scored. Measured (seed 7,
  two versions of the demo): model AUC 0.59-0.60 (logistic), 0.58-0.65 (boosting),
  health score 0.58-0.64 on the same folds, shuffled labels 0.47-0.53. The planted
  signal is mild and the history short, so the floors only say "not worse than
  chance"; the model's recovery of a planted churn process is tested on a world with
  a year of history in test_churn_model.py.
"""

from __future__ import annotations

import json

import pytest

from impactlens.service.accounts import (
    ChurnConfig,
    assess_release_customers,
    build_account_book,
    fit_churn_model,
    release_feedback,
)


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
    assert f"only {hazard} churned account(s)" in book.churn.message
    assert "ranking by health score" in book.churn.message
    listing = book.listing()
    # every current account is scored and ranked by health; no churn probability
    assert listing.n_accounts >= 20
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
    assert sum(f.skipped is None for f in bt.folds) >= 2
    assert bt.auc_mean >= 0.5 and bt.health_auc_mean >= 0.5
    assert abs(bt.null_auc_mean - 0.5) <= 0.15
    assert sum(b.n for b in bt.calibration) == sum(f.n_test for f in bt.folds if not f.skipped)


@pytest.mark.slow
def test_small_demo_boosting_and_weekly_snapshots(small):
    wh, _ = small
    weekly = fit_churn_model(wh, ChurnConfig(snapshots="week"))
    assert sum(f.skipped is None for f in weekly.backtest.folds) >= 6
    boosted = fit_churn_model(wh, ChurnConfig(model="gradient_boosting"))
    assert boosted.backtest.auc_mean >= 0.5
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
