"""The warehouse's per-arm sums against brute force in pandas, and the exposure rules.

Every reference here is computed from the raw rows the ``World`` wrote, with
pandas, independently of Ibis and the metrics layer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from test_experiments_world import METRICS, START, WINDOW_END, World, random_world

from impactlens.service.catalog import get_experiment
from impactlens.service.experiments import analyze_experiment
from impactlens.service.experiments.collect import collect_metric, plan_metrics
from impactlens.service.experiments.exposure import analysis_window, exposed_population
from impactlens.service.experiments.sums import UnitSums, linearised_ratio, pool
from impactlens.stats.cuped import cuped_test
from impactlens.stats.frequentist import ratio_test, welch_test
from impactlens.stats.sufficient import (
    MeanStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
)


def warehouse_sums(wh, metric, *, as_of=None, cuped=True, **plan_kw):
    """Pooled sums per variation as the readout's collection step returns them."""
    exp = get_experiment(wh, "exp")
    window = analysis_window(wh, exp, as_of)
    population = exposed_population(wh, exp, window)
    plan = next(
        p for p in plan_metrics(exp, METRICS, cuped=cuped, **plan_kw) if p.metric.name == metric
    )
    data = collect_metric(wh, METRICS, plan, population, window)
    return {v: pool([s for _, s in days]) for v, days in data.days.items()}, data, population


def first_exposures(w: World, end=WINDOW_END) -> pd.DataFrame:
    ex = w.exposures
    ex = ex[(ex.timestamp >= START) & (ex.timestamp < end)]
    first = ex.groupby("actor_id").agg(
        start=("timestamp", "min"), arms=("variation_id", "nunique"),
        variation=("variation_id", "first"), account=("account_id", "first"),
    )  # fmt: skip
    return first[first.arms == 1].reset_index()


def per_user_counts(w: World, event: str, end=WINDOW_END, pre_days=14) -> pd.DataFrame:
    """m = events in [first exposure, end); x = events in the pre_days before it."""
    first = first_exposures(w, end)
    ev = w.events[w.events.event == event][["actor_id", "timestamp"]]
    both = first.merge(ev, on="actor_id", how="left")
    post = (both.timestamp >= both.start) & (both.timestamp < end)
    pre = (both.timestamp >= both.start - timedelta(days=pre_days)) & (both.timestamp < both.start)
    both = both.assign(m=post.astype(int), x=pre.astype(int))
    sums = both.groupby("actor_id")[["m", "x"]].sum()
    return first.set_index("actor_id").join(sums).reset_index()


def test_count_metric_sums_and_cuped_products_match_brute_force(warehouse) -> None:
    w = random_world(warehouse, n=400, lift=0.2)
    got, data, _ = warehouse_sums(warehouse, "reports")
    ref = per_user_counts(w, "Report Created")
    for arm, g in ref.groupby("variation"):
        s = got[arm]
        assert s.n == len(g)
        assert s.m_sum == g.m.sum() and s.m_sum_squares == (g.m**2).sum()
        assert s.pre_sum == g.x.sum() and s.pre_sum_squares == (g.x**2).sum()
        assert s.post_pre_sum_product == (g.m * g.x).sum()
        assert s.d_known == 0 and s.d_sum == len(g)  # a count: the per-user denominator is 1
    # Units land on the day of their first exposure.
    days = {(v, d): s.n for v, rows in data.days.items() for d, s in rows}
    ref_days = ref.groupby(["variation", ref.start.dt.date]).size().to_dict()
    assert days == ref_days


def test_readout_equals_the_stats_engine_on_brute_force_values(warehouse) -> None:
    w = random_world(warehouse, n=600, lift=0.25, seed=11)
    ref = per_user_counts(w, "Report Created")
    c, t = (ref[ref.variation == v] for v in ("control", "treat"))
    readout = analyze_experiment(warehouse, METRICS, "exp")
    comp = readout.primary.comparisons[0]
    want = cuped_test(
        RegressionAdjustedStatistic.from_values(c.m, c.x),
        RegressionAdjustedStatistic.from_values(t.m, t.x),
    )
    assert comp.method == "cuped_welch_t" and comp.cuped
    assert comp.effect == pytest.approx(want.effect, rel=1e-12)
    assert comp.ci_lower == pytest.approx(want.ci_lower, rel=1e-12)
    assert comp.p_value == pytest.approx(want.p_value, rel=1e-9)
    assert comp.variance_reduction == pytest.approx(want.variance_reduction, rel=1e-9)
    plain = analyze_experiment(warehouse, METRICS, "exp", cuped=False).primary.comparisons[0]
    want = welch_test(MeanStatistic.from_values(c.m), MeanStatistic.from_values(t.m))
    assert plain.method == "welch_t" and not plain.cuped
    assert (plain.effect, plain.ci_upper) == pytest.approx((want.effect, want.ci_upper), rel=1e-12)
    # The final point of the cumulative timeline is the analysis itself.
    assert plain.timeline[-1].effect == pytest.approx(plain.effect, rel=1e-12)
    assert plain.timeline[-1].n_control + plain.timeline[-1].n_treatment == len(ref)


