"""Writing the contract's files: Parquet parts, CSV, YAML and gzipped NDJSON.

Parquet parts are written one row group per batch through a rolling
``ParquetWriter``, so the event stage holds one batch in memory, never a part.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

# A CSV file as named columns: numpy arrays or plain sequences of cell values.
Columns = dict[str, Sequence[object] | np.ndarray]


class PartWriter:
    """Events into ``<folder>/part-NNNN.parquet``, at most ``rows_per_part`` rows a part."""

    def __init__(self, folder: Path, rows_per_part: int, schema: pa.Schema) -> None:
        self.folder, self.rows_per_part, self.schema = folder, rows_per_part, schema
        self.paths: list[Path] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_part = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        # Start a new part rather than let this one grow past rows_per_part
        # (a single batch bigger than that still gets a part of its own).
        if self._writer is None or self._in_part + table.num_rows > self.rows_per_part:
            self._roll()
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=256 * 1024)
        self._in_part += table.num_rows
        self.rows += table.num_rows

    def _roll(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.folder / f"part-{len(self.paths):04d}.parquet"
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.paths.append(path)
        self._in_part = 0

    def close(self) -> list[Path]:
        if self._writer is None:  # no events at all: still leave one (empty) part
            self._roll()
        assert self._writer is not None
        self._writer.close()
        return self.paths


def write_csv(path: Path, columns: Columns) -> int:
    """A CSV with a header; ``None`` and "" become empty cells. Returns the row count."""
    names = list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(names)
        count = 0
        for row in rows:
            out.writerow(["" if v is None else v for v in row])
            count += 1
    return count


class Timestamp(str):
    """A string that YAML writes as a plain (unquoted) timestamp scalar."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    Timestamp, lambda d, v: d.represent_scalar("tag:yaml.org,2002:timestamp", str(v))
)


def write_yaml(path: Path, data: object) -> None:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")


def write_ndjson_gz(path: Path, messages: Iterable[dict]) -> int:
    """One JSON object per line, gzip-compressed. Returns the line count."""
    count = 0
    # mtime=0 and no file name in the gzip header: same seed, same bytes.
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as f:
        for message in messages:
            f.write(orjson.dumps(message) + b"\n")
            count += 1
    return count


def write_json(path: Path, data: object) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
