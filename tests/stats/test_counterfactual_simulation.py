"""The counterfactual on simulated releases: the known trap, defeated and proven.

A structural time-series forecast with no control series, on a drifting
metric with no real change, calls many such null releases significant. Here
the same simulated null releases go through the naive model (local level, no
calibration: CausalImpact's default model) and through impactlens' default
(local linear trend with slope-noise uncertainty, placebo calibration).

Every rate is exactly reproducible (fixed seeds); measured values are in the
comments. With 100 runs the Monte Carlo standard error of a rate near 0.05 is
0.022, so bounds have slack only where stated. `python
tests/stats/test_counterfactual_simulation.py` runs the larger study quoted
in docs/release-impact-statistics.md.
"""

from __future__ import annotations

import sys

import numpy as np

from impactlens.stats.counterfactual import estimate_counterfactual
from impactlens.stats.impact_verdict import decide_verdict

N_PRE, N_POST = 84, 28
WEEK = np.array([0.02, 0.03, 0.03, 0.02, 0.0, -0.05, -0.05])
RUNS = 100


def drifting_metric(seed: int, kind: str = "growth", effect: float = 0.0):
    """A daily metric around 1000 with a weekly pattern (+-5%) and noise N(0, 15^2).

    kind `growth`: random walk with drift, level_t = level_{t-1} + N(3, 5^2)
    (the metric grows about 0.3% a day, 9% a month). kind `wandering`: the
    drift itself is a random walk (slope_t = slope_{t-1} + N(0, 0.6^2)), so
    growth speeds up and slows down. kind `random_walk`: N(0, 10^2) steps, no
    drift. kind `flat`: no trend at all. The post-period is multiplied by
    1 + effect. Returns y, the true average effect, and a control series that
    shares the level but not the effect (0.5 * level * weekly + N(0, 3^2)).
    """
    rng = np.random.default_rng(seed)
    n = N_PRE + N_POST
    steps = {
        "growth": lambda: rng.normal(3, 5, n),
        "wandering": lambda: np.cumsum(rng.normal(0, 0.6, n)),
        "random_walk": lambda: rng.normal(0, 10, n),
        "flat": lambda: np.zeros(n),
    }[kind]()
    level = 1000 + np.cumsum(steps)
    weekly = 1 + np.tile(WEEK, n // 7 + 1)[:n]
    clean = level * weekly + rng.normal(0, 15, n)
    y = clean.copy()
    y[N_PRE:] *= 1 + effect
    control = 0.5 * level * weekly + rng.normal(0, 3, n)
    return y, float(np.mean(y[N_PRE:] - clean[N_PRE:])), control


NAIVE = {"trend": "local_level", "n_placebos": 0}
LOCAL_LEVEL_CALIBRATED = {"trend": "local_level"}
DEFAULT: dict = {}


def _verdict(result) -> str:
    return decide_verdict(
        result.to_effect_estimate(), expected="increase", min_effect=0.02, days_observed=N_POST
    ).verdict


def _significant(result) -> bool:
    return result.average_effect_lower > 0 or result.average_effect_upper < 0


def _study(kind: str, effect: float, runs: int, settings: dict) -> dict[str, float]:
    rows = []
    for seed in range(runs):
        y, truth, _ = drifting_metric(seed, kind, effect)
        result = estimate_counterfactual(y, N_PRE, **settings)
        rows.append(
            (
                _significant(result),
                _verdict(result) in ("met", "harmful"),
                result.average_effect_lower <= truth <= result.average_effect_upper,
                result.validity_problem is not None,
                result.relative_upper - result.relative_lower,
            )
        )
    table = np.asarray(rows, dtype=float)
    return {
        "significant": table[:, 0].mean(),
        "verdict_claims": table[:, 1].mean(),
        "coverage": table[:, 2].mean(),
        "refused": table[:, 3].mean(),
        "median_relative_width": float(np.median(table[:, 4])),
    }


def test_null_releases_naive_trap_and_its_defences():
    # One test, not three sharing a fixture: under pytest-xdist a module fixture
    # would be computed again on every worker that runs one of its tests.
    naive = _study("growth", 0.0, RUNS, NAIVE)
    calibrated_level = _study("growth", 0.0, RUNS, LOCAL_LEVEL_CALIBRATED)
    default = _study("growth", 0.0, RUNS, DEFAULT)
    # The trap is real: measured 0.34 of null releases significant, all claimed met.
    assert naive["significant"] >= 0.25, naive
    assert naive["verdict_claims"] >= 0.25, naive
    # The default: measured significant 0.05, met/harmful 0.05, refused 0.00, coverage 0.95.
    assert default["verdict_claims"] <= 0.05, default
    assert default["significant"] <= 0.07, default
    # The naive model plus placebo calibration: measured significant 0.05,
    # met/harmful 0.05, refused 0.07 (it is not safe on a wandering trend; see the docs).
    assert calibrated_level["verdict_claims"] <= 0.05, calibrated_level


def test_interval_covers_a_planted_step_effect():
    stats = _study("growth", 0.05, RUNS, DEFAULT)
    # measured: coverage 0.95, significant (power at +5%) 0.71
    assert 0.90 <= stats["coverage"] <= 0.99
    assert stats["significant"] >= 0.5


def test_control_series_tightens_the_interval():
    ratios, covered = [], 0
    for seed in range(20):
        y, truth, control = drifting_metric(seed, "growth", 0.05)
        alone = estimate_counterfactual(y, N_PRE)
        helped = estimate_counterfactual(y, N_PRE, controls=control)
        ratios.append(
            (helped.relative_upper - helped.relative_lower)
            / (alone.relative_upper - alone.relative_lower)
        )
        covered += helped.average_effect_lower <= truth <= helped.average_effect_upper
    # measured: median width ratio 0.65, control intervals cover 20 of 20
    assert np.median(ratios) <= 0.8
    assert covered >= 18


# The review's own windows (service.releases: PRE_DAYS, MAX_POST_DAYS), shorter than
# the 84 pre days of the study above: its placebos then look only 14 days ahead.
REVIEW_PRE, REVIEW_POST = 56, 28
DEMO_WEEK = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.4, 0.35])


