"""DORA performance bands (elite / high / medium / low), after the 2023 State of DevOps report.

The 2023 report (Accelerate State of DevOps, Google Cloud / DORA, 2023)
describes four clusters:

| cluster | deployment frequency | lead time for changes | change failure rate | failed deployment recovery time |
|---|---|---|---|---|
| elite  | on demand (multiple deploys per day) | less than one day | 5% | less than one hour |
| high   | between once per day and once per week | between one day and one week | 10% | less than one day |
| medium | between once per week and once per month | between one week and one month | 15% | between one day and one week |
| low    | between once per week and once per month | between one week and one month | 64% | between one month and six months |

Clusters are descriptions, not cut-offs: the low and medium throughput ranges
overlap and the change failure rates are cluster medians. The thresholds
below turn them into a classification (docs/delivery.md explains each choice):
a figure is in the best band whose bound it meets.
"""

from __future__ import annotations

from dataclasses import dataclass

Band = str  # "elite" | "high" | "medium" | "low"

DAY_H, WEEK_H, MONTH_H = 24.0, 168.0, 720.0

# deploys per day: at least daily; at least weekly; at least monthly (30 days); less.
DEPLOY_FREQUENCY = ((1.0, "elite"), (1 / 7, "high"), (1 / 30, "medium"))
# lead time hours (median): < 1 day; <= 1 week; <= 30 days; longer.
LEAD_TIME = ((DAY_H, "elite", False), (WEEK_H, "high", True), (MONTH_H, "medium", True))
# change failure rate: <= 5%; <= 10%; <= 15%; more.
CHANGE_FAILURE = ((0.05, "elite"), (0.10, "high"), (0.15, "medium"))
# time to restore hours (median): < 1 hour; < 1 day; <= 1 week; longer.
RESTORE = ((1.0, "elite", False), (DAY_H, "high", False), (WEEK_H, "medium", True))


@dataclass(frozen=True)
class DoraBands:
    """The band of each figure; None when the figure could not be computed."""

    deployment_frequency: Band | None
    lead_time: Band | None
    change_failure_rate: Band | None
    time_to_restore: Band | None


def _at_least(value: float | None, bounds: tuple[tuple[float, str], ...]) -> Band | None:
    if value is None:
        return None
    return next((band for bound, band in bounds if value >= bound), "low")


def _at_most(value: float | None, bounds: tuple[tuple[float, str], ...]) -> Band | None:
    if value is None:
        return None
    return next((band for bound, band in bounds if value <= bound), "low")


def _below(value: float | None, bounds: tuple[tuple[float, str, bool], ...]) -> Band | None:
    """Bands for durations; each bound is strict (<) or inclusive (<=)."""
    if value is None:
        return None
    for bound, band, inclusive in bounds:
        if value < bound or (inclusive and value == bound):
            return band
    return "low"


def classify(
    deploys_per_day: float | None,
    lead_time_hours: float | None,
    change_failure_rate: float | None,
    restore_hours: float | None,
) -> DoraBands:
    """Place each figure in its band.

    >>> classify(2.0, 30.0, 0.12, 0.5)
    DoraBands(deployment_frequency='elite', lead_time='high', change_failure_rate='medium', time_to_restore='elite')
    """
    return DoraBands(
        deployment_frequency=_at_least(deploys_per_day, DEPLOY_FREQUENCY),
        lead_time=_below(lead_time_hours, LEAD_TIME),
        change_failure_rate=_at_most(change_failure_rate, CHANGE_FAILURE),
        time_to_restore=_below(restore_hours, RESTORE),
    )
