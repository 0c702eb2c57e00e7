"""NPS, CSAT and CES scores with their intervals, and the rate ratio, against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from impactlens.service.accounts.voice import FEW_ANSWERS, rate_ratio, summarize_survey


def test_nps_of_twelve_answers_by_hand():
    # 6 promoters, 4 passives, 2 detractors: NPS = 100 * (6 - 2) / 12 = 33.33.
    # Answers as +1/0/-1: mean 1/3, E[x^2] = 8/12, var = 8/12 - 1/9 = 5/9,
    # SE = 100 * sqrt(5/9 / 12) = 21.52; interval 33.33 +- 1.96 * 21.52 = [-8.84, 75.51]
    s = summarize_survey("nps", 12, promoters=6, detractors=2)
    assert s.value == pytest.approx(100 / 3)
    se = 100 * math.sqrt((5 / 9) / 12)
    assert s.ci_low == pytest.approx(100 / 3 - 1.959964 * se, abs=1e-4)
    assert s.ci_high == pytest.approx(100 / 3 + 1.959964 * se, abs=1e-4)
    assert s.few_answers is True and s.n == 12


def test_nps_interval_matches_the_variance_of_the_answers():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 11, 400)
    x = np.where(scores >= 9, 1, np.where(scores <= 6, -1, 0))
    s = summarize_survey(
        "nps", len(x), promoters=int((x == 1).sum()), detractors=int((x == -1).sum())
    )
    se = 100 * x.std(ddof=0) / math.sqrt(len(x))
    assert s.value == pytest.approx(100 * x.mean())
    assert s.ci_high - s.value == pytest.approx(1.959964 * se, rel=1e-5)
    assert s.few_answers is False


def test_nps_interval_is_clipped_to_its_range():
    s = summarize_survey("nps", 3, promoters=3)
    assert s.value == 100 and s.ci_high == 100 and s.ci_low == 100


def test_csat_is_the_satisfied_share_with_a_wilson_interval():
    s = summarize_survey("csat", 40, total=150, promoters=31)
    lo, hi = proportion_confint(31, 40, alpha=0.05, method="wilson")  # statsmodels reference
    assert s.value == pytest.approx(100 * 31 / 40)
    assert s.ci_low == pytest.approx(100 * lo) and s.ci_high == pytest.approx(100 * hi)
    assert s.mean_score == pytest.approx(150 / 40)


def test_ces_is_a_mean_with_a_t_interval():
    answers = np.array([2.0, 3, 5, 6, 7, 4, 4, 5])
    s = summarize_survey("ces", len(answers), answers.sum(), (answers**2).sum())
    lo, hi = stats.t.interval(0.95, len(answers) - 1, answers.mean(), stats.sem(answers))
    assert s.value == pytest.approx(answers.mean())
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi))


def test_no_answers_and_one_answer():
    assert summarize_survey("nps", 0).value is None
    one = summarize_survey("ces", 1, total=5.0, sum_squares=25.0)
    assert one.value == 5.0 and one.ci_low is None
    assert FEW_ANSWERS == 30


def test_rate_ratio_matches_the_exact_binomial_interval():
    # Equal windows: after | (before + after) ~ Binomial(n, RR / (1 + RR)); the
    # Clopper-Pearson interval of scipy's binomtest maps to the ratio (as R's poisson.test).
    r = rate_ratio(before=40, after=20)
    ci = stats.binomtest(20, 60).proportion_ci(0.95, method="exact")
    assert r.ratio == pytest.approx(0.5)
    assert r.ci_low == pytest.approx(ci.low / (1 - ci.low))
    assert r.ci_high == pytest.approx(ci.high / (1 - ci.high))
    assert r.p_value == pytest.approx(stats.binomtest(20, 60, 0.5).pvalue)
    assert r.ci_high < 1  # a halving from 40 is not noise


def test_rate_ratio_with_unequal_exposure_and_zeros():
    r = rate_ratio(before=10, after=10, t_before=2.0, t_after=1.0)
    assert r.ratio == pytest.approx(2.0)
    assert rate_ratio(0, 0).ratio is None
    zero_before = rate_ratio(0, 5)
    assert zero_before.ratio is None and zero_before.ci_high is None and zero_before.ci_low > 0
    zero_after = rate_ratio(5, 0)
    assert zero_after.ratio == 0 and zero_after.ci_low == 0
