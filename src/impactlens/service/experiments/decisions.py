"""Experiments as a list with their state, and the decision that closes each one.

An experiment is not done when it ends but when someone decides what to do
with it and why. ``experiments_without_decision`` is what the review reads to
name the ones still open.
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis

from impactlens.domain import Decision, Experiment
from impactlens.service.catalog import get_experiment, latest_decisions, list_experiments
from impactlens.service.catalog import record_decision as _record
from impactlens.service.experiments.exposure import experiment_end, naive_utc
from impactlens.service.experiments.results import ExperimentStatus
from impactlens.warehouse import Warehouse

SUBJECT = "experiment"


def _now(as_of: datetime | None) -> datetime:
    return naive_utc(as_of) if as_of is not None else datetime.now(UTC).replace(tzinfo=None)


def has_ended(experiment: Experiment, as_of: datetime | None = None) -> bool:
    end = experiment_end(experiment)
    return end is not None and end <= _now(as_of)


def _exposed_users(warehouse: Warehouse) -> dict[str, int]:
    ex = warehouse.table("exposures")
    pairs = ex.filter(ex.actor_id.notnull()).select("experiment_id", "actor_id").distinct()
    rows = pairs.group_by("experiment_id").agg(n=pairs.count()).to_pyarrow().to_pylist()
    return {r["experiment_id"]: int(r["n"]) for r in rows}


def experiment_statuses(
    warehouse: Warehouse, *, as_of: datetime | None = None
) -> list[ExperimentStatus]:
    """Every declared experiment, oldest first: running or ended, exposed users, its decision."""
    decisions = latest_decisions(warehouse, SUBJECT)
    exposed = _exposed_users(warehouse)
    return [
        ExperimentStatus(
            experiment_id=e.experiment_id,
            name=e.name,
            status="ended" if has_ended(e, as_of) else "running",
            unit=e.unit,
            started_at=e.started_at,
            ended_at=e.ended_at,
            primary_metric=e.primary_metric,
            exposed_users=exposed.get(e.experiment_id, 0),
            decision=decisions.get(e.experiment_id),
        )
        for e in list_experiments(warehouse)
    ]


def experiments_without_decision(
    warehouse: Warehouse, as_of: datetime | None = None
) -> list[Experiment]:
    """Experiments that ended by ``as_of`` (default: now) with no decision recorded by then."""
    now = _now(as_of)
    decisions = warehouse.table("decisions")
    decided = (
        decisions.filter(
            (decisions.subject_kind == SUBJECT) & (decisions.decided_at <= ibis.literal(now))
        )
        .select("subject_id")
        .distinct()
        .to_pyarrow()
        .column(0)
        .to_pylist()
    )
    closed = set(decided)
    return [
        e
        for e in list_experiments(warehouse)
        if has_ended(e, now) and e.experiment_id not in closed
    ]


def decide_experiment(
    warehouse: Warehouse,
    experiment_id: str,
    *,
    decision: str,
    why: str,
    next_step: str,
    decided_by: str,
    decided_at: datetime | None = None,
) -> Decision:
    """Record ship/iterate/abandon for an experiment that exists, with why and the next step."""
    get_experiment(warehouse, experiment_id)  # NotFoundError names the known ones
    return _record(
        warehouse,
        subject_kind=SUBJECT,
        subject_id=experiment_id,
        decision=decision,
        why=why,
        next_step=next_step,
        decided_by=decided_by,
        decided_at=naive_utc(decided_at) if decided_at is not None else None,
    )
