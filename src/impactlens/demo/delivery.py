"""Deployments and incidents (DORA): planted rates, and the figures the rows yield.

Three services deploy on workdays at known rates; each deploy's lead time
(commit to deploy) is lognormal with a known median; a known share fails or is
rolled back, and most of those cause an incident with a lognormal time to
restore. Every release has its own successful deploy at ``shipped_at``;
bulk-actions was first rolled back the day before (with an incident).
``dora_figures`` recomputes the DORA numbers from the rows, exactly as a test
would from deployments.csv / incidents.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from impactlens.demo.catalog import PlantedRelease
from impactlens.demo.profile import DAY_MS, HOUR_MS, Period, rng_for

SERVICES = ("web", "api", "worker")
TEAM_SERVICE = {"discovery": "web", "reporting": "worker", "growth": "web", "platform": "api"}
PLANTED: dict[str, Any] = {
    "deploys_per_workday": {"web": 1.5, "api": 1.0, "worker": 0.5},
    "deploys_per_weekend_day": 0.05,
    "p_failed": 0.06,
    "p_rolled_back": 0.04,
    "lead_time_median_hours": 20.0,
    "lead_time_log_sd": 0.9,
    "p_incident_given_failure": 0.8,
    "time_to_restore_median_hours": 1.5,
    "time_to_restore_log_sd": 0.8,
    "unrelated_incidents_per_30_days": 1.0,
}
SEVERITIES = np.array(["sev1", "sev2", "sev3"])


@dataclass(frozen=True, eq=False)
class Delivery:
    deploy_ids: np.ndarray
    service: np.ndarray
    deployed_ms: np.ndarray
    committed_ms: np.ndarray
    sha: np.ndarray
    release_id: np.ndarray
    status: np.ndarray
    incident_ids: np.ndarray
    started_ms: np.ndarray
    resolved_ms: np.ndarray
    severity: np.ndarray
    incident_deploy: np.ndarray  # deploy id or ""
    incident_release: np.ndarray


def make_delivery(period: Period, releases: Sequence[PlantedRelease], seed: int) -> Delivery:
    rng = rng_for(seed, "delivery")
    weekend = period.weekday_factor() < 0.5
    service, deployed, release_id, status = [], [], [], []
    for name in SERVICES:
        rate = np.where(
            weekend, PLANTED["deploys_per_weekend_day"], PLANTED["deploys_per_workday"][name]
        )
        per_day = rng.poisson(rate)
        day = np.repeat(np.arange(period.n_days), per_day)
        ts = (
            period.start_ms
            + day.astype(np.int64) * DAY_MS
            + (rng.uniform(8, 19, len(day)) * HOUR_MS).astype(np.int64)
        )
        u = rng.random(len(day))
        st = np.where(
            u < PLANTED["p_failed"],
            "failed",
            np.where(u < PLANTED["p_failed"] + PLANTED["p_rolled_back"], "rolled_back", "success"),
        )
        service += [name] * len(day)
        deployed += ts.tolist()
        release_id += [""] * len(day)
        status += st.tolist()
    for r in releases:
        svc = TEAM_SERVICE[r.team]
        if r.id == "bulk-actions":  # first attempt rolled back the day before
            service.append(svc)
            deployed.append(r.shipped_ms(period) - DAY_MS - 30 * 60_000)
            release_id.append(r.id)
            status.append("rolled_back")
        service.append(svc)
        deployed.append(r.shipped_ms(period) - 20 * 60_000)
        release_id.append(r.id)
        status.append("success")

    deployed_a = np.array(deployed, dtype=np.int64)
    order = np.argsort(deployed_a, kind="stable")
    deployed_a = deployed_a[order] // 1000 * 1000  # whole seconds, as the CSV will show them
    service_a, release_a, status_a = (
        np.array(x, dtype=object)[order] for x in (service, release_id, status)
    )
    n = len(order)
    lead = rng.lognormal(np.log(PLANTED["lead_time_median_hours"]), PLANTED["lead_time_log_sd"], n)
    committed = (deployed_a - (lead * HOUR_MS).astype(np.int64)) // 1000 * 1000
    sha = np.array([f"{x:07x}" for x in rng.integers(0, 16**7, n)])
    ids = np.array([f"dep-{i:04d}" for i in range(1, n + 1)])

    bad = np.flatnonzero(status_a != "success")
    cause = bad[rng.random(len(bad)) < PLANTED["p_incident_given_failure"]]
    forced = np.flatnonzero((release_a == "bulk-actions") & (status_a == "rolled_back"))
    cause = np.union1d(cause, forced)
    n_other = rng.poisson(PLANTED["unrelated_incidents_per_30_days"] * period.n_days / 30)
    start = (
        np.r_[
            deployed_a[cause] + rng.integers(5, 60, len(cause)) * 60_000,
            period.start_ms + rng.integers(0, period.n_days * DAY_MS, n_other),
        ]
        // 1000
        * 1000
    )
    ttr = rng.lognormal(
        np.log(PLANTED["time_to_restore_median_hours"]),
        PLANTED["time_to_restore_log_sd"],
        len(start),
    )
    inc_order = np.argsort(start, kind="stable")
    deploy_ref = np.r_[ids[cause], np.full(n_other, "")][inc_order]
    release_ref = np.r_[release_a[cause], np.full(n_other, "")][inc_order]
    return Delivery(
        deploy_ids=ids,
        service=service_a,
        deployed_ms=deployed_a,
        committed_ms=committed,
        sha=sha,
        release_id=release_a,
        status=status_a,
        incident_ids=np.array([f"inc-{i:03d}" for i in range(1, len(start) + 1)]),
        started_ms=start[inc_order],
        resolved_ms=((start + (ttr * HOUR_MS).astype(np.int64)) // 1000 * 1000)[inc_order],
        severity=rng.choice(SEVERITIES, len(start), p=[0.1, 0.4, 0.5]),
        incident_deploy=deploy_ref,
        incident_release=release_ref,
    )


def dora_figures(
    service: ArrayLike,
    deployed_ms: ArrayLike,
    committed_ms: ArrayLike,
    status: ArrayLike,
    started_ms: ArrayLike,
    resolved_ms: ArrayLike,
    n_workdays: int,
) -> dict[str, object]:
    """The DORA figures of a set of deployment and incident rows."""
    service_a, status_a = np.asarray(service), np.asarray(status)
    lead_h = (np.asarray(deployed_ms) - np.asarray(committed_ms)) / HOUR_MS
    restore_h = (np.asarray(resolved_ms) - np.asarray(started_ms)) / HOUR_MS
    bad = int(np.isin(status_a, ["failed", "rolled_back"]).sum())
    ok = status_a == "success"
    per_service = {s: int((service_a == s).sum()) for s in SERVICES}
    return {
        "deploys": len(service_a),
        "deploys_per_service": per_service,
        "deploys_per_workday_per_service": {
            s: round(v / n_workdays, 4) for s, v in per_service.items()
        },
        "failed": int((status_a == "failed").sum()),
        "rolled_back": int((status_a == "rolled_back").sum()),
        "change_failure_rate": round(bad / len(service_a), 6),
        "median_lead_time_hours": round(float(np.median(lead_h)), 4),
        # The DORA reading counts successful deploys only (docs/delivery.md).
        "successful_deploys": int(ok.sum()),
        "median_lead_time_hours_successful": round(float(np.median(lead_h[ok])), 4),
        "incidents": len(restore_h),
        "median_time_to_restore_hours": round(float(np.median(restore_h)), 4),
    }
