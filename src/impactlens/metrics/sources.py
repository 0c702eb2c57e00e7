"""Rows a metric reads, with filters and the segment column applied.

Every source yields the same core columns, whatever table it comes from:

``ts``      naive-UTC time of the row
``uid``     the user (``events.actor_id``, ``surveys.user_id``, ``tickets.user_id``)
``aid``     the account
``actor``   ``uid`` or ``aid``, by the metric's ``actor``
``weight``  how many events the row stands for (1; more on the hourly rollup)
``segment`` the segment value as text, ``(none)`` when missing (only with a segment)

Account and user attributes come from one join each; flags from the actor's
latest ``properties.flags.<name>``. Filters are compiled from their structure,
so no text from metrics.yaml ever reaches a query as SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from impactlens.metrics.engines import json_text
from impactlens.metrics.fields import ACCOUNT_COLUMNS, USER_COLUMNS, FieldRef, parse_field
from impactlens.metrics.query import isin_values
from impactlens.metrics.spec import FilterSpec
from impactlens.warehouse.schema import ACTIVITY_TABLE, COUNTS_TABLE, ROLLUP_TABLE

NO_SEGMENT = "(none)"
_SOURCE_COLUMNS: dict[str, dict[str, str]] = {
    "events": {"ts": "timestamp", "uid": "actor_id", "aid": "account_id"},
    "surveys": {"ts": "responded_at", "uid": "user_id", "aid": "account_id"},
    "tickets": {"ts": "created_at", "uid": "user_id", "aid": "account_id"},
}


def _literal_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def compare(value: ir.Value, op: str, target: Any, *, json: bool) -> ir.BooleanValue:
    """``value op target``; JSON text is compared as bool, number or text by the target's type."""
    if op == "exists":
        return value.notnull()
    if op == "not_exists":
        return value.isnull()
    targets = list(target) if op in ("in", "not_in") else [target]
    numeric = all(isinstance(t, int | float) and not isinstance(t, bool) for t in targets)
    if json:
        value = value.try_cast("float64") if numeric else value
        targets = [float(t) if numeric else _literal_text(t) for t in targets]
    if op == "in":
        return isin_values(value, targets)
    if op == "not_in":
        return ~isin_values(value, targets) | value.isnull()
    lit = targets[0]
    return {
        "=": lambda: value == lit,
        "!=": lambda: (value != lit) | value.isnull(),
        "<": lambda: value < lit,
        "<=": lambda: value <= lit,
        ">": lambda: value > lit,
        ">=": lambda: value >= lit,
    }[op]()


def base_rows(warehouse: Any, source: str) -> ir.Table:
    """A source table renamed to the core columns (``ts``, ``uid``, ``aid``), other columns kept."""
    table = warehouse.table(source)
    names = _SOURCE_COLUMNS[source]
    return table.rename({new: old for new, old in names.items()})


class FieldResolver:
    """Adds the columns that filters and the segment need, with one join per entity."""

    def __init__(self, warehouse: Any, refs: Sequence[FieldRef]) -> None:
        self.warehouse = warehouse
        self.engine = warehouse.engine
        self.refs = list(dict.fromkeys(refs))
        self.column = {ref: f"_f{i}" for i, ref in enumerate(self.refs)}

    def is_json(self, ref: FieldRef) -> bool:
        if ref.namespace in ("event", "flag"):
            return True
        columns = {"account": ACCOUNT_COLUMNS, "user": USER_COLUMNS}.get(ref.namespace, ())
        return ref.namespace in ("account", "user") and (
            len(ref.path) > 1 or ref.path[0] not in columns
        )

    def attach(self, rows: ir.Table) -> ir.Table:
        for ref in self.refs:
            if ref.namespace == "event":
                rows = rows.mutate(
                    **{self.column[ref]: json_text(self.engine, rows.properties, ref.path)}
                )
            elif ref.namespace == "ticket":
                rows = rows.mutate(**{self.column[ref]: rows[ref.path[0]]})
        for namespace, table, key, row_key in (
            ("account", "accounts", "account_id", "aid"),
            ("user", "users", "user_id", "uid"),
        ):
            refs = [r for r in self.refs if r.namespace == namespace]
            if not refs:
                continue
            entity = self.warehouse.table(table)
            values = {self.column[r]: self._entity_value(entity, r) for r in refs}
            side = entity.select(_fk=entity[key], **values)
            rows = rows.left_join(side, rows[row_key] == side._fk).drop("_fk")
        for ref in (r for r in self.refs if r.namespace == "flag"):
            rows = self._attach_flag(rows, ref)
        return rows

    def _entity_value(self, entity: ir.Table, ref: FieldRef) -> ir.Value:
        if self.is_json(ref):
            return json_text(self.engine, entity.attributes, ref.path)
        return entity[ref.path[0]]

    def _attach_flag(self, rows: ir.Table, ref: FieldRef) -> ir.Table:
        events = self.warehouse.table("events")
        value = json_text(self.engine, events.properties, ("flags", ref.path[0]))
        seen = events.mutate(_v=value).filter(ibis._._v.notnull())
        latest = seen.group_by(_fk=seen.actor_id).agg(
            **{self.column[ref]: seen._v.argmax(seen.timestamp)}
        )
        return rows.left_join(latest, rows.uid == latest._fk).drop("_fk")

    def condition(self, rows: ir.Table, spec: FilterSpec) -> ir.BooleanValue:
        ref = parse_field(spec.field)
        return compare(rows[self.column[ref]], spec.op, spec.value, json=self.is_json(ref))


