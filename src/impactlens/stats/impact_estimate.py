"""The one shape every release-impact method hands to the verdict.

Difference-in-differences and the time-series counterfactual estimate
different things in different ways; the verdict only needs the relative
effect, its interval, and whether the method itself trusts the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class EffectEstimate:
    """A relative effect with its (1 - alpha) interval, as produced by a method.

    `relative` is (observed - counterfactual) / counterfactual, e.g. 0.098 for
    +9.8%. `se_shrinks_with_days` says whether more post-period days make the
    interval narrower (true for actor-level DiD; false for a forecast, whose
    error grows with the horizon). `validity_problem` is set when the method's
    own check failed (pre-trends diverge, the pre-period does not predict
    itself): the number is shown but no verdict is drawn from it.
    """

    relative: float
    lower: float
    upper: float
    method: str
    alpha: float = 0.05
    se_shrinks_with_days: bool = True
    error: str | None = None
    validity_problem: str | None = None

    @property
    def relative_se(self) -> float:
        """Standard error implied by the interval width (normal approximation)."""
        return (self.upper - self.lower) / (2.0 * float(norm.ppf(1.0 - self.alpha / 2.0)))
