"""The state every batch of the event stage reads: company, lifecycle, assignments.

Assignments to experiments and rollouts are decided once, for every user, by a
stable hash of the id (as a flag SDK would), before any batch runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo.company import Accounts, Users
from impactlens.demo.lifecycle import Lifecycle
from impactlens.demo.profile import Period, SizeProfile, hash_bucket, rng_for


@dataclass(frozen=True, eq=False)
class Assignments:
    """Per user (or account) arms, decided up front."""

    onboarding_treat: np.ndarray  # user
    onboarding_exposed: np.ndarray  # user: signed up in the window, outside the holdout
    activated: np.ndarray  # user: -1 not a signup in the period, 0 no, 1 yes (week one)
    autocomplete_treat: np.ndarray  # user
    autocomplete_lost: np.ndarray  # user: treatment users whose exposure logging fails
    dashboards_treat: np.ndarray  # account


@dataclass(frozen=True, eq=False)
class World:
    profile: SizeProfile
    period: Period
    seed: int
    timeline: c.Timeline
    accounts: Accounts
    users: Users
    life: Lifecycle
    assign: Assignments
    day_noise: np.ndarray  # one activity multiplier per day, shared by every account


def assign(
    accounts: Accounts, users: Users, life: Lifecycle, period: Period, seed: int
) -> Assignments:
    timeline = c.Timeline.of(period)
    ids = users.ids.tolist()
    holdout = accounts.holdout[users.account]
    w0, w1 = timeline.windows["onboarding-checklist"]
    created = users.created_ms
    signup = (created >= period.start_ms) & (created < life.churn_ms[users.account])
    exposed = signup & ~holdout & (created >= w0) & (created < w1)
    treat = hash_bucket(ids, "onboarding-checklist") >= 0.5
    p = c.ONBOARDING_BASE * np.where(exposed & treat, 1 + c.ONBOARDING_LIFT, 1.0)
    activated = np.where(signup, rng_for(seed, "activation").random(users.n) < p, -1).astype(
        np.int8
    )
    ac_treat = hash_bucket(ids, "search-autocomplete") >= 0.5
    lost = ac_treat & (hash_bucket(ids, "autocomplete-logging") < c.AUTOCOMPLETE_DROP)
    return Assignments(
        onboarding_treat=treat,
        onboarding_exposed=exposed,
        activated=activated,
        autocomplete_treat=ac_treat,
        autocomplete_lost=lost,
        dashboards_treat=hash_bucket(accounts.ids.tolist(), "team-dashboards") >= 0.5,
    )


def day_noise(period: Period, seed: int) -> np.ndarray:
    """Day-to-day wobble of activity (news, outages elsewhere, holidays)."""
    return rng_for(seed, "day-noise").lognormal(-(0.05**2) / 2, 0.05, period.n_days)
