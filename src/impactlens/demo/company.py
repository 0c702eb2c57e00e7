"""The demo company's customers: accounts (B2B tenants) and their users.

Account sizes are heavy-tailed (lognormal seats within segment), accounts keep
arriving during the period (growth), and users join accounts over time and
sometimes leave. Arrays are indexed by account / user number; ids are strings
derived from those numbers so they are stable for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from impactlens.demo.catalog import HOLDOUT_SHARE, HOLDOUT_START_DAY
from impactlens.demo.names import company_names
from impactlens.demo.profile import DAY_MS, HOUR_MS, Period, SizeProfile, hash_bucket, rng_for

SEGMENTS = np.array(["smb", "mid-market", "enterprise"])
PLANS = np.array(["starter", "pro", "enterprise"])
ROLES = np.array(["admin", "analyst", "viewer"])
PRICE_PER_SEAT = np.array([15.0, 35.0, 60.0])  # starter, pro, enterprise; USD per month
TZ_OFFSETS = np.array([-8, -7, -6, -5, -4, 0, 1, 2])
TZ_WEIGHTS = np.array([0.14, 0.04, 0.1, 0.26, 0.04, 0.14, 0.2, 0.08])

# Median seats and log-sd per segment: the tail of the enterprise segment is what
# makes account sizes heavy-tailed.
SEAT_MEDIAN = np.array([5.0, 28.0, 140.0])
SEAT_SIGMA = np.array([0.7, 0.6, 0.8])
PLAN_BY_SEGMENT = np.array([[0.7, 0.3, 0.0], [0.15, 0.7, 0.15], [0.0, 0.25, 0.75]])
ROLE_RATE = np.array([1.1, 1.3, 0.7])  # sessions relative to the average user
TRIAL_DAYS = 14
TRIAL_CONVERSION = 0.85
USER_RATE_MEAN, USER_RATE_SIGMA = 0.47, 0.75  # sessions per weekday, lognormal across users
ENGAGEMENT_SIGMA, ERROR_SIGMA, DASHBOARD_SIGMA = 0.35, 0.3, 0.5
USER_TENURE_MEAN_DAYS = 900  # users leave their account after an exponential tenure

_NORMAL = NormalDist()


@dataclass(frozen=True, eq=False)
class Accounts:
    """Every account, one array element per account (index = account number)."""

    ids: np.ndarray
    names: np.ndarray
    segment: np.ndarray  # index into SEGMENTS
    plan: np.ndarray  # index into PLANS
    seats: np.ndarray
    created_ms: np.ndarray
    tz_offset: np.ndarray  # hours from UTC
    engagement: np.ndarray  # account-level activity multiplier
    error_factor: np.ndarray  # heavier data -> more export failures and errors
    dashboard_factor: np.ndarray  # strong per-account habit of dashboard use
    holdout: np.ndarray
    trial: np.ndarray  # created during the period: starts with a trial
    converted: np.ndarray  # trial converted to paid (always True for older accounts)
    nps_mean: np.ndarray  # latent satisfaction (0-10 scale)

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class Users:
    """Every user; users of one account are contiguous, accounts in order."""

    ids: np.ndarray
    account: np.ndarray  # account number
    role: np.ndarray  # index into ROLES
    created_ms: np.ndarray
    left_ms: np.ndarray  # the user stops using the product (int64 max: never)
    rate: np.ndarray  # expected sessions per weekday before seasonality and usage trend
    click_p: np.ndarray  # P(click | search) before any release
    export_rate: np.ndarray  # expected exports per session
    search_v2: np.ndarray  # in the search_v2 rollout (50% by hash, never the holdout)

    @property
    def n(self) -> int:
        return len(self.ids)

    def account_slices(self, n_accounts: int) -> np.ndarray:
        """Start offset of each account's users (length n_accounts + 1)."""
        return np.searchsorted(self.account, np.arange(n_accounts + 1))


