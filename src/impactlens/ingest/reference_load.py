"""Loading one reference file (accounts ... backlog) inside the caller's transaction.

Rows are checked one by one (``rows.check_row``) and written in batches by
key: users and accounts merge into the stored row (``people``), the others
replace it. A row equal to the stored one is not rewritten and counts as a
duplicate, so importing the same file twice changes nothing. The same key
twice in one file is an error: which copy is meant is the user's call.

Reference files are small next to events; they are read with Python's csv
module (which knows each row's physical line, quoted newlines included).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.ingest.discovery import FileTask
from impactlens.ingest.entities import ENTITIES, EntitySpec
from impactlens.ingest.message_checks import RowProblem
from impactlens.ingest.people import Update, merge_updates, replace_keyed
from impactlens.ingest.rows import check_row
from impactlens.ingest.sources import (
    SourceError,
    iter_parquet_batches,
    load_json_entries,
    load_yaml_entries,
    open_binary,
)
from impactlens.warehouse import TABLES, Warehouse

BATCH = 20_000
_NOT_A_ROW = object()


def iter_entries(task: FileTask, tick: Any) -> Iterator[tuple[int, Any]]:
    """(line, entry) for every row of a reference file; a broken row is (line, reason: str)."""
    if task.form == "yaml":
        yield from load_yaml_entries(task)
    elif task.form == "json":
        yield from enumerate(load_json_entries(task), start=1)
    elif task.form == "parquet":
        row = 0
        for batch in iter_parquet_batches(task, tick):
            for entry in batch.to_pylist():
                row += 1
                yield row, entry
    elif task.form == "ndjson":
        with open_binary(task) as (stream, _):
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield number, (_NOT_A_ROW, f"invalid JSON: {exc}")
    else:
        yield from _csv_entries(task)


def _csv_entries(task: FileTask) -> Iterator[tuple[int, Any]]:
    with (
        open_binary(task) as (stream, _),
        io.TextIOWrapper(stream, encoding="utf-8-sig", newline="") as text,
    ):
        reader = csv.reader(text)
        try:
            header = [h.strip() for h in next(reader, [])]
            if not any(header):
                raise SourceError("the CSV file has no header line", line=1)
            end = reader.line_num
            for row in reader:
                start, end = end + 1, reader.line_num
                if not row or row == [""]:
                    continue
                if len(row) != len(header):
                    yield start, (_NOT_A_ROW, f"expected {len(header)} columns, found {len(row)}")
                    continue
                yield (
                    start,
                    {h: (v if v.strip() else None) for h, v in zip(header, row, strict=True)},
                )
        except (UnicodeDecodeError, csv.Error) as exc:
            raise SourceError(
                f"cannot parse the CSV file: {exc}", line=reader.line_num or None
            ) from exc


@dataclass(frozen=True)
class ReferenceOutcome:
    read: int
    loaded: int
    duplicate: int
    rejected: int
    problems: tuple[RowProblem, ...]


def load_reference(
    warehouse: Warehouse,
    task: FileTask,
    stamp: datetime,
    *,
    stop_writing_on_problem: bool,
    tick: Any,
) -> ReferenceOutcome:
    """Check every row of ``task`` and write the valid ones (see the module doc)."""
    spec = ENTITIES[task.entity or ""]
    first_line: dict[tuple[Any, ...], int] = {}
    problems: list[RowProblem] = []
    pending: list[Any] = []
    read = rejected = loaded = duplicate = 0

    def flush() -> None:
        nonlocal loaded, duplicate
        if pending and not (stop_writing_on_problem and problems):
            written, same = _write(warehouse, spec, pending, stamp)
            loaded, duplicate = loaded + written, duplicate + same
        pending.clear()

    for seq, (line, entry) in enumerate(iter_entries(task, tick)):
        read += 1
        if isinstance(entry, tuple) and entry and entry[0] is _NOT_A_ROW:
            problems.append(RowProblem(seq, line, None, entry[1]))
            rejected += 1
            continue
        checked = check_row(spec, entry)
        found = list(checked.problems)
        key = tuple(checked.row.get(f.column) for f in spec.key_fields)
        if all(k is not None for k in key):
            if key in first_line:
                label = "/".join(f.shown for f in spec.key_fields)
                shown = key[0] if len(key) == 1 else tuple(str(k) for k in key)
                found.append(
                    (label, f"duplicate {label} {shown!r} (first at line {first_line[key]})")
                )
            else:
                first_line[key] = line
        if found:
            problems.extend(RowProblem(seq, line, f, r) for f, r in found)
            rejected += 1
            continue
        pending.append(checked)
        if len(pending) >= BATCH:
            flush()
    flush()
    return ReferenceOutcome(read, loaded, duplicate, rejected, tuple(problems))


def _write(
    warehouse: Warehouse, spec: EntitySpec, checked: list[Any], stamp: datetime
) -> tuple[int, int]:
    """Write a batch of valid rows; (rows written, rows already stored as they are)."""
    if spec.merge:
        key = TABLES[spec.table].key[0]
        updates = [
            [
                Update(
                    spec.table,
                    c.row[key],
                    {col: c.row[col] for col in c.present if col != key},
                    c.attributes,
                )
            ]  # fmt: skip
            for c in checked
        ]
        result = merge_updates(warehouse, updates, stamp)
        changed = sum(result.changed)
        return changed, len(checked) - changed
    table = TABLES[spec.table]
    data = pa.Table.from_pylist([c.row for c in checked], schema=table.schema.to_pyarrow())
    columns = [sg.column(c, quoted=True) for c in table.columns]
    with warehouse.arrow_view(data) as view:
        query = sge.except_(
            sg.select(*columns).from_(view),
            sg.select(*columns).from_(sg.table(spec.table, quoted=True)),
            distinct=True,
        )
        changed = warehouse.query_arrow(query)
    if changed.num_rows:
        replace_keyed(warehouse, spec.table, changed.cast(data.schema))
    return changed.num_rows, data.num_rows - changed.num_rows
