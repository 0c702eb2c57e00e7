"""The script of the story: planted releases and experiments, and their timeline.

Other modules read the planted numbers through this one module (``catalog as
c``): the releases and their effect sizes live in releases.py, the experiments
in experiments.py; :class:`Timeline` turns their days into instants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo.experiments import (
    AUTOCOMPLETE_DROP,
    ONBOARDING_BASE,
    ONBOARDING_LIFT,
    PLANTED_EXPERIMENTS,
    TEAM_DASHBOARDS_LIFT,
    TEAM_DASHBOARDS_MIN_AGE_DAYS,
    PlantedExperiment,
)
from impactlens.demo.profile import Period
from impactlens.demo.releases import (
    BULK_ERROR_EFFECT,
    ERROR_FIX_EFFECT,
    KAPPA,
    KAPPA_BULK,
    P_FAIL_AFTER,
    P_FAIL_BEFORE,
    PLANTED_RELEASES,
    SEARCH_V2_LIFT,
    SPEEDUP_LIFT,
    SSO_LOGIN_TICKETS,
    TEAMS,
    TEMPLATES_LIFT,
    Hypothesis,
    PlantedRelease,
    TrueEffect,
    release_catalog,
)

__all__ = [
    "AUTOCOMPLETE_DROP",
    "BULK_ERROR_EFFECT",
    "ERROR_FIX_EFFECT",
    "HOLDOUT_SHARE",
    "HOLDOUT_START_DAY",
    "KAPPA",
    "KAPPA_BULK",
    "ONBOARDING_BASE",
    "ONBOARDING_LIFT",
    "PLANTED_EXPERIMENTS",
    "PLANTED_RELEASES",
    "P_FAIL_AFTER",
    "P_FAIL_BEFORE",
    "SEARCH_V2_LIFT",
    "SPEEDUP_LIFT",
    "SSO_LOGIN_TICKETS",
    "TEAMS",
    "TEAM_DASHBOARDS_LIFT",
    "TEAM_DASHBOARDS_MIN_AGE_DAYS",
    "TEMPLATES_LIFT",
    "Hypothesis",
    "PlantedExperiment",
    "PlantedRelease",
    "Timeline",
    "TrueEffect",
    "release_catalog",
]

# The holdout starts before the first planted release (day 57) so every release
# can be measured against it; 5% of the accounts existing then are held out.
HOLDOUT_START_DAY = 42
HOLDOUT_SHARE = 0.05


@dataclass(frozen=True)
class Timeline:
    """The instants (epoch ms) the simulation switches behaviour at."""

    holdout_start: int
    ship: dict[str, int]
    windows: dict[str, tuple[int, int]]

    @classmethod
    def of(cls, period: Period) -> Timeline:
        return cls(
            holdout_start=period.day_ms(HOLDOUT_START_DAY),
            ship={r.id: r.shipped_ms(period) for r in PLANTED_RELEASES},
            windows={e.id: e.window_ms(period) for e in PLANTED_EXPERIMENTS},
        )

    def after(self, release_id: str, ts: np.ndarray) -> np.ndarray:
        return ts >= self.ship[release_id]
