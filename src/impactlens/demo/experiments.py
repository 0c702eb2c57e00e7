"""The planted experiments: arms, windows and the true lift of each.

Arms are assigned 50/50 by a stable hash of the unit id (see world.py);
exposures are logged as ``Experiment Viewed`` (see exposures.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from impactlens.demo.profile import Period


@dataclass(frozen=True)
class PlantedExperiment:
    """One entry of experiments.yaml together with its planted truth."""

    id: str
    name: str
    hypothesis: str
    primary_metric: str
    guardrails: tuple[str, ...]
    variations: tuple[str, str]
    unit: str  # user | account
    start_day: int
    end_day: int  # inclusive
    true_lift: float  # relative, on the primary metric, for exposed treatment units
    audience: str
    label: str  # win | null | srm
    weights: tuple[float, float] = (0.5, 0.5)

    def window_ms(self, period: Period) -> tuple[int, int]:
        """[start, end) of exposure, in epoch ms."""
        return period.day_ms(self.start_day), period.day_ms(self.end_day + 1)


ONBOARDING_BASE, ONBOARDING_LIFT = 0.60, 0.15
TEAM_DASHBOARDS_LIFT = 0.30
TEAM_DASHBOARDS_MIN_AGE_DAYS = 28  # eligible accounts existed 28 days before the start
AUTOCOMPLETE_DROP = 0.15  # share of treatment users whose exposure logging is lost

PLANTED_EXPERIMENTS: tuple[PlantedExperiment, ...] = (
    PlantedExperiment(
        "onboarding-checklist",
        "Onboarding checklist",
        "A checklist raises week-1 activation",
        "activation_7d",
        ("tickets_per_account",),
        ("control", "checklist"),
        "user",
        21,
        165,
        ONBOARDING_LIFT,
        "users who sign up during the window (outside the holdout)",
        "win",
    ),
    PlantedExperiment(
        "pricing-page-copy",
        "Pricing page copy",
        "Value-led copy raises checkout conversion",
        "checkout_conversion",
        (),
        ("control", "value-copy"),
        "user",
        77,
        125,
        0.0,
        "anonymous visitors of the pricing page",
        "null",
    ),
    PlantedExperiment(
        "search-autocomplete",
        "Search autocomplete",
        "Autocomplete raises search click-through",
        "search_click_through",
        ("error_rate",),
        ("control", "autocomplete"),
        "user",
        112,
        146,
        0.0,
        "users who search during the window (outside the holdout)",
        "srm",
    ),
    PlantedExperiment(
        "team-dashboards",
        "Team dashboards",
        "Shared team dashboards raise dashboard use",
        "dashboards_per_user",
        ("error_rate",),
        ("control", "team-dashboards"),
        "account",
        119,
        165,
        TEAM_DASHBOARDS_LIFT,
        "accounts outside the holdout created >= 28 days before the start; every active user of "
        "an account sees its arm",
        "win",
    ),
)
