"""Did what we shipped help? The verdict on a release hypothesis, as a pure function.

Rules, in the order they are applied (s = +1 for `increase`, -1 for
`decrease`; r, [lo, hi] = s * relative effect and its interval, so "up" is
always the hoped-for direction):

1. `no_hypothesis`  no expected direction was stated before shipping.
2. `too_early`      fewer than `min_days` post-period days (default 7, one full week).
3. `harmful`        a guardrail's interval lies entirely on its bad side.
4. `inconclusive`   the primary has no estimate, or its method flags a validity
                    problem (pre-trends diverge, the pre-period does not predict itself).
5. `harmful`        hi < 0: the primary moved significantly the wrong way.
6. `met`            lo > 0 and r >= min_effect.
7. `not_met`        hi < min_effect: effects that count are ruled out.
8. `inconclusive`   otherwise, with the minimum detectable effect
                    MDE = (z_{1-alpha/2} + z_power) * SE and, when more days
                    help, days_needed = days * (MDE / min_effect)^2.

Example:
    >>> from impactlens.stats.impact_estimate import EffectEstimate
    >>> estimate = EffectEstimate(relative=0.098, lower=0.051, upper=0.146, method="did")
    >>> decide_verdict(estimate, expected="increase", min_effect=0.05, days_observed=14).verdict
    'met'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm

from impactlens.stats.impact_estimate import EffectEstimate

DIRECTIONS = {"increase": 1.0, "decrease": -1.0}


@dataclass(frozen=True)
class GuardrailEstimate:
    """A guardrail metric's estimate and the direction that counts as a regression."""

    name: str
    estimate: EffectEstimate
    bad_direction: str


@dataclass(frozen=True)
class ImpactVerdict:
    """The verdict with the numbers and the reason behind it."""

    verdict: str
    reason: str
    days_observed: int
    relative: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    expected: str | None = None
    min_effect: float | None = None
    harmed_guardrails: tuple[str, ...] = ()
    unchecked_guardrails: tuple[str, ...] = ()
    minimum_detectable_effect: float = float("nan")
    days_needed: int | None = None
    method: str | None = None


def decide_verdict(
    primary: EffectEstimate | None,
    *,
    expected: str | None,
    min_effect: float | None,
    days_observed: int,
    guardrails: Sequence[GuardrailEstimate] = (),
    min_days: int = 7,
    power: float = 0.8,
) -> ImpactVerdict:
    """Apply the rules in the module docstring to one release's estimates."""
    if expected is not None and expected not in DIRECTIONS:
        raise ValueError(f"expected must be one of {sorted(DIRECTIONS)}")
    base: dict[str, Any] = dict(
        days_observed=days_observed, expected=expected, min_effect=min_effect
    )
    if primary is not None:
        base.update(
            relative=primary.relative,
            lower=primary.lower,
            upper=primary.upper,
            method=primary.method,
        )
    if expected is None:
        return ImpactVerdict("no_hypothesis", "no expected direction was set", **base)
    if days_observed < min_days:
        reason = f"{days_observed} of the {min_days} days needed after shipping"
        return ImpactVerdict("too_early", reason, **base)

    harmed, unchecked = _check_guardrails(guardrails)
    base.update(harmed_guardrails=harmed, unchecked_guardrails=unchecked)
    if harmed:
        return ImpactVerdict("harmful", f"guardrail regressed: {', '.join(harmed)}", **base)
    if primary is None or primary.error is not None or not _finite(primary):
        error = "no estimate" if primary is None else primary.error or "no finite estimate"
        return ImpactVerdict("inconclusive", f"the estimate failed: {error}", **base)
    if primary.validity_problem:
        return ImpactVerdict("inconclusive", primary.validity_problem, **base)

    sign = DIRECTIONS[expected]
    effect = sign * primary.relative
    low, high = sorted((sign * primary.lower, sign * primary.upper))
    threshold = min_effect or 0.0
    if high < 0:
        return ImpactVerdict("harmful", f"the metric moved against the expected {expected}", **base)
    if low > 0 and effect >= threshold:
        return ImpactVerdict("met", f"{expected} of at least the minimum effect", **base)
    if high < threshold:
        return ImpactVerdict("not_met", "the interval rules out the minimum effect", **base)
    return _inconclusive(primary, threshold, days_observed, power, base)


def _inconclusive(
    primary: EffectEstimate, threshold: float, days: int, power: float, base: dict[str, Any]
) -> ImpactVerdict:
    z_sum = float(norm.ppf(1.0 - primary.alpha / 2.0) + norm.ppf(power))
    mde = z_sum * primary.relative_se
    days_needed = None
    if threshold > 0 and mde > threshold and primary.se_shrinks_with_days:
        # SE shrinks as 1 / sqrt(days), so MDE(days') = MDE * sqrt(days / days').
        days_needed = math.ceil(days * (mde / threshold) ** 2)
    if mde <= threshold:
        reason = (
            "the effect lies between zero and the minimum effect; more data would separate them"
        )
    elif days_needed is not None:
        reason = (
            f"the data can detect {mde:.1%}, not {threshold:.1%}: about {days_needed} days needed"
        )
    else:
        reason = f"the data can detect {mde:.1%}, not {threshold:.1%}; more days will not help"
    return ImpactVerdict(
        "inconclusive",
        reason,
        minimum_detectable_effect=mde,
        days_needed=days_needed,
        **base,
    )


def _check_guardrails(
    guardrails: Sequence[GuardrailEstimate],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    harmed, unchecked = [], []
    for guardrail in guardrails:
        estimate = guardrail.estimate
        if estimate.error or estimate.validity_problem or not _finite(estimate):
            unchecked.append(guardrail.name)
            continue
        sign = DIRECTIONS[guardrail.bad_direction]
        low = min(sign * estimate.lower, sign * estimate.upper)
        if low > 0:
            harmed.append(guardrail.name)
    return tuple(harmed), tuple(unchecked)


def _finite(estimate: EffectEstimate) -> bool:
    return all(math.isfinite(v) for v in (estimate.relative, estimate.lower, estimate.upper))


def plain_statement(
    metric_label: str, relative: float, lower: float, upper: float, alpha: float = 0.05
) -> str:
    """One sentence for a readout, e.g. 'raised search click-through by 9.8% (95% CI 5.1% to 14.6%)'.

    An interval that excludes zero is stated as a rise or a fall with the
    interval in the same (positive) terms; otherwise as no detectable change.
    """
    if not all(math.isfinite(v) for v in (relative, lower, upper)):
        return f"could not estimate the change in {metric_label}"
    level = f"{round(100 * (1 - alpha))}% CI"
    if lower > 0:
        return f"raised {metric_label} by {_pct(relative)} ({level} {_pct(lower)} to {_pct(upper)})"
    if upper < 0:
        return f"lowered {metric_label} by {_pct(-relative)} ({level} {_pct(-upper)} to {_pct(-lower)})"
    return (
        f"did not detectably change {metric_label} "
        f"({_pct(relative, signed=True)}, {level} {_pct(lower, signed=True)} to "
        f"{_pct(upper, signed=True)})"
    )


def _pct(value: float, signed: bool = False) -> str:
    return f"{100 * value:+.1f}%" if signed else f"{100 * value:.1f}%"
