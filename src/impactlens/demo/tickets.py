"""Support tickets: the per-day counts drawn in lifecycle.py, turned into rows.

Each ticket gets a time in the account's working hours, a user of the account,
a priority (enterprise files more urgent ones), a resolution time (tickets not
solved by the end of the period stay open or pending), a CSAT rating on some
solved tickets (lower when slow), and sometimes a link to the release it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo.lifecycle import TICKET_TAGS
from impactlens.demo.profile import DAY_MS, HOUR_MS, rng_for
from impactlens.demo.sessions import user_end_ms
from impactlens.demo.world import World

PRIORITIES = np.array(["low", "normal", "high", "urgent"])
_PRIORITY_P = {False: [0.3, 0.5, 0.15, 0.05], True: [0.15, 0.45, 0.3, 0.1]}
SOLVE_MEDIAN_HOURS = np.array([20.0, 12.0, 6.0, 2.5])  # by priority
# (tag, release, share of such tickets linked to it, only after the release shipped)
FEATURE_LINKS = (
    ("export;timeout", "export-timeout-fix", 0.6, False),
    ("reports;bulk-actions", "bulk-actions", 0.8, False),
    ("search", "search-v2", 0.3, True),
    ("login", "sso-login", 0.3, True),
)


@dataclass(frozen=True, eq=False)
class TicketRows:
    created_ms: np.ndarray
    solved_ms: np.ndarray  # NEVER for unsolved
    account: np.ndarray
    user: np.ndarray
    priority: np.ndarray
    status: np.ndarray
    tag: np.ndarray  # index into TICKET_TAGS
    feature: np.ndarray  # release id or ""
    satisfaction: np.ndarray  # 0 for none

    @property
    def n(self) -> int:
        return len(self.created_ms)


def make_tickets(world: World) -> TicketRows:
    rng = rng_for(world.seed, "tickets")
    acc, users, life, period = world.accounts, world.users, world.life, world.period
    a, d, tag = np.nonzero(life.tickets)
    k = life.tickets[a, d, tag].astype(np.int64)
    a, d, tag = np.repeat(a, k), np.repeat(d, k), np.repeat(tag, k)
    hour = rng.normal(13, 2.5, len(a)).clip(7, 20)
    created = (
        period.start_ms
        + d.astype(np.int64) * DAY_MS
        + (hour * HOUR_MS).astype(np.int64)
        - acc.tz_offset[a].astype(np.int64) * HOUR_MS
    )
    keep = (created >= np.maximum(acc.created_ms[a], period.start_ms)) & (created < period.end_ms)
    keep &= created < life.churn_ms[a]
    a, tag, created = a[keep], tag[keep], created[keep]
    order = np.lexsort((a, created))
    a, tag, created = a[order], tag[order], created[order]

    # The reporter: a random user of the account present then, else its admin.
    slices = users.account_slices(acc.n)
    pick = slices[a] + (rng.random(len(a)) * (slices[a + 1] - slices[a])).astype(np.int64)
    present = (users.created_ms[pick] <= created) & (
        user_end_ms(users, life, period, pick) > created
    )
    user = np.where(present, pick, slices[a])

    enterprise = acc.segment[a] == 2
    priority = np.where(
        enterprise,
        rng.choice(4, len(a), p=_PRIORITY_P[True]),
        rng.choice(4, len(a), p=_PRIORITY_P[False]),
    )
    hours = rng.lognormal(np.log(SOLVE_MEDIAN_HOURS[priority]), 0.9)
    solved = created + (hours * HOUR_MS).astype(np.int64)
    done = solved < period.end_ms
    status = np.where(done, "solved", np.where(rng.random(len(a)) < 0.3, "pending", "open"))
    rated = done & (rng.random(len(a)) < 0.5)
    export_tag = tag == TICKET_TAGS.index("export;timeout")
    raw = 4.3 - 0.35 * np.log(hours / 10) - 0.5 * export_tag + rng.normal(0, 0.8, len(a))
    satisfaction = np.where(rated, np.round(raw).clip(1, 5), 0).astype(np.int64)

    feature = np.full(len(a), "", dtype=object)
    for tag_name, release, share, after_only in FEATURE_LINKS:
        sel = (tag == TICKET_TAGS.index(tag_name)) & (rng.random(len(a)) < share)
        if after_only:
            sel &= created >= world.timeline.ship[release]
        feature[sel] = release
    return TicketRows(
        created,
        np.where(done, solved, np.iinfo(np.int64).max),
        a,
        user,
        priority,
        status,
        tag,
        feature,
        satisfaction,
    )
