"""Track events of one batch of sessions, with every planted effect applied.

Each session draws counts of each action from Poisson (or Bernoulli) rates; the
rates carry the planted effects (catalog.py) for the users and times they apply
to. Per-session rates at a glance (before account and user multipliers):

- searches 1.6 x role, P(click | search) = user's click_p, x1.10 with search_v2;
- dashboards 0.8 x account habit x role, x1.30 in team-dashboards' treatment arm;
- reports 0.35 x role, x1.08 after report-templates, x1.06 after the speedup
  (signups: none in week one unless activated, then at least one);
- export attempts = user's export rate; each fails (Export Failed instead of
  Report Exported) with P = p_fail x account factor;
- Error Shown = one per failed export + Poisson(kappa x export rate x factor);
- invites 0.04 x role (admins 4x).

Users in the holdout get none of the release effects once the holdout starts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo import properties as p
from impactlens.demo.blocks import Block
from impactlens.demo.lifecycle import error_params
from impactlens.demo.sessions import Sessions
from impactlens.demo.tally import Tally
from impactlens.demo.world import World

Flags = Callable[[np.ndarray, np.ndarray], np.ndarray]

SEARCHES_PER_SESSION = 1.6
SEARCH_ROLE = np.array([0.9, 1.3, 0.8])
DASHBOARDS_PER_SESSION = 0.8
DASHBOARD_ROLE = np.array([0.8, 0.9, 1.3])
REPORTS_PER_SESSION = 0.35
REPORT_ROLE = np.array([0.8, 1.6, 0.3])
INVITES_PER_SESSION = 0.04
INVITE_ROLE = np.array([4.0, 1.0, 0.3])
LATENCY_MEDIAN_MS, LATENCY_V2_MEDIAN_MS = 320.0, 190.0
FORMATS = ("csv", "pdf", "xlsx")
OTHER_ERROR_CODES = ("E_NETWORK", "E_RENDER", "E_PERMISSION")
ROLE_NAMES = ("admin", "analyst", "viewer")
SECOND = 1000
MINUTE = 60 * SECOND


def session_events(
    world: World, s: Sessions, rng: np.random.Generator, tally: Tally
) -> list[Block]:
    """All track events that happen inside sessions (plus signup and onboarding)."""
    users, accounts, tl = world.users, world.accounts, world.timeline
    u = s.user
    a = users.account[u]
    role = users.role[u]
    hold = accounts.holdout[a]
    improved = ~(hold & (s.ts >= tl.holdout_start))
    n = s.n

    def flags(idx: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Flag state of events of sessions ``idx`` at their own time ``ts``."""
        return p.flag_state(
            ts, hold[idx], users.search_v2[u[idx]], tl.holdout_start, tl.ship["search-v2"]
        )

    def at(event: str, idx: np.ndarray, ts: np.ndarray, fields: list) -> Block:
        return Block(event, ts, u[idx], p.objects(fields, flags(idx, ts)))

    def later(idx: np.ndarray, lo: int, hi: int) -> np.ndarray:
        return s.ts[idx] + rng.integers(lo, hi, len(idx))

    blocks = [at("Session Started", np.arange(n), s.ts, [])]
    new = np.flatnonzero(s.signup)
    first_user = users.account_slices(accounts.n)[:-1]
    invited = ~np.isin(u[new], first_user)
    source = np.where(invited, 0, np.where(rng.random(len(new)) < 0.7, 1, 2))
    blocks.append(
        at(
            "Signed Up",
            new,
            s.ts[new] - SECOND,
            [("source", p.choices(("invite", "organic", "paid"), source))],
        )
    )

    # Search and click-through; search_v2 users get faster results and more clicks.
    si = np.repeat(np.arange(n), rng.poisson(SEARCHES_PER_SESSION * SEARCH_ROLE[role]))
    search_ts = later(si, 5 * SECOND, 15 * MINUTE)
    v2 = flags(si, search_ts) == p.SEARCH_V2_ON
    latency = rng.lognormal(np.log(np.where(v2, LATENCY_V2_MEDIAN_MS, LATENCY_MEDIAN_MS)), 0.45)
    blocks.append(
        at(
            "Search Performed",
            si,
            search_ts,
            [
                ("query_length", p.numbers(rng.poisson(11, len(si)).clip(1, 60))),
                ("latency_ms", p.numbers(np.round(latency).astype(np.int64))),
            ],
        )
    )
    click_p = users.click_p[u[si]] * np.where(v2, 1 + c.SEARCH_V2_LIFT, 1.0)
    clicked = rng.random(len(si)) < click_p
    ci = si[clicked]
    blocks.append(
        at(
            "Search Result Clicked",
            ci,
            search_ts[clicked] + rng.integers(2, 40, len(ci)) * SECOND,
            [("position", p.numbers(rng.geometric(0.45, len(ci)).clip(1, 10)))],
        )
    )
    tally.searches(u[si], search_ts, clicked, ~hold[si])

    # Dashboards, with the team-dashboards experiment for exposed treatment users.
    dash_rate = DASHBOARDS_PER_SESSION * accounts.dashboard_factor[a] * DASHBOARD_ROLE[role]
    # team-dashboards exposure: a user's first session in the window, for accounts outside
    # the holdout that existed before the pre-period a CUPED adjustment would use.
    w0 = tl.windows["team-dashboards"][0]
    established = accounts.created_ms[a] < w0 - c.TEAM_DASHBOARDS_MIN_AGE_DAYS * 86_400_000
    tally.first_in_window(
        u, s.ts, ~hold & established, tl.windows["team-dashboards"], tally.dash_exposed
    )
    exposed_at = tally.dash_exposed
    w1 = tl.windows["team-dashboards"][1]
    treated = world.assign.dashboards_treat[a] & (s.ts >= exposed_at[u]) & (s.ts < w1)
    di = np.repeat(
        np.arange(n), rng.poisson(dash_rate * np.where(treated, 1 + c.TEAM_DASHBOARDS_LIFT, 1.0))
    )
    dash_ts = later(di, 10 * SECOND, 20 * MINUTE)
    blocks.append(at("Dashboard Viewed", di, dash_ts, []))
    tally.dashboards(u[di], dash_ts)

    blocks.append(_reports(world, s, u, role, improved, flags, rng, tally))
    blocks.extend(_exports_and_errors(world, s, u, a, improved, flags, rng))

    ii = np.repeat(np.arange(n), rng.poisson(INVITES_PER_SESSION * INVITE_ROLE[role]))
    blocks.append(
        at(
            "User Invited",
            ii,
            later(ii, 30 * SECOND, 20 * MINUTE),
            [("role", p.choices(ROLE_NAMES, rng.choice(3, len(ii), p=[0.1, 0.35, 0.55])))],
        )
    )
    blocks.append(_onboarding(world, s, new, flags, rng))
    return blocks


