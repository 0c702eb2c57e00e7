"""Backlog items as stored in the ``backlog`` table: read, validate, add one.

The contract's columns (``id, title, team, effort_days, feature, reach, impact,
confidence``) are table columns; the five-factor keys live in the row's
``attributes`` JSON (additive to the contract):

- ``business_impact``, ``user_impact``, ``technical_sustainability``: 1-5, higher is better;
- ``dependencies``: 1-5 (more is worse) or a list of what the item waits on
  (scored 1 + its length, at most 5);
- ``terms``: phrases that name the item in tickets and comments;
- ``flag``: the feature flag whose users the item reaches;
- ``reach_event``: the event name(s) whose users the item reaches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from impactlens.errors import Problem, ValidationError
from impactlens.warehouse import Warehouse

FIVE_FACTOR_KEYS = ("business_impact", "user_impact", "technical_sustainability", "dependencies")


@dataclass(frozen=True)
class BacklogItem:
    """One candidate piece of work; ``None`` = left out by the user (to be estimated)."""

    item_id: str
    title: str
    team: str | None
    effort_days: float | None
    feature: str | None = None
    reach: float | None = None
    impact: float | None = None
    confidence: float | None = None
    business_impact: float | None = None
    user_impact: float | None = None
    sustainability: float | None = None
    dependencies: float | None = None
    terms: tuple[str, ...] = ()
    flag: str | None = None
    reach_events: tuple[str, ...] = ()


def _number(
    value: Any,
    name: str,
    problems: list[Problem],
    where: str,
    low: float,
    high: float | None,
    hint: str,
) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(
            Problem(f"{name} must be a number, got {value!r}", file=where, field=name, hint=hint)
        )
        return None
    if value < low or (high is not None and value > high) or value != value:
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        problems.append(
            Problem(f"{name} must be {bounds}, got {value!r}", file=where, field=name, hint=hint)
        )
        return None
    return float(value)


def validate_item(values: dict[str, Any], where: str) -> tuple[BacklogItem | None, list[Problem]]:
    """Check one item's values; return the item (or None) and every problem found."""
    problems: list[Problem] = []
    item_id = values.get("item_id")
    if not item_id or not isinstance(item_id, str):
        problems.append(Problem("id is required", file=where, field="id"))
    effort = values.get("effort_days")
    if effort is not None and not (isinstance(effort, int | float) and effort > 0):
        problems.append(
            Problem(
                f"effort_days must be > 0, got {effort!r}",
                file=where,
                field="effort_days",
                hint="estimated person-days of work",
            )
        )
        effort = None
    num = {
        "reach": _number(
            values.get("reach"), "reach", problems, where, 0, None, "people or accounts per period"
        ),
        "impact": _number(
            values.get("impact"),
            "impact",
            problems,
            where,
            0.01,
            3,
            "RICE scale: 0.25 minimal, 0.5 low, 1 medium, 2 high, 3 massive",
        ),
        "confidence": _number(
            values.get("confidence"),
            "confidence",
            problems,
            where,
            0.01,
            1,
            "a fraction: 0.8 for 80%",
        ),
    }
    deps = values.get("dependencies")
    if isinstance(deps, list | tuple):
        deps = min(5, 1 + len(deps))
    five = {
        key: _number(
            values.get(key), key, problems, where, 1, 5, "a score from 1 (low) to 5 (high)"
        )
        for key in ("business_impact", "user_impact", "technical_sustainability")
    }
    dependencies = _number(
        deps, "dependencies", problems, where, 1, 5, "1 (none) to 5 (many), or a list"
    )
    lists = {}
    for key in ("terms", "reach_event"):
        value = values.get(key) or ()
        value = (value,) if isinstance(value, str) else value
        if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
            problems.append(
                Problem(f"{key} must be a text or a list of texts", file=where, field=key)
            )
            value = ()
        lists[key] = tuple(value)
    if problems:
        return None, problems
    item = BacklogItem(
        item_id=str(item_id),
        title=str(values.get("title") or item_id),
        team=values.get("team"),
        effort_days=float(effort) if effort is not None else None,
        feature=values.get("feature"),
        reach=num["reach"],
        impact=num["impact"],
        confidence=num["confidence"],
        business_impact=five["business_impact"],
        user_impact=five["user_impact"],
        sustainability=five["technical_sustainability"],
        dependencies=dependencies,
        terms=lists["terms"],
        flag=values.get("flag"),
        reach_events=lists["reach_event"],
    )
    return item, []


def read_backlog(warehouse: Warehouse) -> list[BacklogItem]:
    """Every backlog item, by id; a bad row is reported with its id and field."""
    rows = warehouse.table("backlog").order_by("item_id").to_pyarrow().to_pylist()
    items, problems = [], []
    for row in rows:
        where = f"backlog item {row['item_id']}"
        try:
            attrs = json.loads(row.pop("attributes") or "{}")
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(f"attributes are not JSON: {exc}", file=where, field="attributes")
            )
            continue
        item, found = validate_item({**(attrs if isinstance(attrs, dict) else {}), **row}, where)
        problems += found
        if item is not None:
            items.append(item)
    if problems:
        raise ValidationError(problems, f"{len(problems)} problem(s) in the backlog")
    return items


def add_backlog_item(warehouse: Warehouse, **values: Any) -> BacklogItem:
    """Validate one item and write it (an existing id is replaced).

    Keyword names are the table's (``item_id``, ``effort_days`` ...) plus the
    five-factor keys; ``None`` means left out.
    """
    item, problems = validate_item(values, "backlog add")
    if values.get("effort_days") is None:
        problems.append(Problem("effort_days is required", file="backlog add", field="effort_days"))
    if problems or item is None:
        raise ValidationError(problems, "the backlog item was not added")
    keys = (*FIVE_FACTOR_KEYS, "terms", "flag", "reach_event")
    attrs = {k: values[k] for k in keys if values.get(k) is not None}
    row = {
        "item_id": item.item_id,
        "title": item.title,
        "team": item.team,
        "effort_days": item.effort_days,
        "feature": item.feature,
        "reach": item.reach,
        "impact": item.impact,
        "confidence": item.confidence,
        "attributes": json.dumps(attrs, sort_keys=True) if attrs else None,
    }
    warehouse.write("backlog", pa.Table.from_pylist([row]))
    return item
