"""Reading the file forms in bounded batches: NDJSON lines, CSV, Parquet, JSON, YAML.

Everything streams except the JSON document forms (an array or a Segment
batch object) and YAML, which are read whole: they are the forms of small
hand-written or API-exported files; big exports belong in NDJSON, CSV or
Parquet. A ``.gz`` file is decompressed on the fly (Parquet needs random
access, so ``.parquet.gz`` is first decompressed to a temporary file).

Readers report progress as compressed bytes consumed out of the file size.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from impactlens.ingest.discovery import FileTask

LINE_CHUNK_BYTES = 8 << 20
ROW_BATCH = 131_072

Tick = Callable[[int], None]


class SourceError(Exception):
    """The file as a whole cannot be read (bad gzip, not JSON, not a table, ...)."""

    def __init__(self, reason: str, line: int | None = None, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.field = field


@contextlib.contextmanager
def open_binary(task: FileTask) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """(decoded stream, raw file): read the first, ask the second for progress."""
    with open(task.path, "rb") as raw:
        if task.gzip:
            with gzip.GzipFile(fileobj=raw) as decoded:
                yield decoded, raw  # type: ignore[misc]
        else:
            yield raw, raw


@dataclass(frozen=True)
class LineChunk:
    """Non-blank lines of an NDJSON file, with their 1-based physical line numbers."""

    lines: pa.Array  # large_binary: UTF-8 is checked downstream, per line
    numbers: pa.Array  # int64


def iter_line_chunks(task: FileTask, tick: Tick) -> Iterator[LineChunk]:
    """Split the file into lines with numpy (no per-line Python), about 8 MB at a time."""
    line_no = 0
    with open_binary(task) as (stream, raw):
        carry = b""
        while True:
            try:
                block = stream.read(LINE_CHUNK_BYTES)
            except (OSError, EOFError) as exc:
                raise SourceError(f"cannot read the file: {exc}", line=line_no + 1) from exc
            if not block:
                if carry:
                    yield _chunk(carry + b"\n", line_no)
                break
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            chunk = _chunk(data[: cut + 1], line_no)
            line_no += data.count(b"\n", 0, cut + 1)
            tick(raw.tell())
            yield chunk


def _chunk(data: bytes, first_line: int) -> LineChunk:
    """Lines of ``data`` (which ends with a newline) without a per-line Python loop.

    Each element keeps its line end (JSON allows trailing whitespace), so the
    offsets point straight into ``data`` and nothing is copied.
    """
    buf = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buf == 10)
    offsets = np.empty(len(ends) + 1, np.int64)
    offsets[0] = 0
    offsets[1:] = ends + 1
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    numbers = pa.array(np.arange(first_line + 1, first_line + 1 + len(ends), dtype=np.int64))
    lengths = np.diff(offsets)
    blank = (lengths == 1) | ((lengths == 2) & (buf[np.maximum(offsets[1:] - 2, 0)] == 13))
    if blank.any():
        keep = pa.array(~blank)
        lines, numbers = lines.filter(keep), numbers.filter(keep)
    return LineChunk(lines, numbers)


def read_csv_header(task: FileTask) -> list[str]:
    with open_binary(task) as (stream, _), io.TextIOWrapper(stream, encoding="utf-8-sig") as text:
        try:
            return next(csv.reader(text), [])
        except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
            raise SourceError(f"cannot read the CSV header: {exc}", line=1) from exc


def iter_csv_batches(task: FileTask, tick: Tick) -> Iterator[pa.RecordBatch]:
    """CSV in Arrow batches, every column as text (types are the validator's business)."""
    header = [h.strip() for h in read_csv_header(task)]
    if not header or not any(header):
        raise SourceError("the CSV file has no header line", line=1)
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise SourceError(f"duplicate column(s) in the header: {', '.join(dup)}", line=1)
    read = pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=8 << 20)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header}, strings_can_be_null=True
    )
    with open_binary(task) as (stream, raw):
        try:
            reader = pacsv.open_csv(
                stream, read_options=read, parse_options=parse, convert_options=convert
            )
            for batch in reader:
                tick(raw.tell())
                yield batch
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            raise SourceError(f"cannot parse the CSV file: {exc}") from exc


def csv_line_numbers(task: FileTask, records: set[int]) -> dict[int, int]:
    """Physical start line (header = 1) of the given 0-based data records.

    Only run when a file has problems: a quoted value may span lines, so the
    record index alone does not give the line a user sees in an editor.
    """
    if not records:
        return {}
    found: dict[int, int] = {}
    last = max(records)
    with (
        open_binary(task) as (stream, _),
        io.TextIOWrapper(stream, encoding="utf-8-sig", newline="") as text,
    ):
        reader = csv.reader(text)
        next(reader, None)
        end = reader.line_num
        index = 0
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row:
                continue
            if index in records:
                found[index] = start
            if index >= last:
                break
            index += 1
    return found


def iter_parquet_batches(task: FileTask, tick: Tick) -> Iterator[pa.RecordBatch]:
    with contextlib.ExitStack() as stack:
        path = task.path
        if task.gzip:
            spool = stack.enter_context(tempfile.NamedTemporaryFile(suffix=".parquet"))
            with gzip.open(task.path, "rb") as src:
                shutil.copyfileobj(src, spool, 8 << 20)
            spool.flush()
            path = Path(spool.name)
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"not a readable Parquet file: {exc}") from exc
        total = task.path.stat().st_size
        rows, done = max(parquet.metadata.num_rows, 1), 0
        for batch in parquet.iter_batches(batch_size=ROW_BATCH):
            done += batch.num_rows
            tick(int(total * done / rows))
            yield batch


def load_json_entries(task: FileTask) -> list[Any]:
    """A JSON array, or Segment's batch object ``{"batch": [...]}``, read whole.

    A batch object's top-level ``context`` applies to every message that does
    not set the same context key itself (as Segment's HTTP batch API does).
    """
    with open_binary(task) as (stream, _):
        try:
            document = orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"invalid JSON: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise SourceError(f"cannot read the file: {exc}") from exc
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        shared = document.get("context")
        if not isinstance(shared, dict):
            return document["batch"]
        return [_with_context(m, shared) for m in document["batch"]]
    if isinstance(document, dict) and task.entity and isinstance(document.get(task.entity), list):
        return document[task.entity]
    raise SourceError('expected a JSON array or a batch object {"batch": [...]}')


def _with_context(message: Any, shared: dict[str, Any]) -> Any:
    if not isinstance(message, dict):
        return message
    own = message.get("context")
    if own is not None and not isinstance(own, dict):
        return message
    return {**message, "context": {**shared, **(own or {})}}


def load_yaml_entries(task: FileTask) -> list[tuple[int, Any]]:
    """YAML list entries with the line each starts on (from the parser's node marks)."""
    with open_binary(task) as (stream, _):
        try:
            text = stream.read().decode("utf-8-sig")
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            raise SourceError(
                f"not valid YAML: {exc}", line=mark.line + 1 if mark else None
            ) from exc
    if isinstance(data, dict) and task.entity in data and isinstance(node, yaml.MappingNode):
        data = data[task.entity]
        node = next(v for k, v in node.value if k.value == task.entity)
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise SourceError(f"expected a YAML list of {task.entity}", line=1)
    return [(item.start_mark.line + 1, value) for item, value in zip(node.value, data, strict=True)]
