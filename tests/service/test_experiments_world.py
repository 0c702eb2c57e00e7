"""A hand-built experiment world for the experiment tests, and its own sanity checks.

``World`` writes experiments, exposures, events and users through
``Warehouse.write`` (the importer's storage convention: naive UTC, JSON text),
and keeps the same rows as pandas frames so tests can compute every figure by
brute force and compare it with what the warehouse aggregation returns.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from impactlens.metrics import parse_metrics
from impactlens.warehouse import Warehouse

START = datetime(2026, 3, 2)
END_DAY = datetime(2026, 3, 21)  # ended_at as a date: the window runs to 2026-03-22 00:00
WINDOW_END = END_DAY + timedelta(days=1)

METRICS = parse_metrics(
    """
metrics:
  - {name: reports, kind: count, event: Report Created, higher_is_better: true}
  - {name: reporters, kind: unique, event: Report Created, higher_is_better: true}
  - {name: errors, kind: count, event: Error Shown, higher_is_better: false}
  - {name: sessions, kind: count, event: Session Started, higher_is_better: true}
  - name: error_rate
    kind: ratio
    numerator: {event: Error Shown}
    denominator: sessions
    higher_is_better: false
  - name: activation_7d
    kind: conversion
    steps: [Signed Up, Report Created]
    within: 7d
    higher_is_better: true
  - name: back_day_7
    kind: retention
    cohort_event: Session Started
    return_event: Session Started
    period: day
    n: 7
    higher_is_better: true
"""
)


class World:
    """Rows to write, kept as plain records for the brute-force references."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse
        self.exposure_rows: list[dict] = []
        self.event_rows: list[dict] = []
        self.user_rows: list[dict] = []

    def experiment(self, experiment_id: str = "exp", **fields) -> None:
        row = {
            "experiment_id": experiment_id,
            "name": fields.get("name", experiment_id),
            "primary_metric": fields.get("primary", "reports"),
            "secondary_metrics": json.dumps(list(fields.get("secondary", ()))),
            "guardrails": json.dumps(list(fields.get("guardrails", ()))),
            "variations": json.dumps(list(fields.get("variations", ("control", "treat")))),
            "weights": json.dumps(list(fields["weights"])) if "weights" in fields else None,
            "unit": fields.get("unit", "user"),
            "started_at": fields.get("started_at", START),
            "ended_at": fields.get("ended_at", END_DAY),
        }
        self.wh.write("experiments", pa.table({k: [v] for k, v in row.items()}))

    def expose(self, user, variation, ts, *, account=None, experiment="exp") -> None:
        self.exposure_rows.append(
            {
                "message_id": f"x{len(self.exposure_rows)}",
                "experiment_id": experiment,
                "variation_id": variation,
                "actor_id": user,
                "user_id": user,
                "account_id": account,
                "timestamp": ts,
            }
        )

    def event(self, user, name, ts, *, account=None) -> None:
        self.event_rows.append(
            {
                "message_id": f"e{len(self.event_rows)}",
                "timestamp": ts,
                "type": "track",
                "event": name,
                "user_id": user,
                "actor_id": user,
                "account_id": account,
            }
        )

    def user(self, user_id, account_id) -> None:
        self.user_rows.append({"user_id": user_id, "account_id": account_id})

    def flush(self) -> World:
        for name, rows in (
            ("exposures", self.exposure_rows),
            ("events", self.event_rows),
            ("users", self.user_rows),
        ):
            if rows:
                self.wh.write(name, pa.Table.from_pylist(rows))
        return self

    @property
    def exposures(self) -> pd.DataFrame:
        return pd.DataFrame(self.exposure_rows)

    @property
    def events(self) -> pd.DataFrame:
        return pd.DataFrame(self.event_rows)


def random_world(warehouse: Warehouse, *, n: int = 400, seed: int = 3, lift: float = 0.0,
                 accounts: int | None = None, error_lift: float | None = None,
                 drop_treat: float = 0.0, **experiment) -> World:  # fmt: skip
    """Users exposed at random times, Poisson reports before and after exposure, repeats.

    ``error_lift``: also Error Shown events, that much more frequent in the treatment.
    ``drop_treat``: this share of treatment users' exposures is never logged (an SRM).
    """
    rng = np.random.default_rng(seed)
    # Accounts have habits of their own: users of one account behave alike (clustering).
    account_habit = rng.gamma(1.5, 1.0, accounts) if accounts else None
    w = World(warehouse)
    w.experiment(**experiment)
    for i in range(n):
        user = f"u{i:04d}"
        account = f"a{i % accounts:03d}" if accounts else None
        if accounts:
            w.user(user, account)
        arm = ("control", "treat")[int(rng.integers(2))] if not accounts else (
            ("control", "treat")[int(account[1:]) % 2])  # fmt: skip
        first = START + timedelta(minutes=int(rng.integers(0, 17 * 24 * 60)))
        if arm == "treat" and rng.random() < drop_treat:
            continue
        w.expose(user, arm, first, account=account)
        if rng.random() < 0.3:  # a repeat of the same arm: the first still counts
            w.expose(user, arm, first + timedelta(hours=int(rng.integers(1, 48))), account=account)
        habit = rng.gamma(2.0, 1.0)
        if account_habit is not None:
            habit = account_habit[i % accounts] * rng.gamma(8.0, 1 / 8.0)
        rate = habit * (1 + lift if arm == "treat" else 1.0)
        for _ in range(rng.poisson(rate * 3)):
            w.event(user, "Report Created", first + timedelta(minutes=int(rng.integers(0, 20 * 24 * 60))), account=account)  # fmt: skip
        for _ in range(rng.poisson(habit * 2)):
            w.event(user, "Report Created", first - timedelta(minutes=int(rng.integers(1, 20 * 24 * 60))), account=account)  # fmt: skip
        if error_lift is not None:
            errors = 0.5 * (1 + error_lift if arm == "treat" else 1.0)
            for _ in range(rng.poisson(errors * 3)):
                w.event(user, "Error Shown", first + timedelta(minutes=int(rng.integers(0, 20 * 24 * 60))), account=account)  # fmt: skip
    return w.flush()


def test_world_round_trips_through_the_warehouse(warehouse) -> None:
    w = random_world(warehouse, n=50)
    assert warehouse.count("exposures") == len(w.exposures)
    assert warehouse.count("events") == len(w.events)
    assert warehouse.count("experiments") == 1