def make_accounts(profile: SizeProfile, period: Period, seed: int) -> Accounts:
    """Draw the accounts: 70% exist before the period, the rest arrive during it."""
    rng = rng_for(seed, "accounts")
    n = profile.n_accounts
    new = _exact_mix(rng, n, [0.7, 0.3]) == 1
    # Arrivals during the period grow over time: density proportional to 1 + x.
    x = -1 + np.sqrt(1 + 3 * rng.random(n))
    new_day = x * (period.n_days - 21)
    old_day = -rng.uniform(30, 3 * 365, n)
    created = period.start_ms + ((np.where(new, new_day, old_day)) * DAY_MS).astype(np.int64)
    created += (rng.normal(14, 2.5, n).clip(7, 21) * HOUR_MS).astype(np.int64)
    order = np.argsort(created, kind="stable")
    new, created = new[order], created[order]

    segment = np.empty(n, dtype=np.int64)
    segment[new] = _exact_mix(rng, int(new.sum()), [0.8, 0.17, 0.03])
    segment[~new] = _exact_mix(rng, int((~new).sum()), [0.6, 0.3, 0.1])
    seats = np.exp(
        np.log(SEAT_MEDIAN[segment]) + SEAT_SIGMA[segment] * _stratified_normal(rng, segment)
    )
    seats = np.ceil(seats * profile.seat_scale).clip(1, profile.max_seats).astype(np.int64)
    plan = (rng.random(n)[:, None] > np.cumsum(PLAN_BY_SEGMENT[segment], axis=1)).sum(axis=1)
    engagement = rng.lognormal(-(ENGAGEMENT_SIGMA**2) / 2, ENGAGEMENT_SIGMA, n)
    error_factor = rng.lognormal(-(ERROR_SIGMA**2) / 2, ERROR_SIGMA, n)
    dashboard_factor = rng.lognormal(-(DASHBOARD_SIGMA**2) / 2, DASHBOARD_SIGMA, n)
    nps_mean = (
        7.4
        + 0.8 * np.log(engagement) / ENGAGEMENT_SIGMA
        - 0.9 * np.log(error_factor) / ERROR_SIGMA
        + rng.normal(0, 1.0, n)
    ).clip(0, 10)

    width = max(4, len(str(n)))
    ids = np.array([f"acc-{i:0{width}d}" for i in range(1, n + 1)])
    holdout = _pick_holdout(ids, created, period)
    return Accounts(
        ids=ids,
        names=company_names(rng, n),
        segment=segment,
        plan=plan,
        seats=seats,
        created_ms=created,
        tz_offset=rng.choice(TZ_OFFSETS, n, p=TZ_WEIGHTS),
        engagement=engagement,
        error_factor=error_factor,
        dashboard_factor=dashboard_factor,
        holdout=holdout,
        trial=new,
        converted=~new | (rng.random(n) < TRIAL_CONVERSION),
        nps_mean=nps_mean,
    )


def _exact_mix(rng: np.random.Generator, n: int, shares: list[float]) -> np.ndarray:
    """Category numbers in exactly these shares (largest remainders), shuffled.

    Sampling the mix would let a seed come out with half the enterprise accounts,
    and with them half the events; fixing the mix keeps sizes comparable.
    """
    exact = np.asarray(shares) * n
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def _stratified_normal(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Standard normal draws, stratified by quantile within each group.

    Each group's draws cover its quantiles evenly (one draw per 1/n slice, in a
    random order), so the heavy tail is always there but the total company size
    barely moves from seed to seed.
    """
    out = np.empty(len(groups))
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        q = (rng.permutation(len(members)) + rng.random(len(members))) / len(members)
        out[members] = [_NORMAL.inv_cdf(float(x)) for x in q]
    return out


def _pick_holdout(ids: np.ndarray, created: np.ndarray, period: Period) -> np.ndarray:
    """~5% of the accounts that exist at holdout start, chosen by a stable hash."""
    eligible = np.flatnonzero(created < period.day_ms(HOLDOUT_START_DAY))
    k = max(1, round(HOLDOUT_SHARE * len(ids)))
    bucket = hash_bucket(ids[eligible].tolist(), "holdout")
    holdout = np.zeros(len(ids), dtype=bool)
    holdout[eligible[np.argsort(bucket)[:k]]] = True
    return holdout


def make_users(accounts: Accounts, period: Period, seed: int) -> Users:
    """Draw each account's users: the first is its admin, the rest join over time."""
    rng = rng_for(seed, "users")
    adoption = rng.beta(6, 4, accounts.n)
    per_account = np.maximum(1, np.round(accounts.seats * adoption)).astype(np.int64)
    account = np.repeat(np.arange(accounts.n), per_account)
    n = len(account)
    first = np.r_[0, np.cumsum(per_account)[:-1]]
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True

    role = rng.choice(3, n, p=[0.1, 0.35, 0.55])
    role[is_first] = 0
    acc_created = accounts.created_ms[account]
    span = period.end_ms - acc_created
    # Older accounts grew over years (most users joined long ago); new accounts
    # fill their seats within weeks of signing up.
    old_join = acc_created + (span * rng.random(n)).astype(np.int64)
    new_join = acc_created + (rng.exponential(10, n) * DAY_MS).astype(np.int64)
    created = np.where(accounts.trial[account], new_join, old_join)
    created[is_first] = acc_created[is_first]
    created += np.where(is_first, 0, (rng.normal(0, 3, n) * HOUR_MS).astype(np.int64))
    created = np.maximum(created, acc_created)
    tenure = (rng.exponential(USER_TENURE_MEAN_DAYS, n) * DAY_MS).astype(np.int64)
    left = np.where(is_first, np.iinfo(np.int64).max, created + tenure)

    width = max(6, len(str(n)))
    ids = np.array([f"usr-{i:0{width}d}" for i in range(1, n + 1)])
    rate = ROLE_RATE[role] * rng.lognormal(
        np.log(USER_RATE_MEAN) - USER_RATE_SIGMA**2 / 2, USER_RATE_SIGMA, n
    )
    holdout = accounts.holdout[account]
    return Users(
        ids=ids,
        account=account,
        role=role,
        created_ms=created,
        left_ms=left,
        rate=rate,
        click_p=(0.42 * rng.lognormal(-0.02, 0.2, n)).clip(0.05, 0.8),
        export_rate=np.array([0.35, 0.45, 0.12])[role] * rng.lognormal(-0.08, 0.4, n),
        search_v2=~holdout & (hash_bucket(ids.tolist(), "search_v2") < 0.5),
    )
