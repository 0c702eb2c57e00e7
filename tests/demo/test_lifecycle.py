"""The demo's latent usage walk (demo/lifecycle.py): disengagement runs, burn-in, flatness."""

from __future__ import annotations

import numpy as np

from impactlens.demo.lifecycle import DISENGAGEMENT, SETTLED_SEATS, USAGE_STEP_SD, latent_usage


def test_usage_walk_has_disengagement_runs_and_stays_flat():
    rng = np.random.default_rng(0)
    seats = np.r_[np.full(20_000, 5), np.full(20_000, 20 * SETTLED_SEATS)]
    log_u = latent_usage(rng, seats, 7)
    assert log_u.shape == (40_000, 8) and (log_u[:, 0] == 0).all()
    steps = np.diff(log_u, axis=1)
    # a step is either the drift (sd 0.06) or a disengaging month (-0.7): 10 sd apart
    falling = steps < -DISENGAGEMENT.decline / 2
    assert np.allclose(steps[falling].mean(), -DISENGAGEMENT.decline, atol=0.01)
    assert np.allclose(steps[~falling].std(), USAGE_STEP_SD, atol=0.005)
    # small accounts: runs of 2-3 months started with p = 0.035 a month and burnt in,
    # so about 8% of the months fall, from the first month of the period on
    small = falling[:20_000]
    assert 0.06 < small.mean() < 0.10 and 0.06 < small[:, 0].mean() < 0.10
    # a run lasts 2 or 3 months: a month that falls is next to another that falls
    # (except at the edges of the period)
    inner = small[:, 1:-1]
    beside = small[:, :-2] | small[:, 2:]
    assert beside[inner].mean() > 0.95
    # a large account is many teams: it disengages as a whole sqrt(20) times less often
    assert falling[20_000:].mean() < small.mean() / 3
    # the drift about offsets the runs of small accounts (mean log usage -0.10 after
    # seven months), while large accounts, which rarely disengage, grow (+0.25): small
    # customers shrink and leave, large ones expand
    assert np.abs(log_u[:20_000].mean(axis=0)).max() < 0.15
    assert 0.15 < log_u[20_000:, -1].mean() < 0.35
