"""Checkout: anonymous pricing-page visitors and trial accounts converting to paid.

Visitors carry only an ``anonymous_id``. During ``pricing-page-copy`` each visitor
is bucketed by a hash of that id; both arms convert at the same rates (the
planted null effect on checkout_conversion).
"""

from __future__ import annotations

import numpy as np

from impactlens.demo import properties as p
from impactlens.demo.blocks import Block
from impactlens.demo.company import PLANS, PRICE_PER_SEAT
from impactlens.demo.exposures import viewed
from impactlens.demo.profile import DAY_MS, HOUR_MS, hash_bucket
from impactlens.demo.tally import Tally
from impactlens.demo.world import World

P_CHECKOUT_STARTED = 0.08
P_CHECKOUT_COMPLETED = 0.35  # given started, in both arms
P_TRIAL_ABANDONED_CHECKOUT = 0.4


def visitor_blocks(
    world: World, days: range, first_visitor: int, rng: np.random.Generator, tally: Tally
) -> tuple[list[Block], int]:
    """Visitors of ``days``; returns the blocks and the next free visitor number."""
    period = world.period
    d = np.arange(days.start, days.stop)
    growth = 1 + 0.5 * d / period.n_days
    rate = (
        world.profile.anon_visitors_per_day
        * period.weekday_factor()[d]
        * world.day_noise[d]
        * growth
    )
    per_day = rng.poisson(rate)
    n = int(per_day.sum())
    visitor = first_visitor + np.arange(n)
    ts = (
        period.start_ms
        + np.repeat(d, per_day).astype(np.int64) * DAY_MS
        + (rng.uniform(7, 23, n) * HOUR_MS).astype(np.int64)
    )
    none = np.full(n, -1)
    blocks = [
        Block(
            "Session Started",
            ts,
            none,
            p.objects([("page", '"/pricing"')], np.zeros(n, np.int8)),
            visitor,
        )
    ]

    window = world.timeline.windows["pricing-page-copy"]
    inside = (ts >= window[0]) & (ts < window[1])
    ids = [f"anon-{v:07d}" for v in visitor[inside]]
    treat = hash_bucket(ids, "pricing-page-copy") >= 0.5
    blocks.append(
        viewed(
            "pricing-page-copy",
            none[inside],
            ts[inside] + 2_000,
            treat,
            window,
            rng,
            anon=visitor[inside],
        )
    )

    started = rng.random(n) < P_CHECKOUT_STARTED
    completed = started & (rng.random(n) < P_CHECKOUT_COMPLETED)
    plan = rng.choice(2, n, p=[0.7, 0.3])
    seats = rng.geometric(0.3, n).clip(1, 20)
    start_ts = ts + rng.integers(60_000, 20 * 60_000, n)
    done_ts = start_ts + rng.integers(60_000, 10 * 60_000, n)
    blocks.append(
        Block(
            "Checkout Started",
            start_ts[started],
            none[started],
            p.objects(
                [("plan", p.choices(PLANS, plan[started]))], np.zeros(int(started.sum()), np.int8)
            ),
            visitor[started],
        )
    )
    blocks.append(
        Block(
            "Checkout Completed",
            done_ts[completed],
            none[completed],
            p.objects(
                [
                    ("plan", p.choices(PLANS, plan[completed])),
                    ("amount", p.numbers(seats[completed] * PRICE_PER_SEAT[plan[completed]])),
                ],
                np.zeros(int(completed.sum()), np.int8),
            ),
            visitor[completed],
        )
    )
    for key, values in (
        ("treat", treat),
        ("started", started[inside]),
        ("completed", completed[inside]),
    ):
        tally.visitors[key] = np.r_[tally.visitors.get(key, np.zeros(0, bool)), values]
    return blocks, first_visitor + n


def trial_blocks(world: World, accounts_idx: np.ndarray, rng: np.random.Generator) -> list[Block]:
    """Checkout by the admin of trial accounts: completed on conversion, some abandoned."""
    acc, life, period = world.accounts, world.life, world.period
    first_user = world.users.account_slices(acc.n)  # an account's first user is its admin
    conv = accounts_idx[life.conversion_ms[accounts_idx] < period.end_ms]
    lost = accounts_idx[(life.churn_reason[accounts_idx] == "trial_expired")]
    lost = lost[rng.random(len(lost)) < P_TRIAL_ABANDONED_CHECKOUT]
    conv_admin, lost_admin = first_user[conv], first_user[lost]
    done_ts = life.conversion_ms[conv]
    start_ts = np.r_[
        done_ts - rng.integers(2, 15, len(conv)) * 60_000,
        life.churn_ms[lost] - rng.integers(DAY_MS, 3 * DAY_MS, len(lost)),
    ]
    plan_all = np.r_[acc.plan[conv], acc.plan[lost]]
    amount = np.round(life.seats[conv, 0] * PRICE_PER_SEAT[acc.plan[conv]], 2)
    starter = np.r_[conv_admin, lost_admin]
    started = Block(
        "Checkout Started",
        start_ts,
        starter,
        p.objects([("plan", p.choices(PLANS, plan_all))], _flags(world, starter, start_ts)),
    )
    completed = Block(
        "Checkout Completed",
        done_ts,
        conv_admin,
        p.objects(
            [("plan", p.choices(PLANS, acc.plan[conv])), ("amount", p.numbers(amount))],
            _flags(world, conv_admin, done_ts),
        ),
    )
    return [started, completed]


def _flags(world: World, user: np.ndarray, ts: np.ndarray) -> np.ndarray:
    hold = world.accounts.holdout[world.users.account[user]]
    tl = world.timeline
    return p.flag_state(
        ts, hold, world.users.search_v2[user], tl.holdout_start, tl.ship["search-v2"]
    )
