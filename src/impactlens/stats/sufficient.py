"""Sufficient statistics: the only numbers the experiment tests need from the warehouse.

This module owns the column names of the per-variation summaries (gbstats' SUM_COLS
idea): the warehouse aggregates raw rows into ``n``, ``sum``, ``sum_squares`` and
sums of products, and every test in :mod:`impactlens.stats` works from those, so
Python never pulls raw events into memory to compute a mean.

Example:
    >>> s = MeanStatistic.from_values([1.0, 2.0, 3.0])
    >>> (s.n, s.sum, s.sum_squares, s.mean, s.variance)
    (3, 6.0, 14.0, 2.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike

# Column names the warehouse queries must produce, one tuple per statistic kind.
MEAN_COLUMNS = ("n", "sum", "sum_squares")
PROPORTION_COLUMNS = ("n", "sum")
RATIO_COLUMNS = ("n", "m_sum", "m_sum_squares", "d_sum", "d_sum_squares", "m_d_sum_product")
REGRESSION_COLUMNS = (
    "n",
    "post_sum",
    "post_sum_squares",
    "pre_sum",
    "pre_sum_squares",
    "post_pre_sum_product",
)

# Below this fraction of the raw second moment, a centred sum of squares is
# floating-point cancellation, not spread: constant data must read as zero variance.
_CANCELLATION = 1e-12


def sample_variance(n: int, total: float, sum_squares: float) -> float:
    """Unbiased sample variance from sums; 0.0 when it cannot be estimated (n <= 1)."""
    if n <= 1:
        return 0.0
    centred = sum_squares - total * total / n
    if centred <= _CANCELLATION * abs(sum_squares):
        return 0.0
    return centred / (n - 1)


def sample_covariance(n: int, sum_x: float, sum_y: float, sum_xy: float) -> float:
    """Unbiased sample covariance from sums; 0.0 when n <= 1."""
    if n <= 1:
        return 0.0
    return (sum_xy - sum_x * sum_y / n) / (n - 1)


def _check_n(n: object) -> int:
    count = int(n)  # type: ignore[call-overload]
    if count != n or count < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return count


def _as_vector(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite numbers")
    return array


class _Sums:
    """Shared by every statistic: validation, construction from rows, pooling."""

    COLUMNS: ClassVar[tuple[str, ...]]
    n: int

    def __post_init__(self) -> None:
        n = _check_n(self.n)
        object.__setattr__(self, "n", n)
        # Warehouse rows bring Decimal, numpy or int sums, and NULL sums for empty
        # groups; the arithmetic below wants plain floats.
        for name in self.COLUMNS[1:]:
            value = getattr(self, name)
            if value is None and n == 0:
                value = 0.0
            if value is None:
                raise ValueError(f"{name} is missing for a non-empty sample")
            object.__setattr__(self, name, float(value))

    @classmethod
    def from_row(cls, row: Mapping[str, float]) -> Self:
        """Build from a warehouse row keyed by the class's ``COLUMNS``."""
        return cls(*(row[c] for c in cls.COLUMNS))

    def __add__(self, other: Self) -> Self:
        """Pool two disjoint samples (two days, or two arms for CUPED's theta)."""
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(*(getattr(self, c) + getattr(other, c) for c in self.COLUMNS))


@dataclass(frozen=True)
class MeanStatistic(_Sums):
    """Moments of a per-unit metric: n, sum and sum of squares.

    A proportion is the mean of a 0/1 metric (then ``sum_squares == sum``); use
    :class:`ProportionStatistic` to get the Bernoulli variance p(1-p) instead.
    """

    n: int
    sum: float
    sum_squares: float

    COLUMNS: ClassVar[tuple[str, ...]] = MEAN_COLUMNS

    @property
    def mean(self) -> float:
        """Sample mean; NaN for an empty sample."""
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Unbiased sample variance (n - 1 denominator)."""
        return sample_variance(self.n, self.sum, self.sum_squares)

    @classmethod
    def from_values(cls, values: ArrayLike) -> MeanStatistic:
        """Summarise raw per-unit values (for tests and small in-memory data)."""
        x = _as_vector(values)
        return cls(n=x.size, sum=float(x.sum()), sum_squares=float(np.dot(x, x)))


@dataclass(frozen=True)
class ProportionStatistic(_Sums):
    """Conversions out of n units; variance is the Bernoulli p(1-p), as in gbstats."""

    n: int
    sum: float

    COLUMNS: ClassVar[tuple[str, ...]] = PROPORTION_COLUMNS

    @property
    def sum_squares(self) -> float:
        """For 0/1 data the sum of squares equals the sum."""
        return self.sum

    @property
    def mean(self) -> float:
        """Conversion rate; NaN for an empty sample."""
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Bernoulli variance p(1-p) (n denominator); 0.0 for an empty sample."""
        if self.n == 0:
            return 0.0
        p = self.mean
        return max(p * (1.0 - p), 0.0)

    @classmethod
    def from_values(cls, values: ArrayLike) -> ProportionStatistic:
        """Summarise 0/1 outcomes."""
        x = _as_vector(values)
        if not np.all((x == 0) | (x == 1)):
            raise ValueError("proportion values must be 0 or 1")
        return cls(n=x.size, sum=float(x.sum()))


