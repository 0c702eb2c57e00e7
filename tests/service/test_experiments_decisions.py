"""Experiment statuses, the decision record, and the experiments still waiting for one."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_experiments_world import END_DAY, METRICS, START, World

from impactlens.errors import NotFoundError, UserError
from impactlens.service.experiments import (
    analyze_experiment,
    decide_experiment,
    experiment_statuses,
    experiments_without_decision,
)


def _two_experiments(warehouse) -> None:
    w = World(warehouse)
    w.experiment("ended-one", ended_at=END_DAY)
    w.experiment("still-running", ended_at=None)
    for i in range(6):
        w.expose(
            f"u{i}", ("control", "treat")[i % 2], START + timedelta(hours=i), experiment="ended-one"
        )
    w.expose("u0", "treat", START, experiment="still-running")
    w.flush()


def test_experiments_without_decision_lists_ended_ones_until_decided(warehouse) -> None:
    _two_experiments(warehouse)
    before_end = END_DAY  # the last day is still running
    after_end = END_DAY + timedelta(days=2)
    assert experiments_without_decision(warehouse, before_end) == []
    assert [e.experiment_id for e in experiments_without_decision(warehouse, after_end)] == [
        "ended-one"
    ]
    decided_at = after_end + timedelta(days=1)
    decision = decide_experiment(
        warehouse, "ended-one", decision="iterate", why="inconclusive at 6 users",
        next_step="rerun for 4 weeks", decided_by="alice", decided_at=decided_at,
    )  # fmt: skip
    assert (decision.decided_by, decision.decided_at) == ("alice", decided_at)
    # As of before the decision it was still open; after it, it is closed.
    assert [e.experiment_id for e in experiments_without_decision(warehouse, after_end)] == [
        "ended-one"
    ]
    assert experiments_without_decision(warehouse, decided_at) == []


def test_statuses_show_state_exposure_and_decision(warehouse) -> None:
    _two_experiments(warehouse)
    decide_experiment(warehouse, "ended-one", decision="ship", why="won", next_step="roll out",
                      decided_by="bob", decided_at=datetime(2026, 3, 25))  # fmt: skip
    statuses = {
        s.experiment_id: s for s in experiment_statuses(warehouse, as_of=datetime(2026, 4, 1))
    }
    assert statuses["ended-one"].status == "ended" and statuses["ended-one"].exposed_users == 6
    assert statuses["ended-one"].decided and statuses["ended-one"].decision.decision == "ship"
    assert statuses["still-running"].status == "running" and not statuses["still-running"].decided
    assert statuses["still-running"].to_dict()["decided"] is False
    readout = analyze_experiment(warehouse, METRICS, "ended-one")
    assert readout.decision.decided_by == "bob"


def test_a_decision_needs_a_why_a_next_step_and_a_known_experiment(warehouse) -> None:
    _two_experiments(warehouse)
    with pytest.raises(UserError, match="why and a next step"):
        decide_experiment(
            warehouse, "ended-one", decision="ship", why=" ", next_step="x", decided_by="a"
        )
    with pytest.raises(UserError, match="ship, iterate or abandon"):
        decide_experiment(
            warehouse, "ended-one", decision="maybe", why="x", next_step="x", decided_by="a"
        )
    with pytest.raises(NotFoundError, match="known: ended-one, still-running"):
        decide_experiment(
            warehouse, "nope", decision="ship", why="x", next_step="x", decided_by="a"
        )
    assert warehouse.count("decisions") == 0
