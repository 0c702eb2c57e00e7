"""Compiled plans: the SQL of a series query, kept so a repeated query skips Ibis.

Building and compiling a metric's Ibis expression costs 0.1-1 s of Python, about
what the engine needs to scan tens of millions of events. Series queries are
self-contained SQL (constant tables are literals, not registered memtables), so
the text can be run again as is. The key holds everything the SQL depends on:
the engine connection, the metric's full definition (and its ratio parts),
grain, range, time zone, segment, filters and whether the rollup is read.
Data changes need no invalidation: the SQL is re-run over current data.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from impactlens.metrics.spec import MetricBase, RatioMetric

MAX_PLANS = 256


@dataclass(frozen=True)
class Plan:
    sql: str
    ratio: bool
    keys: tuple[str, ...]


_PLANS: OrderedDict[tuple, tuple[Any, Plan]] = OrderedDict()


def _definition(metric: MetricBase) -> str:
    parts = {}
    if isinstance(metric, RatioMetric):
        for ref in (metric.numerator, metric.denominator):
            part = metric.part(ref) if isinstance(ref, str) else None
            if part is not None:
                parts[ref] = part.model_dump(mode="json")
    return json.dumps([metric.model_dump(mode="json"), parts], sort_keys=True, default=str)


def plan_key(warehouse: Any, metric: MetricBase, **params: Any) -> tuple:
    """Everything the compiled SQL of a series query depends on."""
    return (
        id(warehouse.backend),
        warehouse.engine,
        _definition(metric),
        json.dumps(params, sort_keys=True, default=str),
    )


def lookup(warehouse: Any, key: tuple) -> Plan | None:
    hit = _PLANS.get(key)
    if hit is None or hit[0] is not warehouse.backend:
        return None
    _PLANS.move_to_end(key)
    return hit[1]


def remember(warehouse: Any, key: tuple, plan: Plan) -> None:
    # Holding the backend keeps id(backend) from being reused while the plan lives.
    _PLANS[key] = (warehouse.backend, plan)
    _PLANS.move_to_end(key)
    while len(_PLANS) > MAX_PLANS:
        _PLANS.popitem(last=False)


def run(warehouse: Any, plan: Plan) -> pa.Table:
    """Run a remembered plan; rows come back in the plan's key order."""
    table = warehouse.backend.sql(plan.sql).to_pyarrow()
    return table.sort_by([(k, "ascending") for k in plan.keys])


def clear() -> None:
    _PLANS.clear()