@dataclass(frozen=True)
class RatioStatistic(_Sums):
    """Per-unit numerator m and denominator d, for a ratio of means sum(m)/sum(d).

    Used for ratio metrics (clicks per search) and for cluster-robust analysis when
    the unit of assignment is an account but the metric is per user: m is the
    account total, d the account's number of users.
    """

    n: int
    m_sum: float
    m_sum_squares: float
    d_sum: float
    d_sum_squares: float
    m_d_sum_product: float

    COLUMNS: ClassVar[tuple[str, ...]] = RATIO_COLUMNS

    @property
    def numerator(self) -> MeanStatistic:
        """Moments of the per-unit numerator."""
        return MeanStatistic(self.n, self.m_sum, self.m_sum_squares)

    @property
    def denominator(self) -> MeanStatistic:
        """Moments of the per-unit denominator."""
        return MeanStatistic(self.n, self.d_sum, self.d_sum_squares)

    @property
    def covariance(self) -> float:
        """Sample covariance of numerator and denominator."""
        return sample_covariance(self.n, self.m_sum, self.d_sum, self.m_d_sum_product)

    @property
    def mean(self) -> float:
        """The ratio sum(m) / sum(d); NaN when the denominator sums to zero."""
        return self.m_sum / self.d_sum if self.d_sum else math.nan

    @property
    def variance(self) -> float:
        """Per-unit delta-method variance of the ratio: Var(ratio) ~ variance / n.

        s_m^2/mu_d^2 - 2 cov mu_m/mu_d^3 + mu_m^2 s_d^2/mu_d^4 (gbstats RatioStatistic).
        """
        if self.n <= 1 or self.d_sum == 0:
            return 0.0
        mu_m, mu_d = self.m_sum / self.n, self.d_sum / self.n
        value = (
            self.numerator.variance / mu_d**2
            - 2.0 * self.covariance * mu_m / mu_d**3
            + mu_m**2 * self.denominator.variance / mu_d**4
        )
        return max(value, 0.0)

    @classmethod
    def from_values(cls, numerators: ArrayLike, denominators: ArrayLike) -> RatioStatistic:
        """Summarise paired per-unit numerator and denominator values."""
        m, d = _as_vector(numerators), _as_vector(denominators)
        if m.size != d.size:
            raise ValueError("numerators and denominators must have the same length")
        return cls(
            n=m.size,
            m_sum=float(m.sum()),
            m_sum_squares=float(np.dot(m, m)),
            d_sum=float(d.sum()),
            d_sum_squares=float(np.dot(d, d)),
            m_d_sum_product=float(np.dot(m, d)),
        )


@dataclass(frozen=True)
class RegressionAdjustedStatistic(_Sums):
    """Post-exposure metric and its pre-exposure covariate, for CUPED.

    ``post_pre_sum_product`` is the sum over units of post * pre.
    """

    n: int
    post_sum: float
    post_sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    post_pre_sum_product: float

    COLUMNS: ClassVar[tuple[str, ...]] = REGRESSION_COLUMNS

    @property
    def post(self) -> MeanStatistic:
        """Moments of the metric measured after exposure."""
        return MeanStatistic(self.n, self.post_sum, self.post_sum_squares)

    @property
    def pre(self) -> MeanStatistic:
        """Moments of the same metric before exposure (the covariate)."""
        return MeanStatistic(self.n, self.pre_sum, self.pre_sum_squares)

    @property
    def covariance(self) -> float:
        """Sample covariance of post and pre."""
        return sample_covariance(self.n, self.post_sum, self.pre_sum, self.post_pre_sum_product)

    @property
    def mean(self) -> float:
        """Unadjusted post mean."""
        return self.post.mean

    @property
    def variance(self) -> float:
        """Unadjusted post variance (see :meth:`adjusted_variance`)."""
        return self.post.variance

    def adjusted_mean(self, theta: float) -> float:
        """CUPED mean: post mean - theta * pre mean."""
        return self.post.mean - theta * self.pre.mean

    def adjusted_variance(self, theta: float) -> float:
        """Variance of post - theta * pre: s_y^2 + theta^2 s_x^2 - 2 theta cov."""
        if self.n <= 1:
            return 0.0
        value = self.post.variance + theta**2 * self.pre.variance - 2.0 * theta * self.covariance
        return max(value, 0.0)

    @classmethod
    def from_values(cls, post: ArrayLike, pre: ArrayLike) -> RegressionAdjustedStatistic:
        """Summarise paired per-unit post and pre values."""
        y, x = _as_vector(post), _as_vector(pre)
        if y.size != x.size:
            raise ValueError("post and pre must have the same length")
        return cls(
            n=y.size,
            post_sum=float(y.sum()),
            post_sum_squares=float(np.dot(y, y)),
            pre_sum=float(x.sum()),
            pre_sum_squares=float(np.dot(x, x)),
            post_pre_sum_product=float(np.dot(y, x)),
        )


Statistic = MeanStatistic | ProportionStatistic | RatioStatistic | RegressionAdjustedStatistic
"""Any per-variation summary the tests accept."""
