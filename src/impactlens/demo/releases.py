"""The planted releases: what each team shipped, and what it really did.

Each planted release carries its true effects (what the simulation does), which
truth.json repeats so later analyses can be checked against them. Days are
offsets from the period start; the defaults put every planted release after
>= 56 days of pre-period and before >= 28 days of post-period, keep the two
error_rate releases 69 days apart, and ship report-templates and
report-builder-speedup two days apart on purpose (the confounded pair).
"""

from __future__ import annotations

from dataclasses import dataclass

from impactlens.demo.profile import HOUR_MS, Period, rng_for

TEAMS = ("discovery", "reporting", "growth", "platform")


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
