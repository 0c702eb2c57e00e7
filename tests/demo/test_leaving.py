"""The demo's churn decisions and wind-down (demo/leaving.py) on large made-up populations."""

from __future__ import annotations

import numpy as np

from impactlens.demo.leaving import (
    CHURN_MODEL,
    MONTH_MS,
    NEVER,
    WIND_DOWN,
    decide_to_leave,
    wind_down,
    wind_down_tickets,
)
from impactlens.demo.profile import DAY_MS

START = 1_767_225_600_000  # 2026-01-01 UTC, a month start
MONTHS = np.array([START + k * MONTH_MS for k in range(7)])  # six 30-day months


def _sigmoid(x: float) -> float:
    return 1 / (1 + np.exp(-x))


def _decide(n: int, *, decline: float = 0.0, tickets: float = 0.0, detractor: bool = False):
    activity = -decline * np.tile(np.arange(7, dtype=float), (n, 1))
    return decide_to_leave(
        np.random.default_rng(0),
        MONTHS,
        (START, int(MONTHS[-1])),
        np.full(n, START - 400 * DAY_MS),  # paying since long before
        activity,
        np.full((n, 6), tickets),
        np.full(n, detractor),
        np.full(n, 5),
    )


def test_monthly_decisions_follow_the_planted_hazard():
    n = 200_000
    m = CHURN_MODEL
    for kwargs, extra in (
        ({}, 0.0),
        ({"detractor": True}, m["detractor"]),
        ({"decline": 0.7}, m["usage_decline"] * 0.7),
        ({"tickets": 3.0}, m["log1p_tickets_per_10_seats"] * np.log1p(3.0)),
    ):
        decided, _ = _decide(n, **kwargs)
        h = _sigmoid(m["intercept"] + m["log_seats"] * np.log(5) + extra)
        # the first month of the period, among the accounts that had not decided before it
        undecided = decided >= MONTHS[0]
        first = (decided[undecided] < MONTHS[1]).mean()
        n_at_risk = undecided.sum()
        assert abs(first - h) < 4 * np.sqrt(h * (1 - h) / n_at_risk), (kwargs, first, h)


def test_churn_follows_the_decision_within_the_lead_and_inside_the_period():
    decided, churn = _decide(100_000, detractor=True)
    left = churn < NEVER
    lead = (churn[left] - decided[left]) / DAY_MS
    lo, hi = WIND_DOWN.lead_days
    assert lead.min() >= lo - 1 / 24 and lead.max() <= hi  # churn is cut to the hour
    # decided well inside the period: every one churns inside it, lead uniform in range
    inner = (decided >= MONTHS[1]) & (decided < MONTHS[3])
    assert left[inner].all()
    inner_lead = (churn[inner] - decided[inner]) / DAY_MS
    assert abs(inner_lead.mean() - (lo + hi) / 2) < 1
    assert (churn[left] >= START).all() and (churn[left] < MONTHS[-1]).all()
    # decided but still winding down when the period ends: no churn in the data
    assert ((decided < NEVER) & ~left).any()
    # decisions before the period only count when the churn falls inside it
    early = decided < START
    assert early.any() and left[early].all()


def test_accounts_not_yet_paying_do_not_decide():
    n = 50_000
    decided, _ = decide_to_leave(
        np.random.default_rng(1),
        MONTHS,
        (START, int(MONTHS[-1])),
        np.full(n, int(MONTHS[3]) + DAY_MS),  # converts early in the fourth month
        np.zeros((n, 7)),
        np.zeros((n, 6)),
        np.ones(n, dtype=bool),
        np.full(n, 5),
    )
    assert (decided[decided < NEVER] >= MONTHS[4]).all() and (decided < NEVER).any()


def test_wind_down_lowers_usage_and_adds_billing_tickets():
    decided = np.array([START + 10 * DAY_MS, NEVER])
    at = START + np.arange(0, 70) * DAY_MS
    lost = wind_down(decided, at)
    assert (lost[1] == 0).all() and (lost[0, :11] == 0).all()
    assert np.isclose(lost[0, 40], WIND_DOWN.decline)  # 30 days after deciding
    n = 20_000
    churn = np.full(n, START + 40 * DAY_MS)
    tickets = wind_down_tickets(
        np.random.default_rng(2), np.full(n, START + 10 * DAY_MS), churn, at
    )
    assert tickets[:, :10].sum() == 0 and tickets[:, 40:].sum() == 0
    per_30_days = tickets[:, 10:40].sum(axis=1).mean()
    assert abs(per_30_days - WIND_DOWN.tickets) < 0.05