def apply_fields(
    warehouse: Any,
    rows: ir.Table,
    filters: Sequence[FilterSpec],
    segment: FieldRef | None,
) -> ir.Table:
    """Filter ``rows`` and add ``segment``; drops the helper columns again."""
    refs = [parse_field(f.field) for f in filters] + ([segment] if segment else [])
    if not refs:
        return rows
    keep = list(rows.columns)
    resolver = FieldResolver(warehouse, refs)
    rows = resolver.attach(rows)
    for spec in filters:
        rows = rows.filter(resolver.condition(rows, spec))
    if segment is not None:
        seg = rows[resolver.column[segment]].cast("string").fill_null(NO_SEGMENT)
        rows = rows.mutate(segment=seg)
        keep.append("segment")
    return rows.select(*keep)


def event_rows(
    warehouse: Any,
    names: Sequence[str],
    filters: Sequence[FilterSpec],
    segment: FieldRef | None,
    actor: str,
    *,
    rollup: bool = False,
) -> ir.Table:
    """Events named ``names`` (all events when empty) as core columns, filtered and segmented.

    With ``rollup`` the rows come from the hourly rollups (one row per hour, event
    and actor, or per hour and actor for any event; ``weight`` = events); only
    valid without ``event.``/``flag.`` fields (metrics.planner decides).
    """
    if rollup and not names:
        table = warehouse.table(ACTIVITY_TABLE)
        rows = table.select(
            ts=table.hour,
            uid=table.actor_id,
            aid=table.account_id,
            event=ibis.null("string"),
            weight=table.n,
        )
    elif rollup:
        table = warehouse.table(ROLLUP_TABLE)
        rows = table.select(
            ts=table.hour,
            uid=table.actor_id,
            aid=table.account_id,
            event=table.event,
            weight=table.n,
        )
    else:
        table = base_rows(warehouse, "events")
        rows = table.select(
            "ts", "uid", "aid", "event", "properties", weight=ibis.literal(1, "int64")
        )
    if names:
        rows = rows.filter(
            rows.event.isin(list(names)) if len(names) > 1 else rows.event == names[0]
        )
    rows = rows.filter(rows.ts.notnull())
    rows = apply_fields(warehouse, rows, filters, segment)
    rows = rows.mutate(actor=rows.uid if actor == "user" else rows.aid)
    rows = rows.filter(rows.actor.notnull())
    return rows.drop("properties") if "properties" in rows.columns else rows


def event_counts(warehouse: Any, names: Sequence[str], actor: str) -> ir.Table:
    """Events named ``names`` (all when empty) per hour, from the hourly counts rollup.

    Core columns ``ts`` (the hour) and ``weight`` (events with a user, or an account, by
    ``actor``): enough for a count without filters, segment or distinct actors.
    """
    table = warehouse.table(COUNTS_TABLE)
    rows = table.select(
        ts=table.hour,
        event=table.event,
        weight=table.n_user if actor == "user" else table.n_account,
    )
    if names:
        rows = rows.filter(
            rows.event.isin(list(names)) if len(names) > 1 else rows.event == names[0]
        )
    return rows


def table_rows(
    warehouse: Any,
    source: str,
    filters: Sequence[FilterSpec],
    segment: FieldRef | None,
    actor: str,
) -> ir.Table:
    """Rows of surveys or tickets as core columns (plus their own), filtered and segmented."""
    rows = base_rows(warehouse, source)
    rows = rows.filter(rows.ts.notnull())
    rows = apply_fields(warehouse, rows, filters, segment)
    rows = rows.mutate(
        actor=rows.uid if actor == "user" else rows.aid, weight=ibis.literal(1, "int64")
    )
    return rows.filter(rows.actor.notnull())
