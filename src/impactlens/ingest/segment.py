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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from impactlens.ingest.message_checks import CheckedMessages

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
    ``checked`` is the batch's ``check_messages`` result when the extractor has
    already computed it: NDJSON extraction does, in its worker thread, so the
    checking overlaps with the caller staging the previous batch.
    """

    table: pa.Table
    source: Sequence[Any]
    checked: CheckedMessages | None = field(default=None, compare=False, repr=False)

    def message(self, index: int) -> Any:
        item = self.source[index]
        if isinstance(item, bytes | str):
            return orjson.loads(item)
        return item


# -- extraction from Python objects -----------------------------------------------


def json_type(value: Any) -> str:
    """The JSON type name DuckDB's ``json_type`` gives ``value`` (``VARCHAR``, ``OBJECT``, ...)."""
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


def serialisable_detail(message: Any) -> str | None:
    """Why ``message`` is not JSON (what orjson cannot serialise), or None when it is."""
    try:
        orjson.dumps(message)
    except TypeError as exc:
        return f"not JSON-serialisable ({exc})"
    return None


def extract_dicts(messages: Sequence[Any], first_seq: int, lines: Sequence[int]) -> RawMessages:
    """Extract from parsed messages (HTTP payloads, JSON array entries)."""
    columns: dict[str, list[Any]] = {"ok": [], "root": [], "detail": []}
    for name in FIELD_NAMES:
        columns[f"t:{name}"] = []
        columns[f"v:{name}"] = []
    source: list[Any] = []
    targets = [(n, tuple(n.split(".")), columns[f"t:{n}"], columns[f"v:{n}"]) for n in FIELD_NAMES]
    for message in messages:
        # Round-trip through JSON: what is not JSON-serialisable is not a message.
        detail = serialisable_detail(message)
        columns["ok"].append(detail is None)
        columns["detail"].append(detail)
        columns["root"].append(json_type(message) if detail is None else None)
        is_object = detail is None and isinstance(message, dict)
        for _name, keys, types, values in targets:
            value: Any = message
            present = is_object
            for key in keys:
                if present and type(value) is dict and key in value:
                    value = value[key]
                else:
                    present = False
                    break
            types.append(json_type(value) if present else None)
            values.append(_json_text(value) if present else None)
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


class Fields:
    """Masks over the extracted columns, each computed once per batch.

    The rules ask the same questions many times (is ``userId`` absent? a
    string?); on a 100-message HTTP batch the fixed cost of each Arrow call
    dominates, so answers are cached.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._cache: dict[tuple[Any, ...], Any] = {}

    def typ(self, name: str) -> pa.ChunkedArray:
        return self.table.column(f"t:{name}")

    def val(self, name: str) -> pa.ChunkedArray:
        return self.table.column(f"v:{name}")

    def absent(self, name: str) -> Any:
        """The field is missing or JSON null."""
        key = ("absent", name)
        if key not in self._cache:
            t = self.typ(name)
            self._cache[key] = pc.fill_null(pc.equal(t, "NULL"), True)
        return self._cache[key]

    def is_one_of(self, name: str, types: Sequence[str]) -> Any:
        key = ("one_of", name, tuple(types))
        if key not in self._cache:
            found = pc.is_in(self.typ(name), pa.array(list(types), pa.string()))
            self._cache[key] = pc.fill_null(found, False)
        return self._cache[key]

    def wrong_type(self, name: str, types: Sequence[str]) -> Any:
        """Present, not null, and not of one of ``types``."""
        return pc.invert(pc.or_(self.absent(name), self.is_one_of(name, types)))

    def filled(self, name: str, types: Sequence[str] = ID_TYPES) -> Any:
        """Present with an allowed type and not the empty string."""
        key = ("filled", name, tuple(types))
        if key not in self._cache:
            nonempty = pc.fill_null(pc.not_equal(self.val(name), ""), False)
            self._cache[key] = pc.and_(self.is_one_of(name, types), nonempty)
        return self._cache[key]
