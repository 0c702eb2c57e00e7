"""NDJSON lines to extracted message fields, with DuckDB's JSON functions.

Parsing JSON line by line in Python costs ~10 us a message; DuckDB's yyjson
reads a whole chunk of lines in C++ on every core. One query parses each line
once (``from_json`` into a struct whose members are JSON) and gives, per line,
the JSON text of every field in ``segment.FIELDS``; each field's JSON type and
its value as text (a string unquoted, anything else as JSON) are then read
off that text with a few Arrow and numpy calls (a text's first byte says its
type), and the rules are applied on Arrow columns (``message_checks``).

Most files are valid JSON throughout, so the chunk is first read without a
validity check; a chunk that DuckDB refuses is read again with ``json_valid``
guarding the parse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import sqlglot.expressions as sge

from impactlens.ingest.compute import ComputeError, run
from impactlens.ingest.message_checks import check_messages
from impactlens.ingest.segment import FIELDS, RawMessages
from impactlens.ingest.sources import LineChunk


def _members(names: Sequence[str]) -> sge.Literal:
    """A ``from_json`` structure: each name as a JSON member (its text, whatever its type)."""
    return sge.Literal.string(orjson.dumps(dict.fromkeys(names, "JSON")).decode())


def _call(name: str, *args: sge.Expression) -> sge.Expression:
    return sge.Anonymous(this=name, expressions=list(args))


def _member_text(struct: sge.Expression, name: str) -> sge.Expression:
    return sge.cast(_call("struct_extract", struct, sge.Literal.string(name)), "VARCHAR")


def _field_columns() -> list[sge.Expression]:
    """``"j:<field>"``: the JSON text of each field, from the parsed struct ``s``.

    A nested field (``context.groupId``) parses its parent's text again, which
    is short; a missing field and JSON null are both SQL NULL.
    """
    s = sge.column("s")
    columns: list[sge.Expression] = []
    for name, _ in FIELDS:
        value: sge.Expression
        if "." in name:
            parent, child = name.split(".")
            text = _member_text(s, parent)
            inner = _call("from_json", text, _members([child]))
            value = sge.Case().when(
                _call("starts_with", text, sge.Literal.string("{")), _member_text(inner, child)
            )
        else:
            value = _member_text(s, name)
        columns.append(value.as_(f"j:{name}", quoted=True))
    return columns


def _query(inner: str) -> sge.Expression:
    """The field columns over ``inner``, whose ``_struct`` becomes the from_json structure."""
    structure = _members([name for name, _ in FIELDS if "." not in name])
    parsed = sqlglot.parse_one(inner, read="duckdb").transform(
        lambda node: (
            structure.copy() if isinstance(node, sge.Column) and node.name == "_struct" else node
        )
    )
    keep = ("_seq", "_line", "ok", "detail", "root")
    return sge.select(*keep, *_field_columns()).from_(
        sge.Subquery(this=parsed, alias=sge.TableAlias(this=sge.to_identifier("p")))
    )


# Constant SQL over our own names; the lines travel as an Arrow table. ``root``
# asks json_type only of a line that does not start with "{" (DuckDB evaluates a
# CASE branch for its own rows only), so a clean chunk is parsed once.
_FAST = _query(
    "SELECT _seq, _line, TRUE AS ok, _detail AS detail, "
    "CASE WHEN starts_with(line, '{') THEN 'OBJECT' ELSE json_type(line) END AS root, "
    "from_json(line, _struct) AS s FROM _chunk"
)
_CHECKED = _query(
    "SELECT _seq, _line, coalesce(json_valid(line), FALSE) AS ok, _detail AS detail, "
    "CASE WHEN json_valid(line) THEN json_type(line) END AS root, "
    "CASE WHEN json_valid(line) THEN from_json(line, _struct) END AS s FROM _chunk"
)
_UNESCAPE = sqlglot.parse_one("SELECT json_extract_string(j, '$') AS v FROM _texts", read="duckdb")

# A JSON text's type from its first byte; a number's from its text (see _number_types).
_TYPE_NAMES = pa.array(["VARCHAR", "OBJECT", "ARRAY", "BOOLEAN", "UBIGINT", "BIGINT", "DOUBLE"])
_VARCHAR, _UBIGINT, _BIGINT, _DOUBLE = 0, 4, 5, 6
_BY_FIRST_BYTE = np.full(256, _UBIGINT, np.int8)
_BY_FIRST_BYTE[[ord(c) for c in '"{[tf-']] = [0, 1, 2, 3, 3, _BIGINT]


class _Lines(Sequence[Any]):
    """Raw lines by index, decoded only when Python needs one."""

    def __init__(self, lines: pa.Array) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index: Any) -> Any:
        return self._lines[index].as_py()


def _as_text(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Lines as UTF-8 text; a line that is not UTF-8 becomes null with a reason."""
    try:
        return lines.cast(pa.large_string()), pa.nulls(len(lines), pa.string())
    except pa.ArrowInvalid:
        pass
    texts: list[str | None] = []
    details: list[str | None] = []
    for raw in lines.to_pylist():
        try:
            texts.append(raw.decode("utf-8"))
            details.append(None)
        except UnicodeDecodeError as exc:
            texts.append(None)
            details.append(f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    return pa.array(texts, pa.large_string()), pa.array(details, pa.string())


def extract_lines(chunk: LineChunk, first_seq: int) -> RawMessages:
    """Extract the message fields of every line of ``chunk``."""
    text, detail = _as_text(chunk.lines)
    n = len(text)
    data = pa.table(
        {
            "_seq": pa.array(range(first_seq, first_seq + n), pa.int64()),
            "_line": chunk.numbers,
            "line": text,
            "_detail": detail,
        }
    )
    result = None
    if not pc.any(pc.is_valid(detail)).as_py():
        try:
            result = run(_FAST, _chunk=data)
        except ComputeError:
            result = None  # some line is not JSON: read the chunk again, checked
    if result is None:
        result = run(_CHECKED, _chunk=data)
    if result.num_rows != n or not _in_order(result):
        result = result.sort_by("_seq")
    columns: dict[str, Any] = {
        "_seq": result.column("_seq"),
        "_line": result.column("_line"),
        "ok": result.column("ok"),
        "root": result.column("root"),
        "detail": result.column("detail").cast(pa.string()),
    }
    for name, _ in FIELDS:
        columns[f"t:{name}"], columns[f"v:{name}"] = _typed(
            result.column(f"j:{name}").combine_chunks()
        )
    raw = RawMessages(pa.table(columns), _Lines(chunk.lines))
    # Checked here, in the caller's (worker) thread: see RawMessages.checked.
    return dataclasses.replace(raw, checked=check_messages(raw))


def _typed(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(JSON type, value as text) of each JSON text; what json_type/json_extract_string give.

    Null stays null (a missing field or JSON null). A string's value is its
    text without the quotes, unless it holds an escape (only ``"``, ``\\`` and
    control characters are escaped in DuckDB's output): those few are decoded
    by DuckDB's ``json_extract_string`` itself.
    """
    texts = texts.cast(pa.string())
    if texts.null_count == len(texts):
        return pa.nulls(len(texts), pa.string()), texts
    codes = _BY_FIRST_BYTE[_first_bytes(texts)]
    valid = np.asarray(texts.is_valid())
    if np.any(valid & ((codes == _UBIGINT) | (codes == _BIGINT))):
        codes = _number_types(texts, codes)
    types = _TYPE_NAMES.take(pa.array(codes, mask=~valid))
    strings = valid & (codes == _VARCHAR)
    if not strings.any():
        return types, texts
    values = pc.utf8_slice_codeunits(texts, 1, -1)
    if not strings.all():
        values = pc.if_else(pa.array(strings), values, texts)
    if pc.any(pc.match_substring(texts, "\\")).as_py():
        escaped = pc.and_(pa.array(strings), pc.match_substring(texts, "\\"))
        values = _unescaped(texts, values, escaped)
    return types, values


def _first_bytes(texts: pa.Array) -> np.ndarray:
    """The first byte of each (non-empty) text, without a Python loop; 0 for null."""
    offsets = np.frombuffer(texts.buffers()[1], np.int32)[texts.offset : texts.offset + len(texts)]
    data = texts.buffers()[2]
    if data is None or data.size == 0:
        return np.zeros(len(texts), np.uint8)
    raw = np.frombuffer(data, np.uint8)
    return raw[np.minimum(offsets, raw.size - 1)]


def _number_types(texts: pa.Array, codes: np.ndarray) -> np.ndarray:
    """A number with a fraction or an exponent is DOUBLE (as json_type says of it)."""
    fractional = np.asarray(pc.fill_null(pc.match_substring_regex(texts, "[.eE]"), False))
    number = (codes == _UBIGINT) | (codes == _BIGINT)
    return np.where(number & fractional, _DOUBLE, codes).astype(np.int8)


def _unescaped(texts: pa.Array, values: pa.Array, escaped: pa.Array) -> pa.Array:
    picked = texts.filter(escaped)
    decoded = run(_UNESCAPE, _texts=pa.table({"j": picked})).column("v").to_pylist()
    out = values.to_pylist()
    for i, value in zip(pc.indices_nonzero(escaped).to_pylist(), decoded, strict=True):
        out[i] = value
    return pa.array(out, pa.string())


def _in_order(result: pa.Table) -> bool:
    seq = result.column("_seq")
    if len(seq) < 2:
        return True
    return bool(pc.all(pc.greater(seq.slice(1), seq.slice(0, len(seq) - 1))).as_py())
