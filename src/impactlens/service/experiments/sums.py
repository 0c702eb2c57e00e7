"""Per-arm sums the warehouse returns, and the statistics built from them.

One aggregation serves every test: for each unit the metric's numerator ``m``,
its denominator ``d`` (1 for a per-unit mean) and the pre-exposure covariate
``x``; summed per variation and exposure day into the columns that
:mod:`impactlens.stats.sufficient` names. Days pool with ``+`` into the arm's
totals, or cumulatively into the readout's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import ibis
import ibis.expr.types as ir

from impactlens.stats.sufficient import (
    RATIO_COLUMNS,
    REGRESSION_COLUMNS,
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    Statistic,
)

N, M_SUM, M_SUM_SQUARES, D_SUM, D_SUM_SQUARES, M_D_SUM_PRODUCT = RATIO_COLUMNS
_, _POST, _POST_SQ, PRE_SUM, PRE_SUM_SQUARES, POST_PRE_SUM_PRODUCT = REGRESSION_COLUMNS
D_KNOWN = "d_known"  # units whose denominator the metric defines (0: a plain per-unit value)
D_PRE_SUM_PRODUCT = "d_pre_sum_product"  # sum of d * x: CUPED for ratio metrics

# Kinds whose per-unit value is 0 or 1 once the denominator is 1 for everyone.
BINARY_KINDS = frozenset({"unique", "conversion", "retention", "adoption"})

MEAN, PROPORTION, RATIO = "mean", "proportion", "ratio"


def sums_aggregation(m: ir.NumericValue, d: ir.NumericValue, x: ir.NumericValue | None) -> dict:
    """Ibis aggregates of one unit-level table: n, sums of m, d, x, their squares and products."""
    m, d = m.cast("float64"), d.cast("float64")
    aggs = {
        N: m.count(),
        M_SUM: m.sum(),
        M_SUM_SQUARES: (m * m).sum(),
        D_SUM: d.sum(),
        D_SUM_SQUARES: (d * d).sum(),
        M_D_SUM_PRODUCT: (m * d).sum(),
    }
    if x is not None:
        x = x.cast("float64")
        aggs |= {
            PRE_SUM: x.sum(),
            PRE_SUM_SQUARES: (x * x).sum(),
            POST_PRE_SUM_PRODUCT: (m * x).sum(),
            D_PRE_SUM_PRODUCT: (d * x).sum(),
        }
    else:
        zero = ibis.literal(0.0, "float64")
        aggs |= {
            c: zero for c in (PRE_SUM, PRE_SUM_SQUARES, POST_PRE_SUM_PRODUCT, D_PRE_SUM_PRODUCT)
        }
    return aggs


@dataclass(frozen=True)
class UnitSums:
    """Sums over the units of one arm (and day): the only numbers the tests read."""

    n: int = 0
    m_sum: float = 0.0
    m_sum_squares: float = 0.0
    d_sum: float = 0.0
    d_sum_squares: float = 0.0
    m_d_sum_product: float = 0.0
    pre_sum: float = 0.0
    pre_sum_squares: float = 0.0
    post_pre_sum_product: float = 0.0
    d_pre_sum_product: float = 0.0
    d_known: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        """From a warehouse row; NULL sums (no units) read as 0, Decimals as floats."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = row.get(f.name)
            values[f.name] = (int if f.type == "int" else float)(raw or 0)
        return cls(**values)

    def __add__(self, other: UnitSums) -> UnitSums:
        return UnitSums(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def unit_denominator(self) -> bool:
        """Every unit's denominator is 1 (or undefined): the metric is a per-unit mean."""
        return self.d_known == 0 or (self.d_sum == self.n and self.d_sum_squares == self.n)

    @property
    def has_covariate(self) -> bool:
        return self.pre_sum_squares > 0

    @property
    def value(self) -> float:
        """The arm's metric: sum(m) / sum(d), the ratio of sums (a mean when d is 1)."""
        if self.unit_denominator:
            return self.m_sum / self.n if self.n else float("nan")
        return self.m_sum / self.d_sum if self.d_sum else float("nan")


def statistic_kind(pooled: UnitSums, metric_kind: str, *, cluster: bool) -> str:
    """Which statistic the arms are tested as, decided once on both arms pooled.

    Accounts as units (cluster) are always a ratio: account total / exposed users.
    A per-unit denominator other than 1 is a ratio metric (delta method). Otherwise
    a mean, or a proportion for a 0/1 metric (for non-negative integers,
    sum == sum of squares means every value is 0 or 1).
    """
    if cluster or not pooled.unit_denominator:
        return RATIO
    if metric_kind in BINARY_KINDS and pooled.m_sum == pooled.m_sum_squares:
        return PROPORTION
    return MEAN


def linearised_ratio(sums: UnitSums) -> RegressionAdjustedStatistic:
    """A ratio arm as delta-method pseudo-values, so CUPED applies to ratio metrics.

    Unit i's pseudo-value is ``l_i = R + (m_i - R d_i) / mean(d)`` with ``R = Σm / Σd``:
    its mean is R and its sample variance is exactly the delta-method variance of
    :class:`~impactlens.stats.sufficient.RatioStatistic`, so a t-test on the l_i is
    the ratio test. The covariate is linearised the same way around
    ``Q = Σx / Σd`` (x: the unit's pre-exposure numerator). CUPED on (l, p) is the
    linearisation approach of Deng, Knoblich & Lu (2018, "Applying the delta
    method in metric analytics"). Every sum below follows from the warehouse's
    sums by expanding the squares; no unit-level value is needed.
    """
    n, d = sums.n, sums.d_sum
    r, q, k = sums.m_sum / d, sums.pre_sum / d, (n / d) ** 2
    s_ee = sums.m_sum_squares - 2 * r * sums.m_d_sum_product + r * r * sums.d_sum_squares
    s_bb = sums.pre_sum_squares - 2 * q * sums.d_pre_sum_product + q * q * sums.d_sum_squares
    s_eb = (
        sums.post_pre_sum_product
        - q * sums.m_d_sum_product
        - r * sums.d_pre_sum_product
        + r * q * sums.d_sum_squares
    )
    return RegressionAdjustedStatistic(
        n, n * r, n * r * r + k * s_ee, n * q, n * q * q + k * s_bb, n * r * q + k * s_eb
    )


def build_statistic(sums: UnitSums, kind: str, *, cuped: bool) -> Statistic:
    """The stats-layer statistic of one arm; with ``cuped``, its regression-adjusted form.

    ``cuped`` needs units and, for a ratio, a non-zero denominator in the arm.
    """
    if kind == RATIO and cuped:
        return linearised_ratio(sums)
    if kind == RATIO:
        return RatioStatistic(
            sums.n,
            sums.m_sum,
            sums.m_sum_squares,
            sums.d_sum,
            sums.d_sum_squares,
            sums.m_d_sum_product,
        )
    if cuped:
        return RegressionAdjustedStatistic(
            sums.n,
            sums.m_sum,
            sums.m_sum_squares,
            sums.pre_sum,
            sums.pre_sum_squares,
            sums.post_pre_sum_product,
        )
    if kind == PROPORTION:
        return ProportionStatistic(sums.n, sums.m_sum)
    return MeanStatistic(sums.n, sums.m_sum, sums.m_sum_squares)


def pool(rows: list[UnitSums]) -> UnitSums:
    total = UnitSums()
    for row in rows:
        total = total + row
    return total
