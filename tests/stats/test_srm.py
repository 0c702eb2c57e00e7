"""Sample-ratio mismatch check against scipy.stats.chisquare."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from impactlens.stats.srm import INVALID_WEIGHTS, NO_UNITS, SRM, TOO_FEW_ARMS, srm_test


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([5000, 5200], [0.5, 0.5]),
        ([1000, 2000, 2900], [0.2, 0.4, 0.4]),
        ([90_312, 9_688], [0.9, 0.1]),
        ([13, 7, 11, 9], [1, 1, 1, 1]),
    ],
)
def test_chi_square_and_p_value_match_scipy(counts, weights):
    total = sum(counts)
    expected = [total * w / sum(weights) for w in weights]
    reference = stats.chisquare(counts, expected)
    result = srm_test(counts, weights)
    assert result.method == SRM and result.error is None
    assert result.chi_square == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.dof == len(counts) - 1
    assert result.expected == pytest.approx(tuple(expected), rel=1e-12)


def test_verdict_uses_the_threshold():
    # 5000 vs 5200: chi2 = 2 * 100^2 / 5100 = 3.9216, p = 0.0477 (scipy).
    assert not srm_test([5000, 5200]).mismatch
    assert srm_test([5000, 5200], threshold=0.05).mismatch
    # 10,000 vs 10,600: chi2 = 17.48, p = 2.9e-5 < 0.001.
    broken = srm_test([10_000, 10_600])
    assert broken.mismatch and broken.p_value == pytest.approx(2.9e-5, rel=0.05)


def test_weights_default_to_equal_and_are_normalised():
    assert srm_test([30, 50]).p_value == srm_test([30, 50], [7, 7]).p_value
    assert srm_test([30, 50], [2, 8]).weights == pytest.approx((0.2, 0.8))


@pytest.mark.parametrize(
    ("counts", "weights", "code"),
    [
        ([0, 0], None, NO_UNITS),
        ([100], None, TOO_FEW_ARMS),
        ([10, 10], [1, 0], INVALID_WEIGHTS),
        ([10, 10], [1, float("nan")], INVALID_WEIGHTS),
    ],
)
def test_degenerate_inputs_give_codes(counts, weights, code):
    result = srm_test(counts, weights)
    assert result.error == code and math.isnan(result.p_value) and not result.mismatch


def test_mismatched_lengths_are_a_programming_error():
    with pytest.raises(ValueError):
        srm_test([1, 2, 3], [1, 1])