def _reports(
    world: World,
    s: Sessions,
    u: np.ndarray,
    role: np.ndarray,
    improved: np.ndarray,
    flags: Flags,
    rng: np.random.Generator,
    tally: Tally,
) -> Block:
    """Report Created, with week-one activation decided per signup (activation_7d)."""
    tl, users = world.timeline, world.users
    templates = improved & (s.ts >= tl.ship["report-templates"])
    speedup = improved & (s.ts >= tl.ship["report-builder-speedup"])
    rate = REPORTS_PER_SESSION * REPORT_ROLE[role]
    rate = (
        rate
        * np.where(templates, 1 + c.TEMPLATES_LIFT, 1.0)
        * np.where(speedup, 1 + c.SPEEDUP_LIFT, 1.0)
    )
    ri = np.repeat(np.arange(s.n), rng.poisson(rate))
    ts = s.ts[ri] + rng.integers(MINUTE, 25 * MINUTE, len(ri))
    owner = u[ri]
    # Non-activated signups create no report in their first week.
    week_one = ts < users.created_ms[owner] + 7 * 86_400_000
    keep = ~((world.assign.activated[owner] == 0) & week_one)
    ri, ts = ri[keep], ts[keep]
    # Activated signups create one within the week (besides any Poisson ones).
    new = np.flatnonzero(s.signup & (world.assign.activated[u] == 1))
    first_ts = s.ts[new] + (np.minimum(rng.exponential(1.2, len(new)), 6.9) * 86_400_000).astype(
        np.int64
    )
    idx = np.r_[ri, new]
    ts = np.r_[ts, first_ts]
    template = templates[idx] & (rng.random(len(idx)) < 0.3)
    tally.reports(u[idx], ts)
    return Block(
        "Report Created",
        ts,
        u[idx],
        p.objects(
            [("source", p.choices(("blank", "template"), template.astype(np.int8)))], flags(idx, ts)
        ),
    )


