"""Events in the flat forms (CSV, Parquet): snake_case columns, checked per batch.

Columns ``message_id, timestamp, event, user_id, anonymous_id, account_id,
properties`` (a JSON object as text) and optionally ``type``; any other column
becomes a property. Every rule is a pyarrow.compute mask; the JSON of
``properties`` is checked by DuckDB (``json_valid``), and DuckDB also merges
the extra columns into ``properties`` and hashes rows without ``message_id``,
so no Python runs per row.

identify and group need ``traits``, which the flat forms do not carry: such
rows are rejected with a reason pointing to the JSON forms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import sqlglot.expressions as sge

from impactlens.ingest.compute import run
from impactlens.ingest.message_checks import RowProblem, count_values
from impactlens.ingest.segment import EVENT_TYPES, TYPES
from impactlens.ingest.values import TIMESTAMP_HINT, parse_timestamp_array

TEXT_COLUMNS = ("message_id", "type", "event", "user_id", "anonymous_id", "account_id")
KNOWN = (*TEXT_COLUMNS, "timestamp", "properties")


def header_problems(names: list[str]) -> list[str]:
    """Why a flat events file cannot be read at all (missing columns)."""
    found = set(names)
    problems = []
    if "timestamp" not in found:
        problems.append("missing column timestamp")
    if not found & {"user_id", "anonymous_id"}:
        problems.append("missing column user_id or anonymous_id (one of them is required)")
    if "event" not in found and "type" not in found:
        problems.append("missing column event")
    return problems


@dataclass(frozen=True)
class FlatBatch:
    """A checked batch, ready for ``stage_statement``: valid rows plus ``_extra``."""

    table: pa.Table
    problems: tuple[RowProblem, ...]
    rejected: int
    by_type: Counter[str]


def _storage(column: Any) -> Any:
    """An extension column (e.g. Parquet's JSON type) as its storage type."""
    if isinstance(column.type, pa.ExtensionType):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        return pa.chunked_array([c.storage for c in chunks], column.type.storage_type)
    return column


def _text(column: Any) -> pa.ChunkedArray | pa.Array:
    column = _storage(column)
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _empty_to_null(column: Any) -> Any:
    return pc.if_else(
        pc.fill_null(pc.equal(column, ""), False), pa.scalar(None, pa.string()), column
    )


# A text that starts with "{" is an object exactly when it is valid JSON: one parse
# (json_valid) instead of two (json_valid, json_type) for the usual row.
_PROPS_CHECK = sqlglot.parse_one(
    "SELECT _seq FROM _batch WHERE properties IS NOT NULL AND NOT CASE "
    "WHEN starts_with(properties, '{') THEN json_valid(properties) ELSE coalesce("
    "CASE WHEN json_valid(properties) THEN json_type(properties) = 'OBJECT' END, FALSE) END",
    read="duckdb",
)


def check_flat(batch: pa.RecordBatch, first_seq: int, first_row: int) -> FlatBatch:
    """Check one batch; ``_line`` is the 0-based data row (CSV maps it to a line later)."""
    n = batch.num_rows
    t = pa.Table.from_batches([batch])
    cols: dict[str, Any] = {
        "_seq": pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64)),
        "_line": pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
    }
    null_text = pa.nulls(n, pa.string())
    for name in TEXT_COLUMNS:
        cols[name] = _empty_to_null(_text(t.column(name))) if name in t.column_names else null_text
    raw_ts = t.column("timestamp") if "timestamp" in t.column_names else null_text
    cols["timestamp"] = parse_timestamp_array(raw_ts.combine_chunks())
    kind = pc.fill_null(pc.utf8_lower(cols["type"]), "track")
    cols["type"] = kind
    props = _storage(t.column("properties")) if "properties" in t.column_names else null_text
    if pa.types.is_large_string(props.type) or pa.types.is_binary(props.type):
        props = pc.cast(props, pa.string())
    cols["properties"] = props
    extras = [c for c in t.column_names if c not in KNOWN]
    if extras:
        cols["_extra"] = pa.StructArray.from_arrays(
            [t.column(c).combine_chunks() for c in extras], names=extras
        )

    problems: list[RowProblem] = []
    bad = pa.array(np.zeros(n, dtype=np.bool_))
    seqs, lines = cols["_seq"], cols["_line"]

    def rule(mask: Any, field: str, reason: Any) -> None:
        nonlocal bad
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        bad = pc.or_(bad, mask)
        for i in pc.indices_nonzero(mask).to_pylist():
            text = reason(i) if callable(reason) else reason
            problems.append(RowProblem(seqs[i].as_py(), lines[i].as_py(), field, text))

    known = pc.is_in(kind, pa.array(TYPES))
    rule(
        pc.invert(known),
        "type",
        lambda i: f"unknown type {kind[i].as_py()!r} (expected {', '.join(TYPES)})",
    )
    rule(pc.is_in(kind, pa.array(["identify", "group"])), "type",
         lambda i: f"{kind[i].as_py()} needs traits: send identify/group messages as NDJSON or JSON")  # fmt: skip
    who = pc.or_(pc.is_valid(cols["user_id"]), pc.is_valid(cols["anonymous_id"]))
    rule(pc.invert(who), "user_id", "no user_id or anonymous_id")
    ts_missing = (
        pc.is_null(raw_ts)
        if not pa.types.is_string(raw_ts.type)
        else pc.fill_null(pc.equal(raw_ts, ""), True)
    )
    rule(ts_missing, "timestamp", "missing timestamp")
    rule(pc.and_(pc.invert(ts_missing), pc.is_null(cols["timestamp"])), "timestamp",
         lambda i: f"unparseable timestamp {str(raw_ts[i].as_py())!r} ({TIMESTAMP_HINT})")  # fmt: skip
    is_track = pc.equal(kind, "track")
    rule(pc.and_(is_track, pc.is_null(cols["event"])), "event", "track without event")
    if pa.types.is_string(props.type):
        found = run(_PROPS_CHECK, _batch=pa.table({"_seq": seqs, "properties": props}))
        if found.num_rows:
            rule(
                pc.is_in(seqs, found.column("_seq")),
                "properties",
                "properties must be a JSON object",
            )
    page = pc.fill_null(pc.equal(kind, "page"), False)
    screen = pc.fill_null(pc.equal(kind, "screen"), False)
    cols["event"] = pc.coalesce(
        cols["event"],
        pc.if_else(
            page,
            pa.scalar("Page Viewed"),
            pc.if_else(screen, pa.scalar("Screen Viewed"), null_text),
        ),
    )
    valid = pc.invert(bad)
    keep = pc.and_(valid, pc.is_in(kind, pa.array(EVENT_TYPES)))
    table = pa.table(cols).filter(keep)
    by_type = count_values(pc.filter(kind, valid))
    return FlatBatch(table, tuple(problems), n - pc.sum(valid).as_py(), by_type)


