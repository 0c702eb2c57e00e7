"""Regenerate the CausalImpact oracle data and golden output.

Run with an interpreter that has `bsts-causalimpact` (a Rust port of R's
CausalImpact/bsts Gibbs sampler, checked against R to +-1% by its authors),
installed in its OWN virtualenv, never in the project one:

    python3 -m venv /tmp/ci-venv
    /tmp/ci-venv/bin/pip install bsts-causalimpact==1.7.0
    /tmp/ci-venv/bin/python tests/oracle/causalimpact/make_golden.py

The dataset follows CausalImpact's documented example: x1 = 100 + an AR(1)
series with coefficient 0.999, y = 1.2 * x1 + N(0, 1) noise, 100 points,
and an effect of +10 from point 71 (index 70). It is generated with numpy
from a fixed seed and written to `data.csv`; the test reads the CSV, so the
committed numbers never depend on a future numpy's random streams.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
N_POINTS = 100
POST_START = 70
EFFECT = 10.0
SEED = 20240601


def make_data() -> np.ndarray:
    """Return an (N_POINTS, 2) array: column 0 is y, column 1 is the control x1."""
    rng = np.random.default_rng(SEED)
    # arima.sim discards a burn-in so the AR(1) starts near its stationary path.
    burn_in = 100
    shocks = rng.normal(0.0, 1.0, N_POINTS + burn_in)
    ar = np.zeros(N_POINTS + burn_in)
    for t in range(1, N_POINTS + burn_in):
        ar[t] = 0.999 * ar[t - 1] + shocks[t]
    x1 = 100.0 + ar[burn_in:]
    y = 1.2 * x1 + rng.normal(0.0, 1.0, N_POINTS)
    y[POST_START:] += EFFECT
    return np.column_stack([y, x1])


def run_oracle(data: np.ndarray) -> dict:
    """Run CausalImpact with its defaults (local level, spike-and-slab regression)."""
    from causal_impact import CausalImpact

    impact = CausalImpact(
        data,
        pre_period=[0, POST_START - 1],
        post_period=[POST_START, N_POINTS - 1],
        model_args={"niter": 5000, "nwarmup": 1000, "seed": 1},
    )
    results = impact._results  # the summary table's numbers; no public accessor for all of them
    stats = {
        **impact.summary_stats,
        "average_effect_sd": results.average_effect_sd,
        "relative_effect_lower": results.relative_effect_lower,
        "relative_effect_upper": results.relative_effect_upper,
        "cumulative_effect_lower": float(results.cumulative_effect_lower[-1]),
        "cumulative_effect_upper": float(results.cumulative_effect_upper[-1]),
        "average_prediction_lower": results.average_prediction_lower,
        "average_prediction_upper": results.average_prediction_upper,
    }
    return {
        "oracle": f"bsts-causalimpact {version('bsts-causalimpact')}",
        "model": "local level + regression on x1 (CausalImpact defaults), niter=5000, seed=1",
        "post_start": POST_START,
        "planted_average_effect": EFFECT,
        "summary_stats": {k: _plain(v) for k, v in stats.items()},
    }


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def main() -> None:
    data = make_data()
    np.savetxt(HERE / "data.csv", data, delimiter=",", header="y,x1", comments="", fmt="%.10f")
    golden = run_oracle(data)
    (HERE / "golden.json").write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
    json.dump(golden["summary_stats"], sys.stdout, indent=2)


if __name__ == "__main__":
    main()
