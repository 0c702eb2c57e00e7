"""Difference-in-differences on simulated releases: coverage, false positives, clustering.

Every rate below is exactly reproducible (fixed seeds); the measured value is
written next to each bound. With 1000 runs the Monte Carlo standard error of a
rate near 0.95 is 0.007, so the bounds are about +-3 standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from impactlens.stats.did import ActorPanel, estimate_did

RUNS = 1000


def _actor_release(rng, effect: float, n: int = 200):
    """Exposed and unexposed actors with a common +0.5 trend and a planted effect.

    Per-actor level ~ N(10, 2^2); each period adds N(0, 1) noise; the exposed
    post-period gains `effect`. Truth: DiD = effect, relative = effect / (10 + 0.5).
    """
    level_e, level_u = rng.normal(10, 2, n), rng.normal(10, 2, n)
    pre_e, pre_u = level_e + rng.normal(0, 1, n), level_u + rng.normal(0, 1, n)
    post_e = level_e + 0.5 + effect + rng.normal(0, 1, n)
    post_u = level_u + 0.5 + rng.normal(0, 1, n)
    return ActorPanel(pre=pre_e, post=post_e), ActorPanel(pre=pre_u, post=post_u)


def _covers(result, truth: float) -> bool:
    return result.lower <= truth <= result.upper


def test_interval_covers_planted_effect_at_nominal_rate():
    rng = np.random.default_rng(101)
    covered = relative_covered = 0
    for _ in range(RUNS):
        result = estimate_did(*_actor_release(rng, effect=0.4))
        covered += _covers(result, 0.4)
        relative_covered += result.relative_lower <= 0.4 / 10.5 <= result.relative_upper
    # measured: 0.941 absolute, 0.943 relative (delta method)
    assert 0.93 <= covered / RUNS <= 0.97
    assert 0.93 <= relative_covered / RUNS <= 0.97


def test_false_positive_rate_without_effect_is_nominal():
    rng = np.random.default_rng(202)
    significant = sum(estimate_did(*_actor_release(rng, 0.0)).p_value < 0.05 for _ in range(RUNS))
    # measured: 0.046
    assert significant / RUNS <= 0.06


def test_ratio_of_sums_interval_covers_planted_effect():
    # Clicks / searches per actor: searches ~ Poisson(20); click-through 0.30 before,
    # 0.32 after for everyone, plus 0.03 for the exposed. Truth: DiD = 0.03.
    rng = np.random.default_rng(303)
    covered = 0
    for _ in range(RUNS):
        panels = []
        for lift in (0.03, 0.0):
            searches_pre, searches_post = rng.poisson(20, 300) + 1, rng.poisson(20, 300) + 1
            propensity = np.clip(rng.normal(0, 0.05, 300), -0.2, 0.2)
            panels.append(
                ActorPanel(
                    pre=rng.binomial(searches_pre, 0.30 + propensity).astype(float),
                    pre_denominator=searches_pre.astype(float),
                    post=rng.binomial(searches_post, 0.32 + lift + propensity).astype(float),
                    post_denominator=searches_post.astype(float),
                )
            )
        covered += _covers(estimate_did(*panels), 0.03)
    # measured: 0.953
    assert 0.93 <= covered / RUNS <= 0.97


def _account_release(rng, n_accounts: int = 30, users: int = 10):
    """Audience = a set of accounts; each account's users share a shock to their change.

    Account shock N(0, 0.8^2) on the post-pre change, user noise N(0, 1) per
    period (so N(0, 2) on the change), no effect. Within-account correlation makes the naive SE too small.
    """
    panels = []
    for offset in (0, n_accounts):
        accounts = np.repeat(np.arange(offset, offset + n_accounts), users)
        shock = rng.normal(0, 0.8, n_accounts)[accounts - offset]
        pre = 10 + rng.normal(0, 1, accounts.size)
        post = 10 + shock + rng.normal(0, 1, accounts.size)
        panels.append(ActorPanel(pre=pre, post=post, clusters=accounts))
    return panels


@pytest.fixture(scope="module")
def clustered_runs():
    rng = np.random.default_rng(404)
    runs = []
    for _ in range(RUNS):
        exposed, unexposed = _account_release(rng)
        clustered = estimate_did(exposed, unexposed)
        naive = estimate_did(
            ActorPanel(pre=exposed.pre, post=exposed.post),
            ActorPanel(pre=unexposed.pre, post=unexposed.post),
        )
        runs.append((clustered, naive))
    return runs


def test_cluster_robust_se_is_larger_when_accounts_correlate(clustered_runs):
    ratio = np.median([c.se / n.se for c, n in clustered_runs])
    # Design effect: sqrt(1 + (m - 1) * icc) with m = 10, icc = 0.64 / (0.64 + 2) = 0.24 on the change,
    # so about 1.78; measured median ratio 1.79.
    assert 1.5 <= ratio <= 2.0


def test_cluster_robust_covers_where_naive_under_covers(clustered_runs):
    clustered = np.mean([_covers(c, 0.0) for c, _ in clustered_runs])
    naive = np.mean([_covers(n, 0.0) for _, n in clustered_runs])
    # measured: cluster-robust 0.954 (t, median 57 Satterthwaite df), naive 0.734
    assert 0.93 <= clustered <= 0.97
    assert naive <= 0.80