_HASH = sqlglot.parse_one(
    "'hash-' || left(sha256(to_json({'type': type, 'event': event, 'user_id': user_id, "
    "'anonymous_id': anonymous_id, 'account_id': account_id, 'timestamp': timestamp, "
    "'properties': properties})), 32)",
    read="duckdb",
)
_PROPS = {
    ("text", False): "properties",
    ("json", False): "nullif(to_json(properties)::VARCHAR, '{}')",
    (
        "text",
        True,
    ): "nullif(json_merge_patch(coalesce(properties, '{}'), to_json(_extra))::VARCHAR, '{}')",
    ("json", True): (
        "nullif(json_merge_patch(coalesce(to_json(properties), '{}'), to_json(_extra))::VARCHAR, '{}')"
    ),
}
_STAGE_BASE = sqlglot.parse_one(
    "SELECT _seq, _line, coalesce(message_id, _hash) AS message_id, timestamp, type, event, "
    "user_id, anonymous_id, account_id, properties FROM (SELECT _seq, _line, message_id, timestamp, "
    "type, event, user_id, anonymous_id, account_id, _props AS properties FROM _batch)",
    read="duckdb",
)


def _fill(template: sge.Expression, **parts: sge.Expression) -> sge.Expression:
    """Replace placeholder columns (``_hash``, ``_props``) by constant expressions."""
    return template.transform(
        lambda node: (
            parts[node.name].copy() if isinstance(node, sge.Column) and node.name in parts else node
        )
    )


_STAGED_NAMES = tuple(e.alias_or_name for e in _STAGE_BASE.expressions)
_STAGE_FLAT = {
    key: _fill(_STAGE_BASE, _hash=_HASH, _props=sqlglot.parse_one(expr, read="duckdb"))
    for key, expr in _PROPS.items()
}


def staged_rows(batch: FlatBatch) -> pa.Table:
    """The checked batch in the staged-event layout: extras merged, missing ids hashed."""
    table = batch.table
    props = table.schema.field("properties").type
    kind = "text" if pa.types.is_string(props) or pa.types.is_null(props) else "json"
    extra = "_extra" in table.column_names
    if kind == "text" and not extra and table.column("message_id").null_count == 0:
        # The common export (every row has a message_id, properties as text, no
        # extra column): nothing to merge or hash, so skip the round trip through DuckDB.
        return table.select(list(_STAGED_NAMES))
    return run(_STAGE_FLAT[(kind, extra)], _batch=table)