def _exports_and_errors(
    world: World,
    s: Sessions,
    u: np.ndarray,
    a: np.ndarray,
    improved: np.ndarray,
    flags: Flags,
    rng: np.random.Generator,
) -> list[Block]:
    """Export attempts: a success is ``Report Exported``; a failure (a timeout) is
    ``Export Failed`` followed by ``Error Shown``. So export_failure_rate =
    failed / (exported + failed) = P(fail), and other errors come on top."""
    users, accounts, tl = world.users, world.accounts, world.timeline
    factor = accounts.error_factor[a]
    p_fail, kappa = error_params(improved, s.ts, tl.ship)
    ei = np.repeat(np.arange(s.n), rng.poisson(users.export_rate[u]))
    export_ts = s.ts[ei] + rng.integers(30 * SECOND, 25 * MINUTE, len(ei))
    fmt = rng.choice(3, len(ei), p=[0.5, 0.3, 0.2])
    failed = rng.random(len(ei)) < np.minimum(p_fail[ei] * factor[ei], 0.95)
    fi, fail_ts = ei[failed], export_ts[failed] + rng.integers(20, 90, int(failed.sum())) * SECOND
    fmt_json = p.choices(FORMATS, fmt)
    ok, ok_ts = ei[~failed], export_ts[~failed]
    blocks = [
        Block(
            "Report Exported",
            ok_ts,
            u[ok],
            p.objects([("format", fmt_json.filter(~failed))], flags(ok, ok_ts)),
        ),
        Block(
            "Export Failed",
            fail_ts,
            u[fi],
            p.objects(
                [("format", fmt_json.filter(failed)), ("reason", '"timeout"')], flags(fi, fail_ts)
            ),
        ),
        Block(
            "Error Shown",
            fail_ts + 500,
            u[fi],
            p.objects([("code", '"E_EXPORT_TIMEOUT"')], flags(fi, fail_ts + 500)),
        ),
    ]
    for code_json, rate in (
        (None, c.KAPPA * factor * users.export_rate[u]),
        ('"E_BULK_ACTION"', (kappa - c.KAPPA) * factor * users.export_rate[u]),
    ):
        oi = np.repeat(np.arange(s.n), rng.poisson(rate))
        ts = s.ts[oi] + rng.integers(5 * SECOND, 20 * MINUTE, len(oi))
        code = code_json or p.choices(OTHER_ERROR_CODES, rng.choice(3, len(oi), p=[0.5, 0.3, 0.2]))
        blocks.append(Block("Error Shown", ts, u[oi], p.objects([("code", code)], flags(oi, ts))))
    return blocks


STEPS = ("create_workspace", "connect_data", "build_report", "invite_teammate", "share_dashboard")


def _onboarding(
    world: World, s: Sessions, new: np.ndarray, flags: Flags, rng: np.random.Generator
) -> Block:
    """Onboarding steps in a signup's first days; the checklist arm completes more."""
    asg = world.assign
    who = s.user[new]
    p_step = (
        0.45
        + 0.2 * (asg.onboarding_exposed[who] & asg.onboarding_treat[who])
        + 0.15 * (asg.activated[who] == 1)
    )
    done = rng.random((len(new), len(STEPS))) < p_step[:, None]
    gaps = rng.exponential(4 * 3_600_000, (len(new), len(STEPS))).astype(np.int64)
    when = s.ts[new][:, None] + np.cumsum(gaps, axis=1)
    row, step = np.nonzero(done)
    return Block(
        "Onboarding Step Completed",
        when[row, step],
        who[row],
        p.objects(
            [("step", p.choices(STEPS, step)), ("step_index", p.numbers(step + 1))],
            flags(new[row], when[row, step]),
        ),
    )
