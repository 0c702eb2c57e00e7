"""Ratio-of-sums statistics for checking planted effects against the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ratio_of_sums(num: pd.Series, den: pd.Series) -> tuple[float, float]:
    """Sum(num)/sum(den) over units, with its delta-method (unit-clustered) variance."""
    ratio = num.sum() / den.sum()
    n = len(den)
    var = ((num - ratio * den) ** 2).sum() / den.sum() ** 2 * n / (n - 1)
    return float(ratio), float(var)


def relative_change(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """b/a - 1 and its standard error (independent groups; conservative for paired ones)."""
    (ra, va), (rb, vb) = a, b
    return rb / ra - 1, (rb / ra) * float(np.sqrt(va / ra**2 + vb / rb**2))
