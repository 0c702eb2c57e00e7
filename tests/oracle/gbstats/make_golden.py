"""Compute golden.json with GrowthBook's gbstats from the committed inputs.json.

gbstats 0.8.0 pins pandas 1.5 / numpy 1.26, so it runs in its own virtualenv, never
in the project's:

    python3.11 -m venv /tmp/gbstats-venv
    /tmp/gbstats-venv/bin/pip install gbstats==0.8.0
    /tmp/gbstats-venv/bin/python tests/oracle/gbstats/make_golden.py

tests/stats/test_gbstats_agreement.py compares impactlens.stats with the output.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
from pathlib import Path

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm

HERE = Path(__file__).parent


def statistic(kind: str, arm: dict):
    """A fresh gbstats statistic (gbstats mutates theta on CUPED statistics)."""
    n = arm["n"]
    if kind == "mean":
        return SampleMeanStatistic(n=n, sum=arm["sum"], sum_squares=arm["sum_squares"])
    if kind == "proportion":
        return ProportionStatistic(n=n, sum=arm["sum"])
    if kind == "ratio":
        return RatioStatistic(
            n=n,
            m_statistic=SampleMeanStatistic(
                n=n, sum=arm["m_sum"], sum_squares=arm["m_sum_squares"]
            ),
            d_statistic=SampleMeanStatistic(
                n=n, sum=arm["d_sum"], sum_squares=arm["d_sum_squares"]
            ),
            m_d_sum_of_products=arm["m_d_sum_product"],
        )
    return RegressionAdjustedStatistic(
        n=n,
        post_statistic=SampleMeanStatistic(
            n=n, sum=arm["post_sum"], sum_squares=arm["post_sum_squares"]
        ),
        pre_statistic=SampleMeanStatistic(
            n=n, sum=arm["pre_sum"], sum_squares=arm["pre_sum_squares"]
        ),
        post_pre_sum_of_products=arm["post_pre_sum_product"],
        theta=0,
    )


def number(x) -> float | None:
    """JSON has no NaN/inf; gbstats' inf interval ends become None."""
    x = float(x)
    return x if math.isfinite(x) else None


def frequentist(result) -> dict:
    return {
        "effect": number(result.expected),
        "ci": [number(v) for v in result.ci],
        "p_value": number(result.p_value),
        "standard_error": number(result.uplift.stddev),
        "error": result.error_message,
    }


def golden_case(case: dict) -> dict:
    kind, control, treatment = case["kind"], case["control"], case["treatment"]
    difference = "relative" if case["relative"] else "absolute"
    alpha = case["alpha"]

    def pair():
        return statistic(kind, control), statistic(kind, treatment)

    fixed = TwoSidedTTest(*pair(), FrequentistConfig(alpha=alpha, difference_type=difference))
    sequential = SequentialTwoSidedTTest(
        *pair(),
        SequentialConfig(
            alpha=alpha,
            difference_type=difference,
            sequential_tuning_parameter=case["tuning"],
        ),
    )
    prior = case["prior"]
    bayes = EffectBayesianABTest(
        *pair(),
        EffectBayesianConfig(
            alpha=alpha,
            difference_type=difference,
            inverse=case["inverse"],
            prior_type="relative",
            prior_effect=GaussianPrior(
                mean=prior["mean"], variance=prior["variance"], proper=prior["proper"]
            ),
        ),
    ).compute_result()
    return {
        "id": case["id"],
        "welch": frequentist(fixed.compute_result()),
        "sequential": frequentist(sequential.compute_result()),
        "bayesian": {
            "effect": number(bayes.expected),
            "posterior_sd": number(bayes.uplift.stddev),
            "ci": [number(v) for v in bayes.ci],
            "chance_to_win": number(bayes.chance_to_win),
            "risk": [number(v) for v in bayes.risk],
            "error": bayes.error_message,
        },
    }


def main() -> None:
    inputs = json.loads((HERE / "inputs.json").read_text())
    golden = {
        "generator": f"gbstats {importlib.metadata.version('gbstats')}",
        "tests": [golden_case(case) for case in inputs["tests"]],
        "srm": [
            {"p_value": float(check_srm(case["counts"], case["weights"]))} for case in inputs["srm"]
        ],
    }
    (HERE / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
