"""NDJSON lines to extracted message fields, with DuckDB's JSON functions.

Parsing JSON line by line in Python costs ~10 us a message; DuckDB's yyjson
reads a whole chunk of lines in C++ on every core. One query extracts, per
line, the JSON type and text of every field in ``segment.FIELDS``; the rules
are then applied on Arrow columns (``message_checks``).

Most files are valid JSON throughout, so the chunk is first read without a
validity check; a chunk that DuckDB refuses is read again with ``json_valid``
guarding every extraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import sqlglot.expressions as sge

from impactlens.ingest.compute import ComputeError, run
from impactlens.ingest.segment import FIELDS, RawMessages
from impactlens.ingest.sources import LineChunk

_FIELD_PATHS = tuple(path for _, path in FIELDS)

_PATHS = {
    "_paths": sge.Array(expressions=[sge.Literal.string(p) for p in _FIELD_PATHS]),
    # "$" first: the type of the message itself comes from the same parse as its fields'
    "_type_paths": sge.Array(expressions=[sge.Literal.string(p) for p in ("$", *_FIELD_PATHS)]),
}


def _template(sql: str) -> sge.Expression:
    """Parse constant SQL; the placeholder columns ``_paths``/``_type_paths`` become JSON paths."""
    return sqlglot.parse_one(sql, read="duckdb").transform(
        lambda node: (
            _PATHS[node.name].copy()
            if isinstance(node, sge.Column) and node.name in _PATHS
            else node
        )
    )


# Constant SQL over our own names; the lines travel as an Arrow table. Each JSON
# function parses the line again, so there are as few calls as there are outputs.
_FAST = _template(
    "SELECT _seq, _line, TRUE AS ok, _detail AS detail, "
    "json_type(line, _type_paths) AS t, json_extract_string(line, _paths) AS v FROM _chunk"
)
_CHECKED = _template(
    "SELECT _seq, _line, coalesce(json_valid(line), FALSE) AS ok, _detail AS detail, "
    "CASE WHEN json_valid(line) THEN json_type(line, _type_paths) END AS t, "
    "CASE WHEN json_valid(line) THEN json_extract_string(line, _paths) END AS v FROM _chunk"
)


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
        "root": pc.list_element(result.column("t"), 0),
        "detail": result.column("detail").cast(pa.string()),
    }
    types, values = result.column("t"), result.column("v")
    for k, (name, _) in enumerate(FIELDS):
        columns[f"t:{name}"] = pc.list_element(types, k + 1)
        columns[f"v:{name}"] = pc.list_element(values, k)
    return RawMessages(pa.table(columns), _Lines(chunk.lines))


def _in_order(result: pa.Table) -> bool:
    seq = result.column("_seq")
    if len(seq) < 2:
        return True
    return bool(pc.all(pc.greater(seq.slice(1), seq.slice(0, len(seq) - 1))).as_py())
