"""How the demo's paying accounts decide to leave, and how they wind down before they go.

Each month a paying account decides to leave with a planted hazard
(``CHURN_MODEL``, in truth.json) on what it went through that month: the fall of
its activity, its support tickets per 10 seats, whether it is a detractor, and
its size. It does not vanish that day: customers who are leaving stop using the
product over the weeks before their contract ends. From the day it decides, the
account's usage falls (``WIND_DOWN.decline`` of log usage every 30 days: it
halves), it files billing tickets about leaving, its survey answers drop, and it
churns ``lead_days`` later. So the weeks before a snapshot carry what the churn
of the 90 days after it will be, as in a real customer base; a decision taken
after the snapshot is seen only through the drivers that led to it.

Every draw here comes from its own random streams (``decide``, ``wind-down``), so
the rest of the company (releases, experiments) is not redrawn when they change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo.profile import DAY_MS, HOUR_MS

NEVER = np.iinfo(np.int64).max
CHURN_MODEL = {
    "intercept": -3.9,
    "usage_decline": 5.0,  # per unit of log activity lost from mid-month m-1 to mid-month m
    "log1p_tickets_per_10_seats": 0.8,  # tickets of month m per 10 seats (at least 10)
    "detractor": 2.2,  # account's latent NPS below 6.5
    "log_seats": -0.3,
}
DETRACTOR_BELOW = 6.5
PRE_PERIOD_MONTHS = 3  # decisions taken before the period, so it opens with accounts leaving
MONTH_MS = 30 * DAY_MS


@dataclass(frozen=True)
class WindDown:
    """What an account does between deciding to leave and churning.

    ``lead_days``: uniform range from the decision to the churn; ``decline``: log
    usage lost every 30 days from the decision on (0.7: usage halves a month);
    ``tickets``: extra billing tickets every 30 days. Its survey answers drop too
    (``surveys.SCORE_MODEL``, ``leaving``).
    """

    lead_days: tuple[int, int] = (30, 90)
    decline: float = 1.0
    tickets: float = 1.0


WIND_DOWN = WindDown()


def decide_to_leave(
    rng: np.random.Generator,
    month_ms: np.ndarray,
    period_ms: tuple[int, int],
    paid_from: np.ndarray,
    activity: np.ndarray,
    ticket_rate: np.ndarray,
    detractor: np.ndarray,
    seats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(decided_ms, churn_ms) per account; ``NEVER`` when it did not decide / churn in the period.

    ``month_ms``: starts of the period's calendar months plus the end of the last;
    ``activity``: log activity at mid-months, column 0 the month before the period;
    ``ticket_rate``: tickets per 10 seats of each month (a whole month's worth).
    Before the period an account's mean ticket rate over the period stands in for
    the month's and its activity is taken as flat.
    """
    start_ms, end_ms = period_ms
    n, n_m = len(seats), len(month_ms) - 1
    m = CHURN_MODEL
    static = m["intercept"] + m["detractor"] * detractor + m["log_seats"] * np.log(seats)
    decided = np.full(n, NEVER)
    churn = np.full(n, NEVER)
    for k in range(-PRE_PERIOD_MONTHS, n_m):
        lo = int(month_ms[0]) + k * MONTH_MS if k < 0 else int(month_ms[k])
        hi = int(month_ms[0]) + (k + 1) * MONTH_MS if k < 0 else min(int(month_ms[k + 1]), end_ms)
        if k < 0:
            decline, tickets = np.zeros(n), ticket_rate.mean(axis=1)
        else:
            with np.errstate(invalid="ignore"):
                decline = activity[:, k] - activity[:, k + 1]
            decline, tickets = np.where(np.isfinite(decline), decline, 0.0), ticket_rate[:, k]
        logit = (
            static
            + m["usage_decline"] * decline
            + m["log1p_tickets_per_10_seats"] * np.log1p(tickets)
        )
        share = (hi - lo) / (int(month_ms[k + 1]) - int(month_ms[k])) if k >= 0 else 1.0
        hazard = 1 - (1 - 1 / (1 + np.exp(-logit))) ** share
        when = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
        lead = rng.uniform(*WIND_DOWN.lead_days, n) * DAY_MS
        leaves = when + lead.astype(np.int64)
        hit = (
            (paid_from < lo)
            & (decided == NEVER)
            & (rng.random(n) < hazard)
            & (leaves >= start_ms)  # an account that left before the period is not in it
        )
        decided[hit] = when[hit]
        churn[hit] = np.where(leaves[hit] < end_ms, leaves[hit] // HOUR_MS * HOUR_MS, NEVER)
    return decided, churn


def wind_down(decided_ms: np.ndarray, at_ms: np.ndarray) -> np.ndarray:
    """(accounts, times) log usage lost to the wind-down at times ``at_ms`` (0 before deciding)."""
    since = at_ms[None, :].astype(np.float64) - decided_ms[:, None].astype(np.float64)
    return WIND_DOWN.decline * np.clip(since / MONTH_MS, 0.0, None)


def wind_down_tickets(
    rng: np.random.Generator,
    decided_ms: np.ndarray,
    churn_ms: np.ndarray,
    day_start_ms: np.ndarray,
) -> np.ndarray:
    """(accounts, days) billing tickets of accounts between deciding to leave and churning."""
    leaving = (day_start_ms[None, :] >= decided_ms[:, None]) & (
        day_start_ms[None, :] < churn_ms[:, None]
    )
    return rng.poisson(leaving * (WIND_DOWN.tickets / 30)).astype(np.int16)
