"""Sequential testing: always-valid confidence intervals you may look at every day.

Implements the asymptotic confidence sequences of Waudby-Smith et al. (2023,
arXiv:2103.06476, eq. 9 and 155) as gbstats' ``SequentialTwoSidedTTest`` does: a
normal-mixture boundary whose width depends on the total sample size N and a
tuning parameter (the N at which the interval is tightest relative to a fixed-horizon
one). Peeking after every batch keeps the false-positive rate at or below alpha.

Example:
    >>> from impactlens.stats.sufficient import MeanStatistic
    >>> c = MeanStatistic(5000, 50000.0, 520000.0); t = MeanStatistic(5000, 51000.0, 540000.0)
    >>> r = sequential_test(c, t)
    >>> r.ci_upper - r.ci_lower > 0, r.tuning
    (True, 5000.0)
"""

from __future__ import annotations

import math

from impactlens.stats.effects import (
    degenerate_error,
    describe,
    effect_estimate,
    effect_variance,
    prepare_pair,
    variance_reduction,
)
from impactlens.stats.frequentist import check_alpha, degenerate_result
from impactlens.stats.results import FrequentistResult
from impactlens.stats.sufficient import Statistic

SEQUENTIAL = "sequential_asymptotic_cs"


def mixture_rho(alpha: float, tuning: float) -> float:
    """Mixing scale rho that makes the boundary tightest at N = tuning (eq. 161)."""
    log_alpha = math.log(alpha)
    return math.sqrt((-2.0 * log_alpha + math.log(-2.0 * log_alpha + 1.0)) / tuning)


def sequential_half_width(
    effect_variance: float, n_total: int, *, alpha: float, tuning: float
) -> float:
    """Half-width of the always-valid interval for an effect with the given variance.

    With s^2 = Var(effect) * N: s * sqrt(2 (N rho^2 + 1) / (N rho)^2 * log(sqrt(N rho^2 + 1) / alpha)).
    """
    rho2 = mixture_rho(alpha, tuning) ** 2
    scale = n_total * rho2 + 1.0
    s2 = effect_variance * n_total
    return math.sqrt(s2 * 2.0 * scale * math.log(math.sqrt(scale) / alpha) / (n_total**2 * rho2))


def sequential_p_value(
    effect: float, effect_variance: float, n_total: int, *, alpha: float, tuning: float
) -> float:
    """Always-valid p-value min(1, 1/E), E = exp(rho^2 z^2 N' / (2 (N rho^2 + 1))) / sqrt(N rho^2 + 1).

    Computed in logs so a large effect underflows to 0 instead of overflowing.
    """
    rho2 = mixture_rho(alpha, tuning) ** 2
    scale = n_total * rho2 + 1.0
    st2 = effect**2 * n_total / effect_variance
    log_p = 0.5 * math.log(scale) - rho2 * st2 / (2.0 * scale)
    return math.exp(min(log_p, 0.0))


def sequential_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    relative: bool = True,
    tuning: float = 5000.0,
) -> FrequentistResult:
    """Two-sided sequential test with an always-valid interval and p-value.

    Accepts any statistic kind (means, proportions, ratios, CUPED). ``tuning`` is the
    total sample size (both arms) at which the interval is tightest; gbstats' default
    is 5000. Larger values give wider early intervals and narrower late ones.
    """
    check_alpha(alpha)
    if not tuning > 0:
        raise ValueError(f"tuning must be positive, got {tuning!r}")
    tuning = float(tuning)
    pair = prepare_pair(control, treatment)
    description = describe(pair)
    error = degenerate_error(pair, control, treatment, relative)
    reduction = None if error else variance_reduction(pair, relative)
    if error is not None:
        return degenerate_result(
            SEQUENTIAL, description, alpha=alpha, relative=relative, error=error, tuning=tuning
        )
    c, t = pair.control, pair.treatment
    n_total = c.n + t.n
    effect = effect_estimate(c, t, relative)
    variance = effect_variance(c, t, relative)
    half_width = sequential_half_width(variance, n_total, alpha=alpha, tuning=tuning)
    return FrequentistResult(
        method=SEQUENTIAL,
        relative=relative,
        alpha=alpha,
        effect=effect,
        standard_error=math.sqrt(variance),
        ci_lower=effect - half_width,
        ci_upper=effect + half_width,
        p_value=sequential_p_value(effect, variance, n_total, alpha=alpha, tuning=tuning),
        variance_reduction=reduction,
        tuning=tuning,
        **description,
    )
