"""``Experiment Viewed`` events: who saw which arm, and when.

Exposure rules (first exposure per user counts; a quarter of users log a repeat):

- onboarding-checklist: at signup, for signups in the window outside the holdout;
- team-dashboards: at a user's first session in the window; the arm is the account's;
- search-autocomplete: at a user's first search in the window; the logging of
  ~10% of the treatment arm's users is lost (the planted sample-ratio mismatch).
"""

from __future__ import annotations

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo import properties as p
from impactlens.demo.blocks import Block
from impactlens.demo.lifecycle import NEVER
from impactlens.demo.tally import Tally
from impactlens.demo.world import World

REPEAT_SHARE = 0.25
_EXPERIMENTS = {e.id: e for e in c.PLANTED_EXPERIMENTS}


def viewed(
    experiment_id: str,
    user: np.ndarray,
    ts: np.ndarray,
    treat: np.ndarray,
    window: tuple[int, int],
    rng: np.random.Generator,
    anon: np.ndarray | None = None,
) -> Block:
    """Exposure events for units (first + some repeats inside the window)."""
    repeat = rng.random(len(ts)) < REPEAT_SHARE
    again = ts + rng.integers(3_600_000, 7 * 86_400_000, len(ts))
    repeat &= again < window[1]
    ts_all = np.r_[ts, again[repeat]]
    arm = np.r_[treat, treat[repeat]].astype(np.int8)
    variations = _EXPERIMENTS[experiment_id].variations
    props = p.objects(
        [
            ("experiment_id", p.choices((experiment_id,), np.zeros(len(arm), np.int8))),
            ("variation_id", p.choices(variations, arm)),
        ],
        np.zeros(len(arm), np.int8),
    )
    return Block(
        "Experiment Viewed",
        ts_all,
        np.r_[user, user[repeat]],
        props,
        None if anon is None else np.r_[anon, anon[repeat]],
    )


def exposure_blocks(
    world: World, idx: np.ndarray, tally: Tally, rng: np.random.Generator
) -> list[Block]:
    """Exposures of the batch's users ``idx`` to the user- and account-level experiments."""
    asg, users, windows = world.assign, world.users, world.timeline.windows
    onboard = idx[asg.onboarding_exposed[idx]]
    blocks = [
        viewed(
            "onboarding-checklist",
            onboard,
            users.created_ms[onboard] + 20_000,
            asg.onboarding_treat[onboard],
            windows["onboarding-checklist"],
            rng,
        )
    ]
    dash = idx[tally.dash_exposed[idx] < NEVER]
    blocks.append(
        viewed(
            "team-dashboards",
            dash,
            tally.dash_exposed[dash] + 3_000,
            asg.dashboards_treat[users.account[dash]],
            windows["team-dashboards"],
            rng,
        )
    )
    search = idx[(tally.search_exposed[idx] < NEVER) & ~asg.autocomplete_lost[idx]]
    blocks.append(
        viewed(
            "search-autocomplete",
            search,
            tally.search_exposed[search] - 500,
            asg.autocomplete_treat[search],
            windows["search-autocomplete"],
            rng,
        )
    )
    return blocks
