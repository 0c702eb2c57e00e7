"""What the demo company shipped and tested: the planted releases and experiments.

This is the script of the story. Each planted release carries its true effects
(what the simulation really does), which ``truth.json`` repeats so later
analyses can be checked against them. Days are offsets from the period start;
the defaults put every planted release after >= 56 days of pre-period and
before >= 28 days of post-period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactlens.demo.profile import HOUR_MS, Period, rng_for

TEAMS = ("discovery", "reporting", "growth", "platform")
HOLDOUT_START_DAY = 42
HOLDOUT_SHARE = 0.05


@dataclass(frozen=True)
class Hypothesis:
    """The claim a team wrote down before shipping."""

    metric: str
    expected: str  # increase | decrease
    min_effect: float
    guardrails: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrueEffect:
    """What a release really did, on which metric, for whom (relative change)."""

    metric: str
    relative: float | None  # None: follows from a rate model, not a fixed percentage
    audience: str  # "all" (everyone outside the holdout) | "flag:<key>=true"
    note: str = ""


@dataclass(frozen=True)
class PlantedRelease:
    """One entry of releases.yaml together with its planted truth."""

    id: str
    title: str
    kind: str
    day: int
    hour: int
    team: str
    effort_days: float
    hypothesis: Hypothesis | None = None
    audience_flag: str | None = None
    label: str = "no-hypothesis"  # win | null | harm | confounded | no-hypothesis
    effects: tuple[TrueEffect, ...] = ()

    def shipped_ms(self, period: Period) -> int:
        return period.day_ms(self.day) + self.hour * HOUR_MS


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


# Rates of the error model (see events.py): expected Error Shown per expected
# export = p_fail + kappa. The fix halves p_fail, which is exactly -30% of
# errors; bulk-actions adds errors worth +25% of the post-fix level.
P_FAIL_BEFORE, P_FAIL_AFTER = 0.20, 0.10
ERROR_FIX_EFFECT, BULK_ERROR_EFFECT = -0.30, 0.25
KAPPA = ((1 + ERROR_FIX_EFFECT) * P_FAIL_BEFORE - P_FAIL_AFTER) / -ERROR_FIX_EFFECT  # 0.1333
KAPPA_BULK = (1 + BULK_ERROR_EFFECT) * (P_FAIL_AFTER + KAPPA) - P_FAIL_AFTER  # 0.19166

SEARCH_V2_LIFT = 0.10
TEMPLATES_LIFT = 0.08
SPEEDUP_LIFT = 0.06
SSO_LOGIN_TICKETS = -0.5

PLANTED_RELEASES: tuple[PlantedRelease, ...] = (
    PlantedRelease(
        "search-v2",
        "Faster, typo-tolerant search",
        "feature",
        57,
        10,
        "discovery",
        15,
        Hypothesis("search_click_through", "increase", 0.05, ("error_rate",)),
        audience_flag="search_v2",
        label="win",
        effects=(
            TrueEffect(
                "search_click_through",
                SEARCH_V2_LIFT,
                "flag:search_v2=true",
                "P(click) per search x1.10 for users in the 50% rollout",
            ),
        ),
    ),
    PlantedRelease(
        "export-timeout-fix",
        "Exports no longer time out on large reports",
        "fix",
        63,
        15,
        "reporting",
        3,
        Hypothesis("error_rate", "decrease", 0.2, ("reports_per_active_user",)),
        label="win",
        effects=(
            TrueEffect("error_rate", ERROR_FIX_EFFECT, "all", "Error Shown per Session Started"),
            TrueEffect("export_failure_rate", -0.50, "all", "P(fail) per export 0.20 -> 0.10"),
            TrueEffect(
                "tickets_per_account",
                None,
                "all",
                "export;timeout tickets fall with export errors (rate model, not a fixed %)",
            ),
        ),
    ),
    PlantedRelease(
        "report-templates",
        "Report templates gallery",
        "feature",
        69,
        9,
        "reporting",
        12,
        Hypothesis("reports_per_active_user", "increase", 0.05, ("error_rate",)),
        label="confounded",
        effects=(
            TrueEffect(
                "reports_per_active_user",
                TEMPLATES_LIFT,
                "all",
                "Report Created rate x1.08; shipped 2 days before report-builder-speedup",
            ),
        ),
    ),
    PlantedRelease(
        "report-builder-speedup",
        "Report builder three times faster",
        "release",
        71,
        14,
        "platform",
        8,
        Hypothesis("reports_per_active_user", "increase", 0.03, ("error_rate",)),
        label="confounded",
        effects=(
            TrueEffect(
                "reports_per_active_user",
                SPEEDUP_LIFT,
                "all",
                "Report Created rate x1.06; 2 days after report-templates",
            ),
        ),
    ),
    PlantedRelease(
        "invite-flow-redesign",
        "Simpler teammate invites",
        "feature",
        84,
        11,
        "growth",
        6,
        Hypothesis("invites_per_account", "increase", 0.10, ("weekly_active_users",)),
        label="null",
        effects=(TrueEffect("invites_per_account", 0.0, "all", "no real effect"),),
    ),
    PlantedRelease("csv-import", "CSV import for data sources", "feature", 90, 13, "platform", 10),
    PlantedRelease(
        "sso-login",
        "SAML single sign-on",
        "feature",
        99,
        10,
        "platform",
        9,
        effects=(
            TrueEffect(
                "tickets_per_account",
                SSO_LOGIN_TICKETS,
                "all",
                "login-tagged tickets halve; no hypothesis was written",
            ),
        ),
    ),
    PlantedRelease(
        "search-filters-fix", "Search filters keep their state", "fix", 105, 16, "discovery", 2
    ),
    PlantedRelease("billing-page-refresh", "Clearer billing page", "release", 111, 12, "growth", 4),
    PlantedRelease(
        "bulk-actions",
        "Bulk actions on reports",
        "feature",
        132,
        10,
        "reporting",
        10,
        Hypothesis(
            "reports_per_active_user", "increase", 0.05, ("error_rate", "tickets_per_account")
        ),
        label="harm",
        effects=(
            TrueEffect("reports_per_active_user", 0.0, "all", "no primary effect"),
            TrueEffect(
                "error_rate",
                BULK_ERROR_EFFECT,
                "all",
                "E_BULK_ACTION errors: +25% of the post-fix level",
            ),
        ),
    ),
    PlantedRelease("dark-mode", "Dark mode", "feature", 140, 15, "platform", 5),
    PlantedRelease("weekly-digest-email", "Weekly digest email", "feature", 148, 9, "growth", 5),
)

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

_MINOR_TITLES = (
    ("fix", "Fix {} pagination"),
    ("fix", "Fix {} timezone bug"),
    ("release", "Faster {} load"),
    ("fix", "Fix {} permissions check"),
    ("release", "Refresh {} styles"),
    ("fix", "Fix {} crash on empty data"),
    ("release", "Upgrade {} dependencies"),
)
_AREAS = ("search", "reports", "dashboards", "billing", "settings", "exports", "api", "onboarding")


def release_catalog(period: Period, extra: int, seed: int) -> tuple[PlantedRelease, ...]:
    """The planted releases plus ``extra`` minor ones (no hypothesis, no effect)."""
    rng = rng_for(seed, "minor-releases")
    minor = []
    for n in range(extra):
        kind, template = _MINOR_TITLES[rng.integers(len(_MINOR_TITLES))]
        area = _AREAS[rng.integers(len(_AREAS))]
        day = int(rng.integers(10, period.n_days - 3))
        minor.append(
            PlantedRelease(
                f"{kind}-{area}-{n + 1:02d}",
                template.format(area),
                kind,
                day,
                int(rng.integers(8, 18)),
                TEAMS[rng.integers(len(TEAMS))],
                float(rng.integers(1, 6)),
            )
        )
    return PLANTED_RELEASES + tuple(sorted(minor, key=lambda r: (r.day, r.id)))


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
