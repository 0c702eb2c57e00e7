"""Users and accounts: merged updates from files, ``identify`` and ``group``.

A user or account is built up by several sources over time (``users.csv``,
``identify`` traits, ``group`` messages, a later export), so an update *merges*
into the stored row: the columns it sets replace theirs, its attributes are
merged over the stored attributes, and what it does not mention is kept. A row
whose merged result equals the stored row is not written, which is what makes
a re-import change nothing (``updated_at`` included).

When a user gains an account, events stored earlier without an account for
that user are back-filled (a keyed UPDATE against an Arrow mapping table; a
Parquet part holding such events is rewritten and swapped in), and the rollup
hours of those events are marked pending in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.ingest.values import canonical_json
from impactlens.warehouse import TABLES, Warehouse
from impactlens.warehouse.parts import backfill_parts
from impactlens.warehouse.schema import PENDING_TABLE

BACKFILL_TABLES = ("events", "exposures", "surveys")


@dataclass(frozen=True)
class Update:
    """Set ``columns`` and merge ``attributes`` into the row of ``table`` keyed ``key``."""

    table: str  # users | accounts
    key: str
    columns: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MergeResult:
    changed: tuple[bool, ...]  # per group of updates: does a row it touches end up different
    rows_written: int


def _key_column(table: str) -> str:
    return TABLES[table].key[0]


def fetch_rows(warehouse: Warehouse, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of ``table`` for ``keys`` (a semi-join on an Arrow key table)."""
    if not keys:
        return {}
    key = _key_column(table)
    with warehouse.arrow_view(pa.table({key: pa.array(list(keys), pa.string())})) as view:
        query = (
            sg.select(sge.Star())
            .from_(sg.table(table, quoted=True))
            .where(
                sge.In(
                    this=sg.column(key, quoted=True), query=sg.select(key).from_(view).subquery()
                )
            )
        )
        rows = warehouse.query_arrow(query).to_pylist()
    return {row[key]: row for row in rows}


def _comparable(row: dict[str, Any] | None) -> Any:
    if row is None:
        return None
    return {k: v for k, v in row.items() if k != "updated_at"}


def merge_updates(
    warehouse: Warehouse, groups: Sequence[Sequence[Update]], stamp: datetime
) -> MergeResult:
    """Apply groups of updates in order (a ``group`` message updates an account and a user).

    Returns, per group, whether it changed a stored row, and writes the rows
    that differ from storage with ``updated_at = stamp``; back-fills accounts.
    """
    wanted: dict[str, set[str]] = {"users": set(), "accounts": set()}
    for group in groups:
        for update in group:
            wanted[update.table].add(update.key)
    stored = {table: fetch_rows(warehouse, table, sorted(keys)) for table, keys in wanted.items()}
    state: dict[str, dict[str, dict[str, Any]]] = {
        table: {k: _decoded(v) for k, v in rows.items()} for table, rows in stored.items()
    }
    for group in groups:
        for update in group:
            rows = state[update.table]
            after = dict(rows.get(update.key) or _empty(update.table, update.key))
            after.update(update.columns)
            attrs = dict(after.get("attributes") or {})
            for name, value in update.attributes.items():
                if value is None:
                    attrs.pop(name, None)  # Segment: a null trait unsets it
                else:
                    attrs[name] = value
            after["attributes"] = attrs
            rows[update.key] = after
    written = 0
    touched: set[tuple[str, str]] = set()
    for table, rows in state.items():
        final = []
        for key, row in rows.items():
            original = _decoded(stored[table][key]) if key in stored[table] else None
            if _comparable(original) != _comparable(row):
                final.append({**row, "updated_at": stamp})
                touched.add((table, key))
        if final:
            _replace_rows(warehouse, table, final)
            written += len(final)
        if table == "users":
            links = [
                (r["user_id"], r["account_id"])
                for r in final
                if r.get("account_id")
                and (stored["users"].get(r["user_id"]) or {}).get("account_id") != r["account_id"]
            ]
            backfill_accounts(warehouse, links)
    # A message (or row) counts as loaded when a row it touches ends up different.
    changed = tuple(any((u.table, u.key) in touched for u in group) for group in groups)
    return MergeResult(changed, written)


def _empty(table: str, key: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TABLES[table].columns)
    row[_key_column(table)] = key
    row["attributes"] = {}
    return row


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    text = row.get("attributes")
    return {**row, "attributes": orjson.loads(text) if text else {}}


def _replace_rows(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    spec = TABLES[table]
    encoded = [
        {**row, "attributes": canonical_json(row["attributes"]) if row.get("attributes") else None}
        for row in rows
    ]
    data = pa.Table.from_pylist(encoded, schema=spec.schema.to_pyarrow())
    replace_keyed(warehouse, table, data)


def replace_keyed(warehouse: Warehouse, table: str, data: pa.Table) -> None:
    """Delete the stored rows with the keys of ``data``, then insert ``data``."""
    spec = TABLES[table]
    columns = list(spec.columns)
    with warehouse.arrow_view(data.select(columns)) as view:
        keys = [sg.column(k, quoted=True) for k in spec.key]
        lhs = sge.Tuple(expressions=keys) if len(keys) > 1 else keys[0]
        delete = sg.delete(sg.table(table, quoted=True)).where(
            sge.In(this=lhs, query=sg.select(*[k.copy() for k in keys]).from_(view).subquery())
        )
        warehouse.execute_statement(delete)
        insert = sge.insert(
            sg.select(*[sg.column(c, quoted=True) for c in columns]).from_(view),
            sg.table(table, quoted=True),
            columns=[sg.to_identifier(c, quoted=True) for c in columns],
        )
        warehouse.execute_statement(insert)


_BACKFILL = sg.parse_one(
    "UPDATE _target AS t SET account_id = m.account_id FROM _map AS m "
    "WHERE t.user_id = m.user_id AND t.account_id IS NULL",
    read="duckdb",
)


# The hours of the events a back-fill is about to change: their rollup rows go stale.
_STALE_HOURS = sg.parse_one(
    "INSERT INTO _pending SELECT DISTINCT date_trunc('hour', t.timestamp), "
    "date_trunc('hour', t.timestamp) + INTERVAL 1 HOUR FROM events AS t JOIN _map AS m "
    "ON t.user_id = m.user_id WHERE t.account_id IS NULL AND t.timestamp IS NOT NULL",
    read="duckdb",
)


def backfill_accounts(warehouse: Warehouse, links: Sequence[tuple[str, str]]) -> None:
    """Give stored rows of these users that have no account the user's account."""
    if not links:
        return
    mapping = pa.table(
        {
            "user_id": pa.array([u for u, _ in links], pa.string()),
            "account_id": pa.array([a for _, a in links], pa.string()),
        }
    )
    with warehouse.arrow_view(mapping) as view:
        warehouse.execute_statement(
            sge.replace_tables(_STALE_HOURS, {"_pending": PENDING_TABLE, "_map": view})
        )
        for table in BACKFILL_TABLES:
            target = warehouse.rows_table(table)
            warehouse.execute_statement(
                sge.replace_tables(_BACKFILL, {"_target": target, "_map": view})
            )
        backfill_parts(warehouse, view)
