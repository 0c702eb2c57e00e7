"""CUPED: regression adjustment on a pre-exposure covariate (Deng et al. 2013).

Each unit's post-exposure metric y is replaced by y - theta * x, where x is the same
metric before exposure and theta = cov(y, x) / var(x) is estimated on both arms
pooled (as gbstats does). The difference of adjusted means is still unbiased, and
its variance shrinks by a factor of about 1 - rho^2, rho = corr(y, x).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pre = rng.normal(10, 2, size=(2, 500)); post = pre + rng.normal(0, 1, size=(2, 500))
    >>> c, t = (RegressionAdjustedStatistic.from_values(post[i], pre[i]) for i in (0, 1))
    >>> round(cuped_test(c, t).variance_reduction, 1)
    0.8
"""

from __future__ import annotations

from impactlens.stats.effects import compute_theta
from impactlens.stats.frequentist import t_test
from impactlens.stats.results import FrequentistResult
from impactlens.stats.sufficient import RegressionAdjustedStatistic

CUPED = "cuped_welch_t"

__all__ = ["CUPED", "compute_theta", "cuped_test"]


def cuped_test(
    control: RegressionAdjustedStatistic,
    treatment: RegressionAdjustedStatistic,
    *,
    alpha: float = 0.05,
    relative: bool = True,
) -> FrequentistResult:
    """Welch t-test on CUPED-adjusted means; reports theta and the variance reduction.

    ``variance_reduction`` is 1 - Var(adjusted effect) / Var(unadjusted effect), the
    share of the effect's variance the covariate removed.
    """
    if not isinstance(control, RegressionAdjustedStatistic):
        raise TypeError("cuped_test takes RegressionAdjustedStatistic arms")
    return t_test(control, treatment, alpha=alpha, relative=relative, method=CUPED)