def per_account_metric(seed: int, effect: float = 0.0) -> np.ndarray:
    """Daily invites per active account as the large demo company has them, 56 + 28 days.

    Measured there (docs/release-impact.md): about 0.4 a weekday, weekends at 35-40%,
    a common day-to-day wobble of ~4-5% (the generator's day noise), and growth of
    3.8% a month on average that comes unevenly (teams fill their seats, account
    usage walks month by month): 4-week growth ranged from +0.6% to +6.6%. Here the
    log level grows by a slope drawn per 4 weeks from N(0.0013, 0.0008^2) a day, plus
    N(0, 0.04^2) daily noise; days from the ship day on are multiplied by 1 + effect.
    """
    rng = np.random.default_rng(seed)
    n = REVIEW_PRE + REVIEW_POST
    offset = rng.integers(0, 28)
    slope = np.repeat(rng.normal(0.0013, 0.0008, n // 28 + 2), 28)[offset : offset + n]
    level = np.log(0.4) + np.cumsum(slope)
    weekly = np.roll(DEMO_WEEK, -rng.integers(7))[np.arange(n) % 7]
    y = np.exp(level + rng.normal(0, 0.04, n)) * weekly
    y[REVIEW_PRE:] *= 1 + effect
    return y


def _per_account_study(trend: str, effect: float, runs: int) -> tuple[float, float]:
    """(share of intervals holding the planted relative effect, share above zero)."""
    covered = above = 0
    for seed in range(runs):
        result = estimate_counterfactual(per_account_metric(seed, effect), REVIEW_PRE, trend=trend)
        covered += result.relative_lower <= effect <= result.relative_upper
        above += result.relative_lower > 0
    return covered / runs, above / runs


def test_activity_per_account_needs_the_local_linear_trend():
    # The review picks the trend by what the metric is (service.releases.trend_for);
    # invites per active account used to count as a rate and got the local level.
    # A/A on the structure of the demo's series, at the review's windows.
    level_coverage, level_false = _per_account_study("local_level", 0.0, 60)
    linear_coverage, linear_false = _per_account_study("local_linear", 0.0, 60)
    # measured: the local level covers 0 in 0.77 of null runs (0.22 read a rise);
    # the large demo's own A/A scan gave 18-24% (docs/release-impact.md).
    assert level_false >= 0.10, level_false
    # measured: the local linear trend covers 0 in 1.00 (conservative: 0.21 wide)
    assert linear_coverage >= 0.95 and linear_false <= 0.05, (linear_coverage, linear_false)
    # With a planted +10% it still covers the truth; measured 1.00, found (lower > 0) 0.53.
    covered, found = _per_account_study("local_linear", 0.10, 40)
    assert covered >= 0.9, covered
    assert found >= 0.3, found


def _print_study(runs: int) -> None:
    """The larger study behind the table in docs/release-impact-statistics.md."""
    settings = {
        "naive": NAIVE,
        "local_level_calibrated": LOCAL_LEVEL_CALIBRATED,
        "default": DEFAULT,
    }
    for kind in ("growth", "wandering", "random_walk", "flat"):
        for effect in (0.0, 0.05):
            for name, kwargs in settings.items():
                stats = _study(kind, effect, runs, kwargs)
                cells = " ".join(f"{k}={v:.3f}" for k, v in stats.items())
                print(f"{kind:12s} effect={effect:.2f} {name:24s} {cells}", flush=True)


if __name__ == "__main__":
    _print_study(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
