"""Power, minimum detectable effect and sample size for a test of relative lift.

Planning uses the same delta-method variance the fixed-horizon test uses, with both
arms sharing the baseline variance sigma^2 and the treatment mean mu (1 + delta):

    Var(lift) = sigma^2 / mu^2 * (1 / n_t + (1 + delta)^2 / n_c)

and a two-sided normal test at level alpha. Power counts both rejection tails; the
MDE and sample size solve power = target exactly (Brent's method), bracketed by the
usual closed forms that ignore the far tail.

Example:
    >>> round(mde_relative(10.0, 25.0, 5000), 4)
    0.0284
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, special

from impactlens.stats.results import ZERO_BASELINE, ZERO_VARIANCE

POWER_METHOD = "two_sample_relative_z"
ZERO_EFFECT = "zero_effect"


def _z(q: float) -> float:
    return float(special.ndtri(q))


def _check_levels(alpha: float, power: float | None = None) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if power is not None and not alpha / 2.0 < power < 1.0:
        raise ValueError(f"power must be in (alpha/2, 1), got {power!r}")


def relative_lift_se(
    relative_effect: float,
    baseline_mean: float,
    baseline_variance: float,
    n_control: float,
    n_treatment: float | None = None,
) -> float:
    """Standard error of the estimated relative lift when the true lift is ``relative_effect``."""
    n_t = n_control if n_treatment is None else n_treatment
    cv2 = baseline_variance / baseline_mean**2
    return math.sqrt(cv2 * (1.0 / n_t + (1.0 + relative_effect) ** 2 / n_control))


def power_relative(
    relative_effect: float,
    baseline_mean: float,
    baseline_variance: float,
    n_control: float,
    n_treatment: float | None = None,
    *,
    alpha: float = 0.05,
) -> float:
    """Probability that a two-sided level-alpha test detects a true lift of ``relative_effect``.

    Phi(|delta|/se - z_{1-alpha/2}) + Phi(-|delta|/se - z_{1-alpha/2}).
    """
    _check_levels(alpha)
    se = relative_lift_se(relative_effect, baseline_mean, baseline_variance, n_control, n_treatment)
    if se == 0:
        return 1.0 if relative_effect else alpha
    shift = abs(relative_effect) / se
    z = _z(1.0 - alpha / 2.0)
    return float(special.ndtr(shift - z) + special.ndtr(-shift - z))


def mde_relative(
    baseline_mean: float,
    baseline_variance: float,
    n_control: float,
    n_treatment: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest positive relative lift detected with probability ``power``.

    Returns NaN when the baseline mean is zero or an arm is empty, 0.0 when the
    variance is zero, and inf when no lift is detectable at these sizes (the lift's
    own variance grows with the lift, so small samples may never reach the power).
    """
    _check_levels(alpha, power)
    n_t = n_control if n_treatment is None else n_treatment
    if baseline_mean == 0 or n_control <= 0 or n_t <= 0:
        return math.nan
    if baseline_variance <= 0:
        return 0.0
    k2 = (_z(1.0 - alpha / 2.0) + _z(power)) ** 2 * baseline_variance / baseline_mean**2
    a, b = k2 / n_t, k2 / n_control
    if b >= 1.0:
        return math.inf
    # delta^2 = a + b (1 + delta)^2, the far tail ignored: power there is >= target.
    upper = (b + math.sqrt(b * b + (1.0 - b) * (a + b))) / (1.0 - b)

    def gap(delta: float) -> float:
        return (
            power_relative(delta, baseline_mean, baseline_variance, n_control, n_t, alpha=alpha)
            - power
        )

    if gap(upper) <= 0:
        return upper
    return float(optimize.brentq(gap, 0.0, upper, xtol=1e-12, rtol=1e-12))


@dataclass(frozen=True)
class SampleSizeResult:
    """Units per arm (and days at a daily traffic) needed to detect a relative lift."""

    method: str
    relative_effect: float
    alpha: float
    power: float
    arms: int
    n_per_arm: int | None
    n_total: int | None
    days: int | None
    error: str | None = None


def sample_size_relative(
    relative_effect: float,
    baseline_mean: float,
    baseline_variance: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    daily_units: float | None = None,
) -> SampleSizeResult:
    """Equal-allocation units per arm for ``power`` at ``relative_effect``, and days needed.

    n = (z_{1-alpha/2} + z_power)^2 sigma^2 (1 + (1 + delta)^2) / (mu^2 delta^2), refined to
    include the far tail and rounded up. ``daily_units`` is the number of new units
    entering the experiment per day across all ``arms``.
    """
    _check_levels(alpha, power)
    if arms < 2:
        raise ValueError("an experiment needs at least two arms")

    def result(n: int | None, error: str | None = None) -> SampleSizeResult:
        days = None
        if n is not None and daily_units:
            days = max(1, math.ceil(n * arms / daily_units))
        total = None if n is None else n * arms
        return SampleSizeResult(
            POWER_METHOD, relative_effect, alpha, power, arms, n, total, days, error
        )

    if baseline_mean == 0:
        return result(None, ZERO_BASELINE)
    if relative_effect == 0:
        return result(None, ZERO_EFFECT)
    if baseline_variance <= 0:
        return result(None, ZERO_VARIANCE)
    z2 = (_z(1.0 - alpha / 2.0) + _z(power)) ** 2
    cv2 = baseline_variance / baseline_mean**2
    closed = z2 * cv2 * (1.0 + (1.0 + relative_effect) ** 2) / relative_effect**2

    def gap(n: float) -> float:
        return (
            power_relative(relative_effect, baseline_mean, baseline_variance, n, alpha=alpha)
            - power
        )

    n = closed
    if closed > 1.0 and gap(1.0) < 0:
        n = float(optimize.brentq(gap, 1.0, closed, xtol=1e-9, rtol=1e-12))
    # Rounding guards against the root landing a hair above an integer through float noise.
    return result(max(2, math.ceil(round(n, 6))))
