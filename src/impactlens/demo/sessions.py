"""Sessions of one batch of users: when each user opened the product.

A user's expected sessions on a day are their own rate x their account's
engagement x the weekday factor x a small day-to-day noise x the account's usage
trend, and a signup who did not activate in week one drifts away to a third of
that. Sessions fall in working hours of the account's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo.company import Accounts, Users
from impactlens.demo.lifecycle import Lifecycle
from impactlens.demo.profile import DAY_MS, HOUR_MS, Period

UNACTIVATED_FACTOR = 0.3  # activity of a signup who never created a report in week one


@dataclass(frozen=True, eq=False)
class Sessions:
    """One element per session, sorted by nothing in particular."""

    ts: np.ndarray  # epoch ms
    user: np.ndarray  # global user number
    signup: np.ndarray  # the session in which the user signed up

    @property
    def n(self) -> int:
        return len(self.ts)


def user_end_ms(users: Users, life: Lifecycle, period: Period, idx: np.ndarray) -> np.ndarray:
    """When each user's activity ends: they left, their account churned, or the period ended."""
    return np.minimum(
        np.minimum(users.left_ms[idx], life.churn_ms[users.account[idx]]), period.end_ms
    )


def draw_sessions(
    idx: np.ndarray,
    users: Users,
    accounts: Accounts,
    life: Lifecycle,
    period: Period,
    day_noise: np.ndarray,
    activated: np.ndarray,
    rng: np.random.Generator,
) -> Sessions:
    """Draw the sessions of users ``idx`` (global numbers) over the whole period."""
    days = period.n_days
    acc = users.account[idx]
    created = users.created_ms[idx]
    start, end = np.maximum(created, period.start_ms), user_end_ms(users, life, period, idx)
    first_day = (start - period.start_ms) // DAY_MS
    last_day = (end - 1 - period.start_ms) // DAY_MS
    day = np.arange(days)
    active = (day[None, :] >= first_day[:, None]) & (day[None, :] <= last_day[:, None])

    rate = (
        (users.rate[idx] * accounts.engagement[acc])[:, None]
        * (period.weekday_factor() * day_noise)[None, :]
        * life.usage[acc]
    )
    # Signups who did not activate lose interest after their first week.
    signup_day = (created - period.start_ms) // DAY_MS
    drift = (activated[idx] == 0)[:, None] & (day[None, :] >= signup_day[:, None] + 7)
    rate = np.where(drift, rate * UNACTIVATED_FACTOR, rate) * active
    counts = rng.poisson(rate)

    rows, cols = np.nonzero(counts)
    reps = counts[rows, cols]
    rows, cols = np.repeat(rows, reps), np.repeat(cols, reps)
    # Local working hours: a morning and an afternoon peak, shifted to UTC.
    morning = rng.random(len(rows)) < 0.55
    hour = np.where(morning, rng.normal(10.5, 1.8, len(rows)), rng.normal(15.0, 2.2, len(rows)))
    local = (hour.clip(6.0, 23.5) * HOUR_MS).astype(np.int64)
    ts = (
        period.start_ms
        + cols.astype(np.int64) * DAY_MS
        + local
        - accounts.tz_offset[acc[rows]].astype(np.int64) * HOUR_MS
    )
    keep = (ts >= start[rows]) & (ts < end[rows])
    ts, user = ts[keep], idx[rows[keep]]

    # Every signup inside the period opens a session the moment they sign up.
    new = (created >= period.start_ms) & (created < end)
    ts = np.r_[ts, created[new] + 1000]
    user = np.r_[user, idx[new]]
    signup = np.r_[np.zeros(int(keep.sum()), dtype=bool), np.ones(int(new.sum()), dtype=bool)]
    return Sessions(ts=ts, user=user, signup=signup)
