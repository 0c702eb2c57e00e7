"""Our counterfactual against CausalImpact (R's Gibbs sampler, via bsts-causalimpact).

`golden.json` holds the oracle's output on `data.csv` (CausalImpact's
documented example: y = 1.2 * x1 + noise with x1 an AR(0.999) series, 100
points, +10 from point 71); `make_golden.py` regenerates both. The oracle is
Bayesian (MCMC) and we fit by maximum likelihood, so the test is mutual
containment: each point estimate lies inside the other's 95% interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from impactlens.stats.counterfactual import estimate_counterfactual

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def oracle():
    golden = json.loads((HERE / "golden.json").read_text())
    data = np.loadtxt(HERE / "data.csv", delimiter=",", skiprows=1)
    return golden, data


def test_same_model_as_causalimpact_agrees_both_ways(oracle):
    golden, data = oracle
    stats = golden["summary_stats"]
    # CausalImpact's default model: local level + regression on x1, no season.
    ours = estimate_counterfactual(
        data[:, 0],
        golden["post_start"],
        controls=data[:, 1:],
        trend="local_level",
        season_length=None,
    )
    assert ours.error is None and ours.validity_problem is None
    # oracle: 9.790 [9.163, 10.413]; ours: 9.703 [9.110, 10.296]
    assert stats["ci_lower"] <= ours.average_effect <= stats["ci_upper"]
    assert ours.average_effect_lower <= stats["point_effect_mean"] <= ours.average_effect_upper
    # oracle relative: 7.71% [7.18%, 8.24%]
    assert stats["relative_effect_lower"] <= ours.relative <= stats["relative_effect_upper"]
    assert ours.relative_lower <= stats["relative_effect_mean"] <= ours.relative_upper
    # Widths agree to within a quarter (MCMC vs plug-in maximum likelihood).
    ratio = (ours.average_effect_upper - ours.average_effect_lower) / (
        stats["ci_upper"] - stats["ci_lower"]
    )
    assert 0.75 <= ratio <= 1.25


def test_default_model_contains_oracle_and_planted_effect(oracle):
    golden, data = oracle
    # Our default adds a local linear trend with slope uncertainty and a weekly pattern,
    # so its interval is wider than the oracle's: it must still hold both truths.
    ours = estimate_counterfactual(data[:, 0], golden["post_start"], controls=data[:, 1:])
    stats = golden["summary_stats"]
    assert ours.average_effect_lower <= stats["point_effect_mean"] <= ours.average_effect_upper
    assert (
        ours.average_effect_lower <= golden["planted_average_effect"] <= ours.average_effect_upper
    )
    assert ours.average_effect_lower > 0
