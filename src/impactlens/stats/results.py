"""Result values of the two-sample experiment tests.

Each result carries every figure a readout shows and the name of the method that
produced it. Degenerate data (an empty arm, zero variance, a zero baseline) gives a
result whose ``error`` is a short code and whose undefined figures are NaN; the
tests never raise on data, only on programming errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Error codes, shared by every test so a readout can explain them in one place.
EMPTY_ARM = "empty_arm"
ZERO_VARIANCE = "zero_variance"
ZERO_BASELINE = "zero_baseline"
ZERO_DENOMINATOR = "zero_denominator"


@dataclass(frozen=True)
class FrequentistResult:
    """A fixed-horizon or sequential test of treatment against control.

    ``effect`` is the estimate that ``ci_lower``/``ci_upper`` and ``p_value`` refer to:
    the relative lift (treatment - control) / control when ``relative`` is true, else
    the absolute difference. Means are the unadjusted arm means; variances are the
    per-unit variances the test used (CUPED-adjusted, or delta-method for ratios).
    """

    method: str
    relative: bool
    alpha: float
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    variance_control: float
    variance_treatment: float
    absolute_effect: float
    relative_effect: float
    effect: float
    standard_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    dof: float | None = None
    theta: float | None = None
    variance_reduction: float | None = None
    tuning: float | None = None
    error: str | None = None

    @property
    def significant(self) -> bool:
        """True when the test rejects "no effect" at level alpha."""
        return self.error is None and self.p_value < self.alpha


@dataclass(frozen=True)
class GaussianPrior:
    """Normal prior on the relative effect; ``proper=False`` means flat (no prior)."""

    mean: float = 0.0
    variance: float = 0.3**2
    proper: bool = False

    def __post_init__(self) -> None:
        if self.proper and not self.variance > 0:
            raise ValueError("a proper prior needs a positive variance")


@dataclass(frozen=True)
class BayesianResult:
    """Posterior of the effect of treatment against control.

    ``effect`` and ``posterior_sd`` describe the normal posterior of the relative (or
    absolute) effect; ``chance_to_win`` is P(treatment better); ``risk_control`` and
    ``risk_treatment`` are the expected loss of shipping each arm, in effect units.
    """

    method: str
    relative: bool
    alpha: float
    inverse: bool
    prior: GaussianPrior
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    variance_control: float
    variance_treatment: float
    absolute_effect: float
    relative_effect: float
    effect: float
    posterior_sd: float
    ci_lower: float
    ci_upper: float
    chance_to_win: float
    risk_control: float
    risk_treatment: float
    theta: float | None = None
    variance_reduction: float | None = None
    error: str | None = None


NAN = math.nan
