"""impactlens.stats agrees with GrowthBook's gbstats 0.8.0 on the same summaries.

Every expected number comes from tests/oracle/gbstats/golden.json, which
tests/oracle/gbstats/make_golden.py computed with gbstats 0.8.0 (in its own venv)
from tests/oracle/gbstats/inputs.json. Tolerance: 1e-6 relative, with an absolute
floor of 1e-12 for figures that are zero up to rounding (p-values far in the tail,
where gbstats' 1 - cdf loses the digits our tail function keeps, and risks ~1e-20).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from impactlens.stats.bayesian import bayesian_test
from impactlens.stats.cuped import cuped_test
from impactlens.stats.frequentist import ratio_test, welch_test
from impactlens.stats.results import GaussianPrior
from impactlens.stats.sequential import sequential_test
from impactlens.stats.srm import srm_test
from impactlens.stats.sufficient import (
    MeanStatistic,
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
)

ORACLE = Path(__file__).parents[1] / "oracle" / "gbstats"
INPUTS = json.loads((ORACLE / "inputs.json").read_text())
GOLDEN = json.loads((ORACLE / "golden.json").read_text())
CASES = list(zip(INPUTS["tests"], GOLDEN["tests"], strict=True))
KINDS = {
    "mean": MeanStatistic,
    "proportion": ProportionStatistic,
    "ratio": RatioStatistic,
    "cuped": RegressionAdjustedStatistic,
}
FIXED = {"mean": welch_test, "proportion": welch_test, "ratio": ratio_test, "cuped": cuped_test}


def close(ours: float, theirs: float | None) -> bool:
    if theirs is None:  # gbstats wrote an infinite value
        return math.isinf(ours)
    return math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-12)


def arms(case: dict):
    kind = KINDS[case["kind"]]
    return kind.from_row(case["control"]), kind.from_row(case["treatment"])


def assert_frequentist(result, golden: dict) -> None:
    assert result.error is None, result.error
    assert close(result.effect, golden["effect"]), (result.effect, golden["effect"])
    assert close(result.standard_error, golden["standard_error"])
    assert close(result.ci_lower, golden["ci"][0]), (result.ci_lower, golden["ci"][0])
    assert close(result.ci_upper, golden["ci"][1]), (result.ci_upper, golden["ci"][1])
    assert close(result.p_value, golden["p_value"]), (result.p_value, golden["p_value"])


def test_oracle_is_gbstats_and_covers_many_cases():
    # The golden file must come from gbstats itself, and span kinds, alphas and scales.
    assert GOLDEN["generator"] == "gbstats 0.8.0"
    usable = [c for c, _ in CASES if "error" not in c]
    assert len(usable) >= 150
    assert {c["kind"] for c in usable} == set(KINDS)
    assert {c["alpha"] for c in usable} == {0.01, 0.05, 0.1, 0.2}
    assert {c["relative"] for c in usable} == {True, False}
    assert min(c["control"]["n"] for c in usable) == 2
    assert any(g["welch"]["effect"] < 0 for _, g in CASES if g["welch"]["error"] is None)


@pytest.mark.parametrize(("case", "golden"), CASES, ids=[c["id"] for c, _ in CASES])
def test_fixed_horizon_matches_gbstats_two_sided_ttest(case, golden):
    control, treatment = arms(case)
    result = FIXED[case["kind"]](control, treatment, alpha=case["alpha"], relative=case["relative"])
    if "error" in case:
        assert golden["welch"]["error"] is not None
        assert result.error == case["error"]
        assert math.isnan(result.p_value)
        return
    assert_frequentist(result, golden["welch"])


@pytest.mark.parametrize(("case", "golden"), CASES, ids=[c["id"] for c, _ in CASES])
def test_sequential_matches_gbstats_sequential_two_sided_ttest(case, golden):
    control, treatment = arms(case)
    result = sequential_test(
        control, treatment, alpha=case["alpha"], relative=case["relative"], tuning=case["tuning"]
    )
    if "error" in case:
        assert golden["sequential"]["error"] is not None
        assert result.error == case["error"]
        return
    assert_frequentist(result, golden["sequential"])


@pytest.mark.parametrize(("case", "golden"), CASES, ids=[c["id"] for c, _ in CASES])
def test_bayesian_matches_gbstats_effect_bayesian_ab_test(case, golden):
    control, treatment = arms(case)
    result = bayesian_test(
        control,
        treatment,
        prior=GaussianPrior(**case["prior"]),
        alpha=case["alpha"],
        relative=case["relative"],
        inverse=case["inverse"],
    )
    expected = golden["bayesian"]
    if "error" in case:
        assert expected["error"] is not None
        assert result.error == case["error"]
        assert math.isnan(result.chance_to_win)
        return
    assert result.error is None
    assert close(result.effect, expected["effect"])
    assert close(result.posterior_sd, expected["posterior_sd"])
    assert close(result.ci_lower, expected["ci"][0])
    assert close(result.ci_upper, expected["ci"][1])
    assert close(result.chance_to_win, expected["chance_to_win"])
    assert close(result.risk_control, expected["risk"][0]), (result.risk_control, expected)
    assert close(result.risk_treatment, expected["risk"][1]), (result.risk_treatment, expected)


@pytest.mark.parametrize(("case", "golden"), list(zip(INPUTS["srm"], GOLDEN["srm"], strict=True)))
def test_srm_matches_gbstats_check_srm(case, golden):
    result = srm_test(case["counts"], case["weights"])
    assert close(result.p_value, golden["p_value"])
