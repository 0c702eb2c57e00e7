"""Power, minimum detectable effect and sample size for a test of relative lift.

Planning follows the fixed-horizon test as it is computed. Both arms share the
baseline variance sigma^2 (cv = sigma / mu) and the treatment mean is mu (1 + delta).
The test rejects when |xbar_t - xbar_c| / mu exceeds z_{1-alpha/2} times the standard
error it computes, the delta-method one,

    se(delta) = cv * sqrt(1 / n_t + (1 + delta)^2 / n_c),

while the difference itself has sd_D = cv * sqrt(1 / n_t + 1 / n_c). So

    power = Phi((|delta| - z se) / sd_D) + Phi((-|delta| - z se) / sd_D).

(GrowthBook's calculator uses se in both places, which under-states power for large
lifts; the simulation test in tests/stats pins ours.) The MDE and sample size solve
power = target with Brent's method, both rejection tails counted.

Example:
    >>> round(mde_relative(10.0, 25.0, 5000), 4)
    0.0283
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, special

from impactlens.stats.results import ZERO_BASELINE, ZERO_VARIANCE

POWER_METHOD = "two_sample_relative_welch"
ZERO_EFFECT = "zero_effect"


def _z(q: float) -> float:
    return float(special.ndtri(q))


def _check_levels(alpha: float, power: float | None = None) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if power is not None and not alpha < power < 1.0:
        raise ValueError(f"power must be in (alpha, 1), got {power!r}")


def relative_lift_se(
    relative_effect: float,
    baseline_mean: float,
    baseline_variance: float,
    n_control: float,
    n_treatment: float | None = None,
) -> float:
    """Delta-method standard error of the relative lift when the true lift is ``relative_effect``."""
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
    """Probability that the two-sided level-alpha test detects a true lift of ``relative_effect``.

    Phi((|delta| - z se) / sd_D) + Phi((-|delta| - z se) / sd_D); see the module docstring.
    """
    _check_levels(alpha)
    n_t = n_control if n_treatment is None else n_treatment
    se = relative_lift_se(relative_effect, baseline_mean, baseline_variance, n_control, n_t)
    if se == 0:
        return 1.0 if relative_effect else alpha
    sd_difference = math.sqrt(baseline_variance / baseline_mean**2 * (1.0 / n_t + 1.0 / n_control))
    threshold = _z(1.0 - alpha / 2.0) * se
    shift = abs(relative_effect)
    return float(
        special.ndtr((shift - threshold) / sd_difference)
        + special.ndtr((-shift - threshold) / sd_difference)
    )


def mde_relative(
    baseline_mean: float,
    baseline_variance: float,
    n_control: float,
    n_treatment: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Smallest positive relative lift the test detects with probability ``power``.

    Returns NaN when the baseline mean is zero or an arm is empty, 0.0 when the
    variance is zero, and inf when no lift is detectable at these sizes (the test's
    standard error grows with the lift, so tiny samples may never reach the power).
    """
    _check_levels(alpha, power)
    n_t = n_control if n_treatment is None else n_treatment
    if baseline_mean == 0 or n_control <= 0 or n_t <= 0:
        return math.nan
    if baseline_variance <= 0:
        return 0.0

    def gap(delta: float) -> float:
        return (
            power_relative(delta, baseline_mean, baseline_variance, n_control, n_t, alpha=alpha)
            - power
        )

    # Start from the textbook size of the effect, then widen until the power is reached.
    upper = (_z(1.0 - alpha / 2.0) + _z(power)) * relative_lift_se(
        0.0, baseline_mean, baseline_variance, n_control, n_t
    )
    for _ in range(80):
        if gap(upper) >= 0:
            return float(optimize.brentq(gap, 0.0, upper, xtol=1e-14, rtol=1e-12))
        upper *= 2.0
    return math.inf


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

    Starts from n = cv^2 (z_{1-alpha/2} sqrt(1 + (1 + delta)^2) + z_power sqrt(2))^2 / delta^2
    (far tail ignored), solves power(n) = target exactly and rounds up. ``daily_units`` is the number of new units
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
    cv = math.sqrt(baseline_variance) / abs(baseline_mean)
    # Far tail ignored: |delta| sqrt(n) = cv (z_a sqrt(1 + (1 + delta)^2) + z_b sqrt(2)).
    root = _z(1.0 - alpha / 2.0) * math.sqrt(1.0 + (1.0 + relative_effect) ** 2)
    closed = (cv * (root + _z(power) * math.sqrt(2.0)) / relative_effect) ** 2

    def gap(n: float) -> float:
        return (
            power_relative(relative_effect, baseline_mean, baseline_variance, n, alpha=alpha)
            - power
        )

    if gap(2.0) >= 0:
        return result(2)
    upper = max(closed, 2.0)
    while gap(upper) < 0:
        upper *= 2.0
    n = float(optimize.brentq(gap, 2.0, upper, xtol=1e-9, rtol=1e-12))
    # Rounding guards against the root landing a hair above an integer through float noise.
    return result(math.ceil(round(n, 6)))
