"""Write inputs.json: the per-variation summaries the gbstats oracle is run on.

Standard library only and seeded, so the committed inputs.json can be regenerated
byte for byte: ``python tests/oracle/gbstats/make_inputs.py``. Cases span small and
large samples, proportions from 0.1% to 90%, positive and negative effects, ratio
and CUPED statistics, several alphas, both effect scales, priors, and the degenerate
summaries (empty arm, zero variance, zero baseline) gbstats refuses to analyse.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
ALPHAS = (0.01, 0.05, 0.1, 0.2)
SIZES = (2, 3, 5, 12, 40, 150, 1_000, 20_000, 400_000)


def mean_moments(n: int, mean: float, sd: float) -> dict:
    """Sums a sample of size n with this mean and sample sd would have."""
    return {"n": n, "sum": n * mean, "sum_squares": (n - 1) * sd * sd + n * mean * mean}


def cross_moments(n: int, mean_x: float, mean_y: float, cov: float) -> float:
    return (n - 1) * cov + n * mean_x * mean_y


def ratio_arm(rng: random.Random, n: int, lift: float) -> dict:
    mu_d = rng.uniform(1.0, 8.0)
    mu_m = mu_d * rng.uniform(0.05, 3.0) * (1.0 + lift)
    sd_m, sd_d = mu_m * rng.uniform(0.3, 2.0), mu_d * rng.uniform(0.2, 1.0)
    corr = rng.uniform(-0.2, 0.9)
    m, d = mean_moments(n, mu_m, sd_m), mean_moments(n, mu_d, sd_d)
    return {
        "n": n,
        "m_sum": m["sum"],
        "m_sum_squares": m["sum_squares"],
        "d_sum": d["sum"],
        "d_sum_squares": d["sum_squares"],
        "m_d_sum_product": cross_moments(n, mu_m, mu_d, corr * sd_m * sd_d),
    }


def cuped_arm(n: int, mu_pre: float, sd: float, corr: float, lift: float) -> dict:
    mu_post = mu_pre * (1.0 + lift)
    post, pre = mean_moments(n, mu_post, sd), mean_moments(n, mu_pre, sd)
    return {
        "n": n,
        "post_sum": post["sum"],
        "post_sum_squares": post["sum_squares"],
        "pre_sum": pre["sum"],
        "pre_sum_squares": pre["sum_squares"],
        "post_pre_sum_product": cross_moments(n, mu_post, mu_pre, corr * sd * sd),
    }


def options(rng: random.Random) -> dict:
    proper = rng.random() < 0.5
    return {
        "alpha": rng.choice(ALPHAS),
        "relative": rng.random() < 0.7,
        "tuning": rng.choice((500.0, 5_000.0, 50_000.0)),
        "inverse": rng.random() < 0.2,
        "prior": {
            "mean": rng.choice((0.0, 0.0, 0.05, -0.1)) if proper else 0.0,
            "variance": rng.choice((0.3**2, 0.1**2, 1.0)),
            "proper": proper,
        },
    }


def random_case(rng: random.Random, index: int) -> dict:
    kind = ("mean", "proportion", "ratio", "cuped")[index % 4]
    n_c = rng.choice(SIZES)
    n_t = max(2, int(n_c * rng.uniform(0.7, 1.3)))
    lift = rng.choice((-1.0, 1.0)) * rng.choice((0.0, 0.005, 0.03, 0.2, 0.8))
    if kind == "mean":
        mu = rng.choice((1.0, 1.0, -1.0)) * 10 ** rng.uniform(-2, 3)
        sd = abs(mu) * rng.uniform(0.05, 4.0)
        control = mean_moments(n_c, mu, sd)
        treatment = mean_moments(n_t, mu * (1 + lift), sd * rng.uniform(0.5, 2.0))
    elif kind == "proportion":
        p = rng.choice((0.001, 0.02, 0.1, 0.35, 0.9))
        n_c, n_t = max(n_c, 50), max(n_t, 50)
        k_c = max(1, min(n_c - 1, round(n_c * p)))
        k_t = max(1, min(n_t - 1, round(n_t * min(p * (1 + lift), 0.99))))
        control, treatment = {"n": n_c, "sum": k_c}, {"n": n_t, "sum": k_t}
    elif kind == "ratio":
        control, treatment = ratio_arm(rng, n_c, 0.0), ratio_arm(rng, n_t, lift)
    else:
        mu, corr = 10 ** rng.uniform(0, 2), rng.choice((0.0, 0.3, 0.7, 0.95))
        sd = mu * rng.uniform(0.2, 2.0)
        control = cuped_arm(n_c, mu, sd, corr, 0.0)
        treatment = cuped_arm(n_t, mu * rng.uniform(0.97, 1.03), sd, corr, lift)
    return {"id": f"{kind}_{index:03d}", "kind": kind, "control": control,
            "treatment": treatment, **options(rng)}  # fmt: skip


def pinned_cases() -> list[dict]:
    """Hand-picked readouts and the degenerate summaries."""
    base = {"alpha": 0.05, "relative": True, "tuning": 5000.0, "inverse": False,
            "prior": {"mean": 0.0, "variance": 0.09, "proper": False}}  # fmt: skip
    return [
        {"id": "proportion_readout", "kind": "proportion", **base,
         "control": {"n": 10_000, "sum": 1_000}, "treatment": {"n": 10_100, "sum": 1_111}},
        {"id": "mean_negative_lift", "kind": "mean", **base,
         "control": mean_moments(2_500, 42.0, 30.0),
         "treatment": mean_moments(2_480, 40.0, 29.0)},
        {"id": "mean_two_units", "kind": "mean", **base,
         "control": {"n": 2, "sum": 3.0, "sum_squares": 5.0},
         "treatment": {"n": 2, "sum": 5.0, "sum_squares": 13.0}},
        {"id": "degenerate_zero_baseline", "kind": "mean", **base,
         "control": {"n": 100, "sum": 0.0, "sum_squares": 50.0},
         "treatment": mean_moments(100, 1.0, 1.0), "error": "zero_baseline"},
        {"id": "degenerate_zero_variance", "kind": "mean", **base,
         "control": {"n": 100, "sum": 200.0, "sum_squares": 400.0},
         "treatment": mean_moments(100, 2.5, 1.0), "error": "zero_variance"},
        {"id": "degenerate_empty_arm", "kind": "proportion", **base,
         "control": {"n": 1000, "sum": 100}, "treatment": {"n": 0, "sum": 0},
         "error": "empty_arm"},
        {"id": "degenerate_proportion_all", "kind": "proportion", **base,
         "control": {"n": 500, "sum": 50}, "treatment": {"n": 500, "sum": 500},
         "error": "zero_variance"},
    ]  # fmt: skip


def srm_cases(rng: random.Random) -> list[dict]:
    cases = [
        {"counts": [5000, 5200], "weights": [0.5, 0.5]},
        {"counts": [5000, 5000], "weights": [0.5, 0.5]},
        {"counts": [1000, 2000, 2900], "weights": [0.2, 0.4, 0.4]},
        {"counts": [10, 31], "weights": [1, 1]},
        {"counts": [90_312, 9_688], "weights": [0.9, 0.1]},
    ]
    for _ in range(15):
        k = rng.choice((2, 2, 3, 4))
        weights = [rng.uniform(0.1, 1.0) for _ in range(k)]
        total = rng.choice((100, 5_000, 200_000))
        drift = rng.choice((0.0, 0.01, 0.05))
        counts = [max(0, round(total * w / sum(weights) * (1 + rng.uniform(-drift, drift))))
                  for w in weights]  # fmt: skip
        cases.append({"counts": counts, "weights": weights})
    return cases


def main() -> None:
    rng = random.Random(20240611)
    cases = pinned_cases() + [random_case(rng, i) for i in range(160)]
    payload = {"tests": cases, "srm": srm_cases(rng)}
    (HERE / "inputs.json").write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