def test_first_exposure_counts_and_users_in_two_arms_are_excluded(warehouse) -> None:
    w = World(warehouse)
    w.experiment()
    t0 = START + timedelta(days=2)
    w.expose("u1", "control", t0)
    w.expose("u1", "control", t0 + timedelta(days=2))  # a repeat: u1 counts from t0
    for hours in (-1, 24, 72):
        w.event("u1", "Report Created", t0 + timedelta(hours=hours))
    w.expose("u2", "control", t0)
    w.expose("u2", "treat", t0 + timedelta(days=1))  # saw both arms: excluded
    w.event("u2", "Report Created", t0 + timedelta(hours=5))
    w.expose("u3", "treat", t0)
    w.event("u3", "Report Created", t0)  # at the exposure instant: counts
    w.expose("u4", "bogus", t0)  # an arm the experiment does not declare
    w.expose("u5", "treat", START - timedelta(days=1))  # before the experiment started
    w.expose("u6", "treat", WINDOW_END)  # after it ended
    w.expose("u7", "treat", t0 + timedelta(days=1))
    w.event("u7", "Report Created", t0)  # before u7's exposure: does not count
    w.flush()
    got, _, population = warehouse_sums(warehouse, "reports")
    summary = population.summary
    assert summary.exposed_users == 5  # u1, u2, u3, u4, u7
    assert (summary.multiple_variations, summary.unknown_variation) == (1, 1)
    assert summary.units == (1, 2)
    assert (got["control"].n, got["control"].m_sum) == (1, 2)
    assert (got["treat"].n, got["treat"].m_sum, got["treat"].m_sum_squares) == (2, 1, 1)
    readout = analyze_experiment(warehouse, METRICS, "exp")
    assert any("more than one variation" in text for text in readout.warnings)
    assert any("does not declare" in text for text in readout.warnings)


def test_window_runs_through_the_last_day_and_stops_at_as_of(warehouse) -> None:
    w = World(warehouse)
    w.experiment()
    w.expose("u1", "control", START)
    w.event("u1", "Report Created", START + timedelta(days=5))
    w.event("u1", "Report Created", WINDOW_END - timedelta(hours=1))  # the last day counts
    w.event("u1", "Report Created", WINDOW_END)  # the day after ended_at does not
    w.expose("u2", "treat", START + timedelta(days=6))  # after as_of below: not yet exposed
    w.flush()
    got, *_ = warehouse_sums(warehouse, "reports")
    assert got["control"].m_sum == 2
    as_of = START + timedelta(days=5, hours=1)
    got, _, population = warehouse_sums(warehouse, "reports", as_of=as_of)
    assert got["control"].m_sum == 1 and population.summary.units == (1, 0)
    exp = get_experiment(warehouse, "exp")
    assert analysis_window(warehouse, exp, as_of).status == "running"
    assert analysis_window(warehouse, exp).status == "ended"


def test_retention_denominator_counts_only_users_exposed_long_enough(warehouse) -> None:
    rng = np.random.default_rng(5)
    w = World(warehouse)
    w.experiment(primary="back_day_7")
    rows = []
    for i in range(120):
        user, arm = f"u{i}", ("control", "treat")[i % 2]
        first = START + timedelta(hours=int(rng.integers(0, 19 * 24)))
        w.expose(user, arm, first)
        w.event(user, "Session Started", first + timedelta(seconds=5))
        back = bool(rng.random() < (0.3 if arm == "control" else 0.5))
        if back:
            w.event(user, "Session Started", first + timedelta(days=7, minutes=1))
        w.event(user, "Session Started", first + timedelta(days=3))  # not day 7: not a return
        rows.append((user, arm, first, back))
    w.flush()
    ref = pd.DataFrame(rows, columns=["user", "arm", "first", "back"])
    # A return on day 7 is observable only when the whole of day 7 is before the end.
    cohort_day = pd.to_datetime(ref["first"].dt.date)
    mature = cohort_day + timedelta(days=8) <= WINDOW_END
    exposed_long_enough = ref["first"] + timedelta(days=8) <= WINDOW_END
    assert (exposed_long_enough <= mature).all()  # the rule is conservative
    got, data, _ = warehouse_sums(warehouse, "back_day_7")
    assert data.immature_units == int((~exposed_long_enough).sum()) > 0
    for arm, g in ref[exposed_long_enough].groupby("arm"):
        assert got[arm].n == len(g) and got[arm].d_sum == len(g)
        assert got[arm].m_sum == g.back.sum()
    readout = analyze_experiment(warehouse, METRICS, "exp")
    metric = readout.primary
    assert metric.immature_units == data.immature_units
    assert metric.comparisons[0].statistic == "proportion"
    assert any("cannot be observed yet" in n for n in metric.notes)


