"""Account lifecycles month by month: usage trend, tickets, seats, MRR and churn.

Usage is a random walk in log space by month: small ups and downs for every
account and, now and then, a disengagement: two or three months in which the
account's usage halves every month (``DISENGAGEMENT``). A walk, not noise around a
fixed trend, so a month's decline is not undone the next month.

Paying accounts decide to leave by a known monthly hazard (``leaving.CHURN_MODEL``,
in truth.json) on the decline of their activity that month (its users present x
their usage, so a champion who leaves counts as much as a team that logs in
less), the month's support tickets per seat, being a detractor, and size; then
they wind down (usage falls, billing tickets, lower survey answers) and churn
30-90 days later (``leaving.WIND_DOWN``). Tickets are drawn here, per account and
day, from the *expected* errors and sessions of the walk, because churn must be
known before events are drawn (churned accounts stop producing events) and the
decision depends on tickets. Seats (and MRR) follow usage two months late:
customers resize their plan after their usage has moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo.company import PRICE_PER_SEAT, TRIAL_DAYS, Accounts, Users
from impactlens.demo.leaving import (
    DETRACTOR_BELOW,
    NEVER,
    decide_to_leave,
    wind_down,
    wind_down_tickets,
)
from impactlens.demo.profile import DAY_MS, Period, rng_for, to_ms

TICKET_TAGS = ("export;timeout", "billing", "search", "reports", "login", "reports;bulk-actions")
# Expected tickets per expected session, by tag (billing, search, reports, login) ...
BASE_TICKETS_PER_SESSION = 0.0025
BASE_TAG_SHARE = {"billing": 0.3, "search": 0.25, "reports": 0.25, "login": 0.2}
# ... plus tickets per expected error of each kind: errors are what drive tickets.
TICKETS_PER_EXPORT_ERROR = 0.03
TICKETS_PER_BULK_ERROR = 0.03

SEAT_LAG_MONTHS = 2
USAGE_STEP_SD = 0.06  # month-to-month change of log usage outside a disengagement


@dataclass(frozen=True)
class Disengagement:
    """How accounts disengage: runs of months in which their usage falls steeply.

    Each month an account starts a run with probability ``start`` (less for large
    accounts, see ``latent_usage``); for ``months`` (uniform in the range) its log
    usage then falls by ``decline`` a month (0.7: usage halves) instead of its drift.
    The others drift up by ``drift`` a month, which about offsets the runs of small
    accounts (drift ~ decline x the ~8% of them disengaging; their log usage falls
    ~0.014 a month on average) while large accounts, which rarely disengage, expand.
    """

    start: float = 0.035
    months: tuple[int, int] = (2, 3)
    decline: float = 0.7
    drift: float = 0.05


DISENGAGEMENT = Disengagement()
USAGE_BURN_IN = 6  # months of the walk before the period (see latent_usage)
SETTLED_SEATS = 20  # above this size a whole account disengages less often


@dataclass(frozen=True, eq=False)
class Lifecycle:
    """Everything decided per account before any event is drawn."""

    months: list[date]
    usage: np.ndarray  # (accounts, days) multiplier of activity
    tickets: np.ndarray  # (accounts, days, tags) ticket counts
    churn_ms: np.ndarray  # NEVER when the account did not churn
    churn_reason: np.ndarray  # "", "hazard", "trial_expired"
    conversion_ms: np.ndarray  # trial -> paid (Checkout Completed); NEVER otherwise
    seats: np.ndarray  # (accounts, months)
    mrr: np.ndarray  # (accounts, months)
    status: np.ndarray  # (accounts, months): "", "trial", "active", "churned"
    decided_ms: np.ndarray  # the account decided to leave (wind-down from then on); NEVER
    extra: dict[str, float] = field(default_factory=dict)


def error_params(improved: np.ndarray, ts: np.ndarray, ship: dict[str, int]) -> tuple:
    """(P(export fails), other errors per export) for users that get releases or not."""
    p_fail = np.where(
        improved & (ts >= ship["export-timeout-fix"]), c.P_FAIL_AFTER, c.P_FAIL_BEFORE
    )
    kappa = np.where(improved & (ts >= ship["bulk-actions"]), c.KAPPA_BULK, c.KAPPA)
    return p_fail, kappa


def simulate_lifecycle(accounts: Accounts, users: Users, period: Period, seed: int) -> Lifecycle:
    rng = rng_for(seed, "lifecycle")
    n, days = accounts.n, period.n_days
    timeline = c.Timeline.of(period)
    months = period.month_starts()
    month_ms = np.array([to_ms(m) for m in months] + [to_ms(_next_month(months[-1]))])
    day_start = period.start_ms + np.arange(days, dtype=np.int64) * DAY_MS
    day_month = np.searchsorted(month_ms, day_start, side="right") - 1

    # Latent log-usage at month mid-points, index 0 = the month before the period.
    n_m = len(months)
    log_u = latent_usage(rng, accounts.seats, n_m)
    mid = np.r_[month_ms[0] - 15 * DAY_MS, (month_ms[:-1] + month_ms[1:]) // 2]
    day_mid = day_start + DAY_MS // 2
    usage = np.exp(np.stack([np.interp(day_mid, mid, row) for row in log_u])).astype(np.float32)

    # Expected sessions and exports per account-day (users present that day).
    cap = np.zeros((n, days + 1))
    cap_e = np.zeros((n, days + 1))
    first = np.clip((users.created_ms - period.start_ms) // DAY_MS, 0, days)
    last = np.clip((np.minimum(users.left_ms, period.end_ms) - period.start_ms) // DAY_MS, 0, days)
    for grid, weight in ((cap, users.rate), (cap_e, users.rate * users.export_rate)):
        np.add.at(grid, (users.account, first), weight)
        np.add.at(grid, (users.account, last), -weight)
    level = accounts.engagement[:, None] * period.weekday_factor()[None, :] * usage
    team = np.cumsum(cap, axis=1)[:, :days]  # sessions a day of the users present, at usage 1
    sessions = team * level
    # The account's log activity at month mid-points: its team (users join and leave)
    # plus its latent usage. Its month-to-month decline is what the hazard reads: a
    # champion who leaves is lost usage as much as a team that logs in less.
    mid_day = np.clip((mid - period.start_ms) // DAY_MS, 0, days - 1)
    with np.errstate(divide="ignore"):
        activity = np.log(team[:, mid_day]) + log_u
    exports = np.cumsum(cap_e, axis=1)[:, :days] * level * accounts.error_factor[:, None]

    improved = ~(accounts.holdout[:, None] & (day_mid[None, :] >= timeline.holdout_start))
    p_fail, kappa = error_params(improved, day_mid[None, :], timeline.ship)
    bulk = np.where(kappa > c.KAPPA, kappa - c.KAPPA, 0.0)
    login = np.where(
        improved & (day_mid >= timeline.ship["sso-login"]), 1 + c.SSO_LOGIN_TICKETS, 1.0
    )
    base = BASE_TICKETS_PER_SESSION * sessions
    expected_by_tag = (
        lambda: TICKETS_PER_EXPORT_ERROR * exports * p_fail,
        lambda: base * BASE_TAG_SHARE["billing"],
        lambda: base * BASE_TAG_SHARE["search"],
        lambda: base * BASE_TAG_SHARE["reports"],
        lambda: base * BASE_TAG_SHARE["login"] * login,
        lambda: TICKETS_PER_BULK_ERROR * exports * bulk,
    )
    # One tag at a time: (accounts x days) floats, never (accounts x days x tags).
    tickets = np.zeros((n, days, len(TICKET_TAGS)), dtype=np.int16)
    for k, expected in enumerate(expected_by_tag):
        tickets[:, :, k] = rng.poisson(expected())
    monthly_tickets = np.zeros((n, n_m))
    np.add.at(monthly_tickets.T, day_month, tickets.sum(axis=2).T)

    # Trials: convert (Checkout Completed) after 7-14 days or expire at day 14.
    conversion = np.full(n, NEVER)
    churn = np.full(n, NEVER)
    reason = np.full(n, "", dtype=object)
    trial_end = accounts.created_ms + TRIAL_DAYS * DAY_MS
    conv_at = accounts.created_ms + (rng.uniform(7, TRIAL_DAYS, n) * DAY_MS).astype(np.int64)
    ok = accounts.trial & accounts.converted
    conversion[ok] = conv_at[ok]
    expired = accounts.trial & ~accounts.converted & (trial_end < period.end_ms)
    churn[expired], reason[expired] = trial_end[expired], "trial_expired"

    # Tickets per 10 seats (at least 10) of each month, a whole month's worth: three
    # tickets are a crisis at a five-seat customer and a quiet month at a 300-seat one.
    in_period = np.bincount(day_month, minlength=n_m) / (np.diff(month_ms) / DAY_MS)
    ticket_rate = 10 * monthly_tickets / in_period / np.maximum(accounts.seats, 10)[:, None]
    decided, left = decide_to_leave(
        rng_for(seed, "decide"),
        month_ms,
        (period.start_ms, period.end_ms),
        np.where(accounts.trial, conversion, accounts.created_ms),
        activity,
        ticket_rate,
        accounts.nps_mean < DETRACTOR_BELOW,
        accounts.seats,
    )
    hit = (left < NEVER) & (churn == NEVER)
    churn[hit], reason[hit] = left[hit], "hazard"
    # The wind-down: usage falls from the decision on and billing tickets about leaving
    # come on top of the account's usual ones (those follow the walk: its problems stay).
    usage = (usage * np.exp(-wind_down(decided, day_mid))).astype(np.float32)
    tickets[:, :, TICKET_TAGS.index("billing")] += wind_down_tickets(
        rng_for(seed, "wind-down"), decided, churn, day_start
    )
    log_u = log_u - wind_down(decided, mid)

    seats, mrr, status = _billing(accounts, months, month_ms, log_u, conversion, churn)
    return Lifecycle(
        months=months,
        usage=usage,
        tickets=tickets,
        churn_ms=churn,
        churn_reason=reason,
        conversion_ms=conversion,
        seats=seats,
        mrr=mrr,
        status=status,
        decided_ms=decided,
    )


def latent_usage(rng: np.random.Generator, seats: np.ndarray, n_months: int) -> np.ndarray:
    """(accounts, n_months + 1) log usage at month mid-points: a walk with disengagement runs.

    Index 0 is the month before the period, where every account's log usage is 0.
    The walk starts ``USAGE_BURN_IN`` months earlier, so the period opens with as
    many accounts already in a disengagement as at any later month. A large account
    is many teams: it disengages as a whole less often (the chance of a run falls as
    sqrt(``SETTLED_SEATS`` / seats) above that size).
    """
    d, n = DISENGAGEMENT, len(seats)
    total = n_months + USAGE_BURN_IN
    steps = rng.normal(d.drift, USAGE_STEP_SD, (n, total))
    start = d.start * np.minimum(1.0, np.sqrt(SETTLED_SEATS / seats))
    starts = rng.random((n, total)) < start[:, None]
    lengths = rng.integers(d.months[0], d.months[1] + 1, (n, total))
    left = np.zeros(n, dtype=np.int64)
    for j in range(total):
        left = np.where((left == 0) & starts[:, j], lengths[:, j], left)
        steps[:, j] = np.where(left > 0, steps[:, j] - d.drift - d.decline, steps[:, j])
        left = np.maximum(left - 1, 0)
    walk = np.cumsum(steps[:, USAGE_BURN_IN:], axis=1)
    return np.c_[np.zeros(n), walk]


def _billing(
    accounts: Accounts,
    months: list[date],
    month_ms: np.ndarray,
    log_u: np.ndarray,
    conversion: np.ndarray,
    churn: np.ndarray,
) -> tuple:
    """Seats follow the usage trend with a lag (expansion/contraction); MRR = seats x price.

    Customers resize their plan after their usage has moved, not while it moves:
    seats of month m follow the usage of month m - ``SEAT_LAG_MONTHS``.
    """
    n, n_m = accounts.n, len(months)
    lagged = log_u[:, np.clip(np.arange(n_m) + 1 - SEAT_LAG_MONTHS, 0, None)]
    seats = np.maximum(
        1, np.round(accounts.seats[:, None] * np.exp(0.5 * (lagged - lagged[:, [0]])))
    )
    discount = np.where(accounts.seats > 200, 0.8, 1.0)
    mrr = np.round(seats * PRICE_PER_SEAT[accounts.plan][:, None] * discount[:, None], 2)
    status = np.full((n, n_m), "", dtype=object)
    starts, ends = month_ms[:-1], month_ms[1:]
    exists = accounts.created_ms[:, None] < ends[None, :]
    paid_from = np.where(accounts.trial, conversion, accounts.created_ms)
    status[exists] = "trial"
    status[exists & (paid_from[:, None] < ends[None, :])] = "active"
    # A churned account shows one "churned" row (MRR 0) in the month after it left.
    gone = churn[:, None] < starts[None, :]
    first_gone = gone & ~np.c_[np.zeros((n, 1), dtype=bool), gone[:, :-1]]
    status[gone] = ""
    status[first_gone] = "churned"
    mrr = np.where(status == "active", mrr, 0.0)
    return seats.astype(np.int64), mrr, status


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
