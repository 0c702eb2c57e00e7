"""Verdict rules on hand-made estimates: each rule, its precedence and its numbers."""

from __future__ import annotations

import pytest

from impactlens.stats.impact_estimate import EffectEstimate
from impactlens.stats.impact_verdict import GuardrailEstimate, decide_verdict, plain_statement


def _estimate(relative, lower, upper, **kwargs) -> EffectEstimate:
    return EffectEstimate(relative=relative, lower=lower, upper=upper, method="test", **kwargs)


def _decide(estimate, expected="increase", min_effect=0.05, days=28, **kwargs):
    return decide_verdict(
        estimate, expected=expected, min_effect=min_effect, days_observed=days, **kwargs
    )


@pytest.mark.parametrize(
    ("relative", "lower", "upper", "expected", "verdict"),
    [
        (0.098, 0.051, 0.146, "increase", "met"),
        (0.06, 0.005, 0.115, "increase", "met"),  # point >= min, interval above zero
        (0.02, 0.01, 0.03, "increase", "not_met"),  # helped, but rules out +5%
        (0.01, -0.02, 0.04, "increase", "not_met"),  # rules out +5% though not 0
        (-0.04, -0.07, -0.01, "increase", "harmful"),  # wrong way, significantly
        (0.04, -0.02, 0.10, "increase", "inconclusive"),
        (0.04, 0.01, 0.07, "increase", "inconclusive"),  # positive, cannot tell vs 5%
        (-0.08, -0.12, -0.06, "decrease", "met"),  # a decrease hoped for and got
        (0.03, 0.01, 0.05, "decrease", "harmful"),
        (-0.01, -0.03, 0.01, "decrease", "not_met"),
    ],
)
def test_rules(relative, lower, upper, expected, verdict):
    assert _decide(_estimate(relative, lower, upper), expected=expected).verdict == verdict


def test_no_hypothesis_and_too_early_come_first():
    harmful = GuardrailEstimate("error_rate", _estimate(0.5, 0.3, 0.7), "increase")
    estimate = _estimate(0.1, 0.06, 0.14)
    assert _decide(estimate, expected=None).verdict == "no_hypothesis"
    early = _decide(estimate, days=6, guardrails=[harmful])
    assert early.verdict == "too_early"
    assert early.reason == "6 of the 7 days needed after shipping"
    assert _decide(estimate, days=7).verdict == "met"


def test_guardrail_regression_is_harmful_even_when_primary_met():
    latency = GuardrailEstimate("p95_latency", _estimate(0.2, 0.1, 0.3), "increase")
    fine = GuardrailEstimate("error_rate", _estimate(0.2, -0.1, 0.5), "increase")
    verdict = _decide(_estimate(0.1, 0.06, 0.14), guardrails=[latency, fine])
    assert verdict.verdict == "harmful"
    assert verdict.harmed_guardrails == ("p95_latency",)


def test_guardrail_without_valid_estimate_is_listed_unchecked():
    broken = GuardrailEstimate(
        "nps", _estimate(float("nan"), 0, 0, error="zero_variance"), "decrease"
    )
    verdict = _decide(_estimate(0.1, 0.06, 0.14), guardrails=[broken])
    assert verdict.verdict == "met"
    assert verdict.unchecked_guardrails == ("nps",)


def test_validity_problem_blocks_the_verdict():
    estimate = _estimate(0.3, 0.2, 0.4, validity_problem="pre-period does not predict itself")
    verdict = _decide(estimate)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason == "pre-period does not predict itself"


def test_failed_estimate_is_inconclusive():
    verdict = _decide(_estimate(float("nan"), float("nan"), float("nan"), error="too_few_actors"))
    assert (verdict.verdict, verdict.reason) == (
        "inconclusive",
        "the estimate failed: too_few_actors",
    )


def test_inconclusive_reports_mde_and_days_needed():
    # Interval +-4% around +2% at 95%: SE = 0.04 / 1.95996 = 0.020409;
    # MDE = (1.95996 + 0.84162) * SE = 0.057178; days = ceil(14 * (0.057178 / 0.05)^2) = 19.
    verdict = _decide(_estimate(0.02, -0.02, 0.06), days=14)
    assert verdict.verdict == "inconclusive"
    assert verdict.minimum_detectable_effect == pytest.approx(0.057178, rel=1e-4)
    assert verdict.days_needed == 19


def test_inconclusive_forecast_does_not_promise_more_days():
    verdict = _decide(_estimate(0.02, -0.02, 0.06, se_shrinks_with_days=False), days=14)
    assert verdict.days_needed is None
    assert "more days will not help" in verdict.reason


def test_unknown_direction_is_a_caller_bug():
    with pytest.raises(ValueError, match="expected must be one of"):
        _decide(_estimate(0.1, 0.0, 0.2), expected="up")


@pytest.mark.parametrize(
    ("relative", "lower", "upper", "text"),
    [
        (0.098, 0.051, 0.146, "raised search click-through by 9.8% (95% CI 5.1% to 14.6%)"),
        (-0.032, -0.054, -0.010, "lowered search click-through by 3.2% (95% CI 1.0% to 5.4%)"),
        (
            0.012,
            -0.020,
            0.044,
            "did not detectably change search click-through (+1.2%, 95% CI -2.0% to +4.4%)",
        ),
        (float("nan"), 0.0, 0.1, "could not estimate the change in search click-through"),
    ],
)
def test_plain_statement(relative, lower, upper, text):
    assert plain_statement("search click-through", relative, lower, upper) == text