def test_conversion_entry_may_precede_the_exposure_by_the_grace(warehouse) -> None:
    w = World(warehouse)
    w.experiment(primary="activation_7d")
    converted = {"control": 0, "treat": 0}
    for i in range(80):
        user, arm = f"u{i}", ("control", "treat")[i % 2]
        signup = START + timedelta(hours=3 * i)
        w.event(user, "Signed Up", signup - timedelta(seconds=1))
        w.expose(user, arm, signup + timedelta(seconds=20))  # logged just after the sign-up
        if i % (2 if arm == "treat" else 3) == 0:
            w.event(user, "Report Created", signup + timedelta(days=2))
            converted[arm] += 1
    w.flush()
    got, data, _ = warehouse_sums(warehouse, "activation_7d")
    assert data.immature_units == 0  # the last exposure is 10 days before the end
    for arm in ("control", "treat"):
        assert (got[arm].n, got[arm].d_sum, got[arm].m_sum) == (40, 40, converted[arm])
    comp = analyze_experiment(warehouse, METRICS, "exp").primary.comparisons[0]
    assert comp.statistic == "proportion"
    assert comp.value_treatment == pytest.approx(converted["treat"] / 40)
    # Without the grace every sign-up precedes its exposure and the funnel is empty.
    got, *_ = warehouse_sums(warehouse, "activation_7d", entry_grace=timedelta(0))
    assert got["control"].d_sum == 0
    readout = analyze_experiment(warehouse, METRICS, "exp", entry_grace=timedelta(0))
    assert readout.primary.comparisons[0].error == "zero_denominator"
    assert readout.recommendation.verdict == "no_data"


def test_ratio_metric_is_summed_per_user_and_tested_with_the_delta_method(warehouse) -> None:
    rng = np.random.default_rng(9)
    w = World(warehouse)
    w.experiment(primary="error_rate")
    for i in range(300):
        user, arm = f"u{i}", ("control", "treat")[i % 2]
        first = START + timedelta(hours=int(rng.integers(0, 200)))
        w.expose(user, arm, first)
        for k in range(int(rng.integers(0, 6))):
            w.event(user, "Session Started", first + timedelta(hours=k + 1))
        for k in range(int(rng.poisson(1.0 if arm == "control" else 0.6))):
            w.event(user, "Error Shown", first + timedelta(hours=k + 2))
    w.flush()
    sessions = per_user_counts(w, "Session Started").set_index("actor_id")
    errors = per_user_counts(w, "Error Shown").set_index("actor_id")
    ref = sessions[["variation"]].assign(m=errors.m, d=sessions.m)
    got, *_ = warehouse_sums(warehouse, "error_rate")
    stats = {}
    for arm, g in ref.groupby("variation"):
        s = got[arm]
        assert (s.n, s.m_sum, s.d_sum) == (len(g), g.m.sum(), g.d.sum())
        assert (s.m_sum_squares, s.d_sum_squares) == ((g.m**2).sum(), (g.d**2).sum())
        assert s.m_d_sum_product == (g.m * g.d).sum() and s.d_known == len(g)
        stats[arm] = RatioStatistic.from_values(g.m, g.d)
    comp = analyze_experiment(warehouse, METRICS, "exp").primary.comparisons[0]
    want = ratio_test(stats["control"], stats["treat"])
    assert comp.method == "ratio_delta_t" and comp.statistic == "ratio" and not comp.cuped
    assert (comp.effect, comp.ci_lower, comp.p_value) == pytest.approx(
        (want.effect, want.ci_lower, want.p_value), rel=1e-12
    )


