"""The recommendation: ship, iterate or abandon, and every reason, in plain words.

Rules, in order (docs/experiments.md):

1. A sample-ratio mismatch makes every effect untrustworthy: iterate (fix and rerun).
2. A primary significant in the good direction ships, unless a guardrail regressed.
3. A primary significant in the wrong direction in every arm: abandon.
4. Otherwise the result is inconclusive, and the readout says so with the smallest
   lift the sample could detect and the days more it would take to detect the
   observed one; a running experiment with a reachable horizon keeps running.
"""

from __future__ import annotations

import math

from impactlens.service.experiments.exposure import AnalysisWindow, ExposureSummary
from impactlens.service.experiments.results import Comparison, MetricReadout, Recommendation
from impactlens.stats.power import sample_size_relative
from impactlens.stats.srm import SrmResult

POWER = 0.8
ERRORS = {
    "empty_arm": "an arm has no units",
    "zero_denominator": "an arm's denominator sums to 0",
    "zero_baseline": "the control's mean is 0",
    "zero_variance": "an arm has no variation at all (every unit has the same value)",
}


def percent(x: float | None, signed: bool = True) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "unreachable"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def describe_effect(c: Comparison, alpha: float) -> str:
    """'+15.2% (95% CI +8.1% to +22.3%)', or the absolute difference when no lift exists."""
    if c.error:
        return f"not testable: {ERRORS.get(c.error, c.error)}"
    level = f"{1 - alpha:.0%}"
    interval = "credible interval" if c.chance_to_win is not None else "CI"
    if c.relative:
        text = f"{percent(c.effect)} ({level} {interval} {percent(c.ci_lower)} to {percent(c.ci_upper)})"
    else:
        text = (
            f"{c.effect:+.4g} absolute ({level} {interval} {c.ci_lower:+.4g} to {c.ci_upper:+.4g})"
        )
    if c.chance_to_win is not None:
        return f"{text}, chance to beat {c.control} {c.chance_to_win:.0%}"
    p = c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value
    return f"{text}, p = {p:.3g}" if p is not None else text


def days_needed(
    c: Comparison, higher_is_better: bool, window: AnalysisWindow, exposure: ExposureSummary,
    alpha: float,
) -> int | None:  # fmt: skip
    """More days at the current traffic for 80% power at the observed lift (None: not meaningful)."""
    good = c.absolute_effect > 0 if higher_is_better else c.absolute_effect < 0
    if c.error or not c.relative or not good or not c.effect or window.days <= 0:
        return None
    size = sample_size_relative(
        abs(c.effect),
        c.value_control,
        c.variance_control,
        alpha=alpha,
        power=POWER,
        arms=len(exposure.variations),
        daily_units=exposure.total_units / window.days,
    )
    if size.days is None:
        return None
    return max(0, size.days - math.ceil(window.days))


def recommend(
    metrics: list[MetricReadout],
    srm: SrmResult,
    window: AnalysisWindow,
    exposure: ExposureSummary,
    *,
    alpha: float,
) -> Recommendation:
    """Apply the rules in the module docstring."""
    blockers: list[str] = []
    if srm.mismatch:
        expected = ", ".join(f"{e:.0f}" for e in srm.expected)
        blockers.append(
            f"Sample-ratio mismatch: {', '.join(map(str, srm.counts))} units per arm where the "
            f"intended split expects {expected} (chi-square p = {srm.p_value:.2g} < "
            f"{srm.threshold}). Assignment or exposure logging is broken, so no effect "
            "measured here can be trusted."
        )
    for g in (m for m in metrics if m.role == "guardrail"):
        for c in g.comparisons:
            if c.outcome == "worse":
                blockers.append(
                    f"Guardrail {g.label} regressed in {c.variation}: {describe_effect(c, alpha)}."
                )
    primary = next((m for m in metrics if m.role == "primary"), None)
    if primary is None or primary.skipped or not primary.comparisons:
        why = primary.skipped if primary is not None and primary.skipped else "none is declared"
        return Recommendation(
            "iterate", "no_data", "No primary metric decides this experiment",
            (f"The primary metric cannot be read: {why}.", *blockers), tuple(blockers),
        )  # fmt: skip
    comps = primary.comparisons
    readings = tuple(
        f"{primary.label}, {c.variation} vs {c.control}: {describe_effect(c, alpha)}."
        for c in comps
    )
    sign = 1 if primary.higher_is_better else -1
    winners = [c for c in comps if c.outcome == "better"]
    losers = [c for c in comps if c.outcome == "worse"]
    if srm.mismatch:
        return Recommendation(
            "iterate", "untrustworthy",
            "Do not act on these numbers: the arms' sizes do not match the intended split",
            (*blockers, *readings, "Find why the arms differ (assignment, exposure logging, "
             "bots, a redirect that loses users), fix it and rerun the experiment."),
            tuple(blockers),
        )  # fmt: skip
    if all(c.error for c in comps):
        return Recommendation(
            "iterate", "no_data", f"{primary.label} could not be tested",
            (*readings, *blockers), tuple(blockers),
        )  # fmt: skip
    if winners:
        best = max(winners, key=lambda c: sign * c.effect)
        if blockers:
            return Recommendation(
                "iterate", "guardrail_regressed",
                f"{primary.label} improved with {best.variation}, but a guardrail regressed: "
                "do not ship as is",
                (*readings, *blockers, "Find and fix the regression, then rerun or ship a fixed version."),
                tuple(blockers),
            )  # fmt: skip
        return Recommendation(
            "ship", "win",
            f"Ship {best.variation}: {primary.label} {describe_effect(best, alpha)}",
            (*readings, "No guardrail regressed and the arms match the intended split."),
        )  # fmt: skip
    if len(losers) == len(comps):
        return Recommendation(
            "abandon", "loss",
            f"Abandon: {primary.label} got worse with {', '.join(c.variation for c in losers)}",
            (*readings, *blockers), tuple(blockers),
        )  # fmt: skip
    return _inconclusive(primary, comps, readings, blockers, window, exposure, alpha)


def _inconclusive(primary, comps, readings, blockers, window, exposure, alpha) -> Recommendation:
    best = max((c for c in comps if not c.error), key=lambda c: c.n_treatment)
    reasons = [*readings]
    mde = best.mde
    if mde is not None:
        reasons.append(
            f"Inconclusive: the data cannot tell. With {best.n_control:,} and "
            f"{best.n_treatment:,} units the smallest lift this test detects with "
            f"{POWER:.0%} power is {percent(mde, signed=False)}."
        )
    more = days_needed(best, primary.higher_is_better, window, exposure, alpha)
    keep_running = False
    if more is None:
        reasons.append(
            "The observed effect is zero or points the wrong way: more data is unlikely to "
            "turn it into a win. Consider abandoning or a bolder variant."
        )
    else:
        keep_running = not window.ended and more <= max(14, math.ceil(window.days))
        run = "Keep it running" if keep_running else "At the current traffic it would need"
        reasons.append(
            f"{run} about {more} more days to detect the observed lift of "
            f"{percent(best.effect)} with {POWER:.0%} power."
            + ("" if keep_running else " Rerun with more traffic or a bolder change, or abandon.")
        )
    reasons += blockers
    return Recommendation(
        "iterate", "inconclusive",
        f"Inconclusive: the data cannot tell whether {best.variation} changes {primary.label}",
        tuple(reasons), tuple(blockers), keep_running,
        None if mde is None or math.isinf(mde) else mde, more,
    )  # fmt: skip
