"""Segment Spec messages: pull out the fields, then validate whole batches at once.

A message goes through two steps. *Extraction* turns each message into the
same columns -- for every field we read, its JSON type and its value as text --
whatever the source: DuckDB's JSON functions on NDJSON lines (vectorised, in
C++) or a small Python walk over already parsed dicts (HTTP messages, JSON
arrays). *Validation* then runs once, on Arrow columns, so a file and the
HTTP API reject the same message for the same reason, word for word.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

# (column suffix, JSON path): the fields of a message impactlens reads.
FIELDS: tuple[tuple[str, str], ...] = (
    ("type", "$.type"),
    ("event", "$.event"),
    ("userId", "$.userId"),
    ("anonymousId", "$.anonymousId"),
    ("timestamp", "$.timestamp"),
    ("messageId", "$.messageId"),
    ("context", "$.context"),
    ("context.groupId", "$.context.groupId"),
    ("properties", "$.properties"),
    ("name", "$.name"),
    ("groupId", "$.groupId"),
    ("traits", "$.traits"),
)
FIELD_NAMES = tuple(name for name, _ in FIELDS)
TYPES = ("track", "identify", "group", "page", "screen")
EVENT_TYPES = ("track", "page", "screen")

NUMBER = ("BIGINT", "UBIGINT", "DOUBLE")
ID_TYPES = ("VARCHAR", *NUMBER)


@dataclass(frozen=True)
class RawMessages:
    """Extracted fields of a batch of messages, one row per message.

    ``table`` has ``_seq`` (position in the file), ``_line`` (what a report
    shows), ``ok`` (valid JSON), ``root`` (JSON type of the message),
    ``detail`` (why the JSON is invalid), and ``t:<field>`` / ``v:<field>``
    for each field in ``FIELDS``. ``source`` gives back a parsed message by
    row index, for the few rows Python must look at (identify, group, hashing).
    """

    table: pa.Table
    source: Sequence[Any]

    def message(self, index: int) -> Any:
        item = self.source[index]
        if isinstance(item, bytes | str):
            return orjson.loads(item)
        return item


# -- extraction from Python objects -----------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "UBIGINT" if value >= 0 else "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "VARCHAR"
    if isinstance(value, dict):
        return "OBJECT"
    return "ARRAY"


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def extract_dicts(messages: Sequence[Any], first_seq: int, lines: Sequence[int]) -> RawMessages:
    """Extract from parsed messages (HTTP payloads, JSON array entries)."""
    columns: dict[str, list[Any]] = {"ok": [], "root": [], "detail": []}
    for name in FIELD_NAMES:
        columns[f"t:{name}"] = []
        columns[f"v:{name}"] = []
    source: list[Any] = []
    for message in messages:
        detail = None
        try:
            # Round-trip through JSON: what is not JSON-serialisable is not a message.
            orjson.dumps(message)
        except TypeError as exc:
            detail = f"not JSON-serialisable ({exc})"
        columns["ok"].append(detail is None)
        columns["detail"].append(detail)
        columns["root"].append(_json_type(message) if detail is None else None)
        is_object = detail is None and isinstance(message, dict)
        for name in FIELD_NAMES:
            value, present = message, is_object
            for key in name.split("."):
                if present and isinstance(value, dict) and key in value:
                    value = value[key]
                else:
                    present = False
            columns[f"t:{name}"].append(_json_type(value) if present else None)
            columns[f"v:{name}"].append(_json_text(value) if present else None)
        source.append(message)
    n = len(source)
    table = pa.table(
        {
            "_seq": pa.array(range(first_seq, first_seq + n), pa.int64()),
            "_line": pa.array(lines, pa.int64()),
            **{
                k: pa.array(v, pa.bool_() if k == "ok" else pa.string()) for k, v in columns.items()
            },
        }
    )
    return RawMessages(table, source)


def canonical_hash(message: Any) -> str:
    """The dedupe key of a message without ``messageId``: a hash of its canonical JSON."""
    text = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
    return "hash-" + hashlib.sha256(text).hexdigest()[:32]


def invalid_json_detail(line: bytes | str) -> str:
    """orjson's words for why a line is not JSON (only asked for rejected lines)."""
    try:
        orjson.loads(line.strip())
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return "not valid JSON"


# -- vectorised helpers ----------------------------------------------------------


def typ(raw: pa.Table, name: str) -> pa.ChunkedArray:
    return raw.column(f"t:{name}")


def val(raw: pa.Table, name: str) -> pa.ChunkedArray:
    return raw.column(f"v:{name}")


def absent(raw: pa.Table, name: str) -> pa.ChunkedArray:
    """The field is missing or JSON null."""
    t = typ(raw, name)
    return pc.or_kleene(pc.is_null(t), pc.equal(t, "NULL"))


def is_one_of(raw: pa.Table, name: str, types: Sequence[str]) -> pa.ChunkedArray:
    return pc.fill_null(pc.is_in(typ(raw, name), pa.array(list(types), pa.string())), False)


def wrong_type(raw: pa.Table, name: str, types: Sequence[str]) -> pa.ChunkedArray:
    """Present, not null, and not of one of ``types``."""
    return pc.and_(pc.invert(absent(raw, name)), pc.invert(is_one_of(raw, name, types)))


def filled(raw: pa.Table, name: str, types: Sequence[str] = ID_TYPES) -> pa.ChunkedArray:
    """Present with an allowed type and not the empty string."""
    nonempty = pc.fill_null(pc.not_equal(val(raw, name), ""), False)
    return pc.and_(is_one_of(raw, name, types), nonempty)
