"""Sufficient statistics reproduce numpy's moments and pool like concatenated data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impactlens.stats.sufficient import (
    MEAN_COLUMNS,
    PROPORTION_COLUMNS,
    RATIO_COLUMNS,
    REGRESSION_COLUMNS,
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
)

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=2, max_size=60)


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (MeanStatistic, MEAN_COLUMNS),
        (ProportionStatistic, PROPORTION_COLUMNS),
        (RatioStatistic, RATIO_COLUMNS),
        (RegressionAdjustedStatistic, REGRESSION_COLUMNS),
    ],
)
def test_column_constants_name_the_dataclass_fields_in_order(kind, columns):
    # The warehouse queries build rows from these names; from_row must accept them.
    assert tuple(f.name for f in dataclasses.fields(kind)) == columns
    row = {name: float(i + 2) for i, name in enumerate(columns)}
    assert kind.from_row(row) == kind(*row.values())


def test_mean_statistic_small_example_by_hand():
    # 1, 2, 3: sum 6, sum of squares 14, mean 2, sample variance ((1+0+1)/2) = 1.
    s = MeanStatistic.from_values([1.0, 2.0, 3.0])
    assert (s.n, s.sum, s.sum_squares, s.mean, s.variance) == (3, 6.0, 14.0, 2.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_mean_statistic_matches_numpy_ddof1(values):
    s = MeanStatistic.from_values(values)
    x = np.asarray(values)
    assert s.mean == pytest.approx(x.mean(), rel=1e-9, abs=1e-9)
    spread = max(1.0, float(np.dot(x, x)))
    assert s.variance == pytest.approx(x.var(ddof=1), rel=1e-6, abs=1e-9 * spread)


def test_constant_data_has_exactly_zero_variance():
    # 0.1 is not representable: sum_squares - sum^2/n is ~1e-18, not 0, without the guard.
    assert MeanStatistic.from_values([0.1] * 7).variance == 0.0
    assert MeanStatistic(1, 5.0, 25.0).variance == 0.0
    assert math.isnan(MeanStatistic(0, 0.0, 0.0).mean)


def test_proportion_uses_bernoulli_variance_and_mean_statistic_uses_n_minus_1():
    # 30 conversions of 100: p(1-p) = 0.21; the unbiased variance is 0.21 * 100/99.
    p = ProportionStatistic.from_values([1] * 30 + [0] * 70)
    m = MeanStatistic.from_values([1] * 30 + [0] * 70)
    assert (p.n, p.sum, p.sum_squares) == (100, 30.0, 30.0)
    assert p.variance == pytest.approx(0.21, rel=1e-12)
    assert m.variance == pytest.approx(0.21 * 100 / 99, rel=1e-12)
    with pytest.raises(ValueError):
        ProportionStatistic.from_values([0, 1, 2])


@settings(max_examples=40, deadline=None)
@given(samples, samples)
def test_pooling_equals_summarising_the_concatenation(a, b):
    pooled = MeanStatistic.from_values(a) + MeanStatistic.from_values(b)
    direct = MeanStatistic.from_values(a + b)
    assert pooled.n == direct.n
    assert pooled.sum == pytest.approx(direct.sum, abs=1e-6)
    assert pooled.sum_squares == pytest.approx(direct.sum_squares, rel=1e-9)


def test_ratio_variance_equals_linearised_per_unit_variance():
    # Independent route: Var(ratio) * n = Var(m - R d) / mean(d)^2 on the raw units.
    rng = np.random.default_rng(7)
    d = rng.poisson(4.0, 800) + 1.0
    m = rng.binomial(d.astype(int), 0.3) + rng.normal(0, 0.5, 800)
    s = RatioStatistic.from_values(m, d)
    r = m.sum() / d.sum()
    assert s.mean == pytest.approx(r, rel=1e-12)
    assert s.variance == pytest.approx(np.var(m - r * d, ddof=1) / d.mean() ** 2, rel=1e-9)
    assert s.covariance == pytest.approx(np.cov(m, d, ddof=1)[0, 1], rel=1e-9)
    pooled = RatioStatistic.from_values(m[:300], d[:300]) + RatioStatistic.from_values(
        m[300:], d[300:]
    )
    assert pooled.mean == pytest.approx(s.mean, rel=1e-12)


def test_ratio_with_zero_denominator_has_nan_mean_and_zero_variance():
    s = RatioStatistic(3, 2.0, 2.0, 0.0, 0.0, 0.0)
    assert math.isnan(s.mean) and s.variance == 0.0


def test_regression_adjusted_moments_match_numpy():
    rng = np.random.default_rng(11)
    pre = rng.normal(5, 2, 500)
    post = 0.8 * pre + rng.normal(0, 1, 500)
    s = RegressionAdjustedStatistic.from_values(post, pre)
    assert s.covariance == pytest.approx(np.cov(post, pre, ddof=1)[0, 1], rel=1e-9)
    theta = 0.7
    adjusted = post - theta * pre
    assert s.adjusted_mean(theta) == pytest.approx(adjusted.mean(), rel=1e-12)
    assert s.adjusted_variance(theta) == pytest.approx(adjusted.var(ddof=1), rel=1e-9)
    assert s.mean == pytest.approx(post.mean(), rel=1e-12)


def test_warehouse_values_are_coerced_to_float():
    # DuckDB returns DECIMAL sums as Decimal, integer sums as int, and NULL sums for
    # empty groups; statistics must hold plain floats either way.
    from decimal import Decimal

    s = MeanStatistic.from_row({"n": np.int64(4), "sum": Decimal("10.5"), "sum_squares": 30})
    assert (s.n, s.sum, s.sum_squares) == (4, 10.5, 30.0)
    assert type(s.sum) is float and type(s.n) is int
    empty = RatioStatistic(0, None, None, None, None, None)
    assert empty.m_sum == 0.0 and empty.variance == 0.0
    with pytest.raises(ValueError):
        MeanStatistic(3, None, 1.0)


def test_pooling_other_kinds_and_refusing_mixed_kinds():
    a = RegressionAdjustedStatistic.from_values([1.0, 2.0], [0.5, 1.0])
    b = RegressionAdjustedStatistic.from_values([3.0], [2.0])
    assert a + b == RegressionAdjustedStatistic.from_values([1.0, 2.0, 3.0], [0.5, 1.0, 2.0])
    assert ProportionStatistic(10, 3) + ProportionStatistic(5, 1) == ProportionStatistic(15, 4)
    with pytest.raises(TypeError):
        MeanStatistic(1, 1.0, 1.0) + ProportionStatistic(1, 1)


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_n_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError):
        MeanStatistic(bad, 0.0, 0.0)


def test_values_must_be_finite():
    with pytest.raises(ValueError):
        MeanStatistic.from_values([1.0, float("nan")])
    with pytest.raises(ValueError):
        RatioStatistic.from_values([1.0, 2.0], [1.0])
