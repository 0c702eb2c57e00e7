"""The rows DORA metrics are computed from, and the delivery facts of one release.

``deploy_facts`` and ``incident_facts`` stay lazy (Ibis expressions), so every
aggregate over them runs in the warehouse; ``release_delivery`` reads the few
rows of one release.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from impactlens.errors import NotFoundError
from impactlens.warehouse import Warehouse

PRODUCTION = ("production", "prod")
FAILED = ("failed", "rolled_back")
HOUR = 3600.0


def deploy_facts(warehouse: Warehouse) -> ir.Table:
    """Production deploys with team, lead time (s), incident count and change-failure flag."""
    d = warehouse.table("deployments")
    attrs = d.attributes.cast("json")
    env = attrs["environment"].str.lower()
    d = d.filter(env.isnull() | env.isin(PRODUCTION)).mutate(_team=attrs["team"].str)
    rel = warehouse.table("releases").select(_rid=ibis._.release_id, _rteam=ibis._.team)
    d = d.left_join(rel, d.release_id == rel._rid)
    inc = warehouse.table("incidents")
    inc = inc.filter(inc.deploy_id.notnull())
    per_deploy = inc.group_by(_did="deploy_id").agg(_incidents=inc.count())
    d = d.left_join(per_deploy, d.deploy_id == per_deploy._did)
    lead = d.deployed_at.epoch_seconds() - d.committed_at.epoch_seconds()
    ok = d.status == "success"
    n_inc = d._incidents.fill_null(0)
    return d.select(
        "deploy_id",
        "service",
        "deployed_at",
        "committed_at",
        "release_id",
        "status",
        team=d._team.fill_null(d._rteam),
        success=ok.fill_null(False),
        failure=(d.status.isin(FAILED) | (n_inc > 0)).fill_null(False),
        lead_s=ibis.ifelse(ok & (lead >= 0), lead, ibis.null()).cast("float64"),
        incidents=n_inc,
    )


def incident_facts(warehouse: Warehouse, deploys: ir.Table | None = None) -> ir.Table:
    """Incidents with the service/team they belong to and their restore time (s).

    ``deploys`` is ``deploy_facts(warehouse)`` when the caller has it already.
    """
    inc = warehouse.table("incidents")
    d = deploys if deploys is not None else deploy_facts(warehouse)
    d = d.select(_did="deploy_id", _service="service", _dteam="team")
    rel = warehouse.table("releases").select(_rid=ibis._.release_id, _rteam=ibis._.team)
    j = inc.left_join(d, inc.deploy_id == d._did).left_join(rel, inc.release_id == rel._rid)
    restore = j.resolved_at.epoch_seconds() - j.started_at.epoch_seconds()
    return j.select(
        "incident_id",
        "started_at",
        "resolved_at",
        "severity",
        "deploy_id",
        "release_id",
        service=j._service,
        team=j._dteam.fill_null(j._rteam),
        restore_s=ibis.ifelse(restore >= 0, restore, ibis.null()).cast("float64"),
    )


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / HOUR


@dataclass(frozen=True)
class DeployFact:
    """One deploy of a release: when, how it went, how long its change waited."""

    deploy_id: str
    service: str | None
    deployed_at: datetime | None
    status: str | None
    lead_time_hours: float | None
    change_failure: bool
    incident_ids: tuple[str, ...]


@dataclass(frozen=True)
class IncidentFact:
    """One incident linked to a release (directly or through one of its deploys)."""

    incident_id: str
    started_at: datetime | None
    resolved_at: datetime | None
    severity: str | None
    deploy_id: str | None
    restore_hours: float | None


@dataclass(frozen=True)
class ReleaseDelivery:
    """A release's delivery facts, to show beside its customer outcome."""

    release_id: str
    deploys: tuple[DeployFact, ...]
    incidents: tuple[IncidentFact, ...]
    first_deployed_at: datetime | None
    last_deployed_at: datetime | None
    lead_time_median_hours: float | None
    change_failures: int
    caused_incident: bool
    time_to_restore_median_hours: float | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def release_delivery(warehouse: Warehouse, release_id: str) -> ReleaseDelivery:
    """The deploys that shipped ``release_id``, their lead times and the incidents they caused.

    Raises NotFoundError when neither the releases, the deploys nor the
    incidents know the id.
    """
    d = deploy_facts(warehouse)
    deploys = d.filter(d.release_id == release_id).order_by("deployed_at").to_pyarrow().to_pylist()
    ids = [r["deploy_id"] for r in deploys]
    i = incident_facts(warehouse, d)
    linked = i.release_id == release_id
    if ids:
        linked = linked | i.deploy_id.isin(ids)
    incidents = i.filter(linked).order_by("started_at").to_pyarrow().to_pylist()
    if not deploys and not incidents:
        rel = warehouse.table("releases")
        if rel.filter(rel.release_id == release_id).count().to_pyarrow().as_py() == 0:
            raise NotFoundError(f"no release, deploy or incident names release {release_id!r}")
    by_deploy: dict[str, list[str]] = {}
    for r in incidents:
        if r["deploy_id"]:
            by_deploy.setdefault(r["deploy_id"], []).append(r["incident_id"])
    facts = tuple(
        DeployFact(
            r["deploy_id"],
            r["service"],
            r["deployed_at"],
            r["status"],
            _hours(r["lead_s"]),
            bool(r["failure"]),
            tuple(by_deploy.get(r["deploy_id"], ())),
        )
        for r in deploys
    )
    incident_facts_ = tuple(
        IncidentFact(
            r["incident_id"],
            r["started_at"],
            r["resolved_at"],
            r["severity"],
            r["deploy_id"],
            _hours(r["restore_s"]),
        )
        for r in incidents
    )
    leads = [f.lead_time_hours for f in facts if f.lead_time_hours is not None]
    restores = [f.restore_hours for f in incident_facts_ if f.restore_hours is not None]
    times = [f.deployed_at for f in facts if f.deployed_at is not None]
    return ReleaseDelivery(
        release_id=release_id,
        deploys=facts,
        incidents=incident_facts_,
        first_deployed_at=min(times) if times else None,
        last_deployed_at=max(times) if times else None,
        lead_time_median_hours=_median(leads),
        change_failures=sum(f.change_failure for f in facts),
        caused_incident=bool(incident_facts_),
        time_to_restore_median_hours=_median(restores),
    )