def test_account_unit_sums_users_per_account_and_uses_the_cluster_robust_test(warehouse) -> None:
    w = random_world(warehouse, n=1200, accounts=60, seed=21, unit="account")
    ref = per_user_counts(w, "Report Created")
    accounts = ref.groupby(["variation", "account"]).agg(
        M=("m", "sum"), D=("m", "size"), X=("x", "sum")
    )
    got, data, population = warehouse_sums(warehouse, "reports")
    assert population.summary.unit == "account" and population.summary.units == (30, 30)
    plain, adjusted = {}, {}
    for arm, g in accounts.groupby(level="variation"):
        s = got[arm]
        assert (s.n, s.m_sum, s.d_sum, s.pre_sum) == (len(g), g.M.sum(), g.D.sum(), g.X.sum())
        assert (s.m_sum_squares, s.d_sum_squares) == ((g.M**2).sum(), (g.D**2).sum())
        assert (s.m_d_sum_product, s.d_pre_sum_product) == ((g.M * g.D).sum(), (g.D * g.X).sum())
        plain[arm] = RatioStatistic.from_values(g.M, g.D)
        # CUPED on delta-method pseudo-values, computed unit by unit.
        r, q, mu_d = g.M.sum() / g.D.sum(), g.X.sum() / g.D.sum(), g.D.mean()
        adjusted[arm] = RegressionAdjustedStatistic.from_values(
            r + (g.M - r * g.D) / mu_d, q + (g.X - q * g.D) / mu_d
        )
    users = {v: pool([s for _, s in days]) for v, days in data.user_level.items()}
    assert users["control"].n + users["treat"].n == len(ref)
    unadjusted = analyze_experiment(warehouse, METRICS, "exp", cuped=False)
    comp = unadjusted.primary.comparisons[0]
    want = ratio_test(plain["control"], plain["treat"])
    assert comp.method == "ratio_delta_t" and unadjusted.primary.cluster
    assert (comp.effect, comp.ci_lower, comp.ci_upper) == pytest.approx(
        (want.effect, want.ci_lower, want.ci_upper), rel=1e-12
    )
    # Same point estimate, but users of an account are alike: the user-level
    # interval is far narrower than the honest account-level one.
    u = comp.user_level
    assert u.effect == pytest.approx(comp.effect, rel=1e-12)
    assert u.account_ci_width == pytest.approx(comp.ci_width, rel=1e-12)
    assert u.width_ratio > 1.7 and u.user_p_value < u.account_p_value
    assert any("overstate significance" in n for n in unadjusted.primary.notes)
    readout = analyze_experiment(warehouse, METRICS, "exp")
    comp = readout.primary.comparisons[0]
    want = cuped_test(adjusted["control"], adjusted["treat"])
    assert comp.method == "cuped_welch_t" and comp.statistic == "ratio" and comp.cuped
    assert (comp.effect, comp.ci_lower, comp.p_value, comp.variance_reduction) == pytest.approx(
        (want.effect, want.ci_lower, want.p_value, want.variance_reduction), rel=1e-9
    )
    assert comp.variance_reduction > 0.3  # account habits persist: the pre-period explains much


def test_linearised_ratio_without_a_covariate_is_exactly_the_ratio_test() -> None:
    rng = np.random.default_rng(4)
    arms = []
    for scale in (1.0, 1.2):
        d = rng.integers(1, 30, 80).astype(float)
        m = rng.poisson(d * 2.0 * scale).astype(float)
        arms.append((m, d))
    sums = [
        UnitSums(len(m), m.sum(), (m * m).sum(), d.sum(), (d * d).sum(), (m * d).sum(), d_known=len(m))
        for m, d in arms
    ]  # fmt: skip
    via_cuped = cuped_test(*(linearised_ratio(s) for s in sums))
    direct = ratio_test(*(RatioStatistic.from_values(m, d) for m, d in arms))
    assert via_cuped.theta == 0.0 and via_cuped.variance_reduction == 0.0
    for name in ("effect", "standard_error", "ci_lower", "ci_upper", "p_value", "dof"):
        assert getattr(via_cuped, name) == pytest.approx(getattr(direct, name), rel=1e-9)


def test_accounts_whose_users_saw_both_arms_are_excluded(warehouse) -> None:
    w = World(warehouse)
    w.experiment(unit="account")
    for user, account, arm in [("u1", "a1", "control"), ("u2", "a1", "treat"),
                               ("u3", "a2", "control"), ("u4", "a3", "treat"), ("u5", None, "treat")]:  # fmt: skip
        w.user(user, account)
        w.expose(user, arm, START + timedelta(hours=1), account=account)
    w.flush()
    summary = exposed_population(
        warehouse, exp := get_experiment(warehouse, "exp"), analysis_window(warehouse, exp)
    ).summary
    assert summary.units == (1, 1) and summary.users == (1, 1)
    assert (summary.mixed_accounts, summary.users_in_mixed_accounts) == (1, 2)
    assert summary.users_without_account == 1


def test_exposure_without_an_account_falls_back_to_the_users_table(warehouse) -> None:
    w = World(warehouse)
    w.experiment(unit="account")
    w.user("u1", "a1")
    w.expose("u1", "control", datetime(2026, 3, 3))  # the exposure itself carries no account
    w.flush()
    exp = get_experiment(warehouse, "exp")
    summary = exposed_population(warehouse, exp, analysis_window(warehouse, exp)).summary
    assert summary.units == (1, 0) and summary.users_without_account == 0
