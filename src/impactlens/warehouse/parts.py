"""Event rows kept as Parquet files that DuckDB reads in place ("parts").

Writing rows into DuckDB's compressed native storage costs 1.7-3 CPU-seconds
per million events, more than reading, checking and deduplicating them. A
big Parquet events file (the importer decides which, ``ingest/parts.py``)
is therefore written once, as a Parquet file in ``<warehouse>.parts/`` beside
the database, and ``events`` becomes a view: the rows in DuckDB's storage
(``_impactlens_event_rows``: small files, the server's loader) plus every
part. Readers see one ``events`` table either way; only DuckDB warehouse
files have parts (other engines, and in-memory warehouses, never do).

A part's life, safe at every step against a crash (design note
docs/design/event-parts.md):

1. its file is written under a fresh name and synced to disk: nothing reads it yet;
2. in the import's transaction, a row of ``_impactlens_event_parts`` names it and
   ``events`` is re-created over the parts listed there (DuckDB's catalog is
   transactional): COMMIT makes the rows visible, all at once;
3. a rollback deletes the file; a crash before COMMIT leaves a file no row
   names, deleted by the next writable connection (``open_parts``).

A part is never changed in place. A back-fill that must change rows of a part
(a user gains an account) writes a new part and swaps it for the old one in
the same way; the old file is deleted after COMMIT, or by the next sweep.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.warehouse.schema import (
    META_TABLES,
    PART_IDS_TABLE,
    PART_ROWS_TABLE,
    PARTS_TABLE,
    TABLES,
)

if TYPE_CHECKING:
    from impactlens.warehouse.connection import Warehouse

# The layout of a part file: the events columns but ``actor_id`` (the view computes
# it), and ``_seq``, the row's position in its source file (the importer joins the
# exposures and survey answers it found back to the rows it kept).
PART_SCHEMA = pa.schema(
    [
        pa.field("_seq", pa.int64()),
        *(f for f in TABLES["events"].schema.to_pyarrow() if f.name != "actor_id"),
    ]
)
# A file no row names, older than this, is left over from a crash (an import that is
# still writing its part touches the file as it goes).
ORPHAN_SECONDS = 3600
_FOLDER_KEY = "parts_folder"  # _impactlens_meta: the folder the view's paths point into
# _impactlens_meta: DuckDB's hash of a fixed text when the part ids were hashed. A DuckDB
# whose hash differs re-hashes them on connecting (its hash() is not a stable format).
_HASH_KEY = "part_ids_hash_probe"
_PROBE = sg.parse_one("SELECT CAST(hash('impactlens part ids') AS VARCHAR) AS probe", read="duckdb")
_INDEX = sg.parse_one("INSERT INTO _ids SELECT hash(message_id) FROM _part", read="duckdb")
# The staged rows whose id may be in a part (its hash is), then those that are.
# An inner join, not IN: DuckDB then builds its hash table on the few staged rows and
# streams the index past it (IN builds on the index: 65 ms per batch at 10M parts rows).
_CANDIDATES = sg.parse_one(
    "SELECT DISTINCT s._seq, s.message_id FROM _stage AS s JOIN _ids AS i "
    "ON i.h = hash(s.message_id)",
    read="duckdb",
)
_CONFIRMED = sg.parse_one(
    "SELECT c._seq FROM _candidates AS c WHERE c.message_id IN (SELECT message_id FROM _parts)",
    read="duckdb",
)

_VIEW = sg.parse_one(
    "CREATE OR REPLACE VIEW events AS "
    "SELECT message_id, timestamp, type, event, user_id, anonymous_id, actor_id, account_id, "
    "properties, received_at FROM _rows "
    "UNION ALL SELECT message_id, timestamp, type, event, user_id, anonymous_id, "
    "coalesce(user_id, anonymous_id) AS actor_id, account_id, properties, received_at "
    "FROM _parts",
    read="duckdb",
)
_AFFECTED = sg.parse_one(
    "SELECT count(*) FROM _part AS p JOIN _map AS m ON p.user_id = m.user_id "
    "WHERE p.account_id IS NULL",
    read="duckdb",
)
_BACKFILLED = sg.parse_one(
    "SELECT p.* REPLACE (coalesce(p.account_id, m.account_id) AS account_id) "
    "FROM _part AS p LEFT JOIN _map AS m ON p.user_id = m.user_id AND p.account_id IS NULL",
    read="duckdb",
)


def folder(warehouse: Warehouse) -> Path | None:
    """Where this warehouse keeps its parts (None: it cannot have any)."""
    if warehouse.engine != "duckdb" or warehouse.database is None:
        return None
    return warehouse.database.with_name(warehouse.database.name + ".parts")


def can_write_parts(warehouse: Warehouse) -> bool:
    return folder(warehouse) is not None and not warehouse.read_only


def has_parts(warehouse: Warehouse) -> bool:
    """Is ``events`` a view over stored rows and parts (looked up once per connection)?"""
    if warehouse.engine != "duckdb":
        return False
    if warehouse.has_parts is None:
        warehouse.has_parts = PART_ROWS_TABLE in set(warehouse.backend.list_tables())
    return warehouse.has_parts


def events_rows_table(warehouse: Warehouse) -> str:
    """The table that event rows are inserted into."""
    return PART_ROWS_TABLE if has_parts(warehouse) else "events"


def new_part_path(warehouse: Warehouse) -> Path:
    """A fresh file name in the parts folder (the folder is created if missing)."""
    where = folder(warehouse)
    if where is None:
        raise ValueError("this warehouse cannot keep parts")
    where.mkdir(parents=True, exist_ok=True)
    return where / f"{uuid.uuid4().hex}.parquet"


def part_writer(path: Path) -> pq.ParquetWriter:
    """A writer for a part: cheap to write, statistics on ``timestamp`` for time filters."""
    return pq.ParquetWriter(
        path,
        PART_SCHEMA,
        compression="lz4",
        use_dictionary=["type", "event", "account_id", "received_at"],
        write_statistics=["timestamp"],
    )


def sync(path: Path) -> None:
    """Flush a written file and its folder entry to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def part_files(warehouse: Warehouse) -> list[str]:
    """The file names of the parts, in the order they were added."""
    if not has_parts(warehouse):
        return []
    table = warehouse.table(PARTS_TABLE).order_by(["created_at", "part_id"])
    return [str(v) for v in table.file.to_pyarrow().to_pylist()]


def part_rows(warehouse: Warehouse) -> list[int]:
    """The row count of each part (empty without parts)."""
    if not has_parts(warehouse):
        return []
    return [int(v) for v in warehouse.table(PARTS_TABLE).rows.to_pyarrow().to_pylist()]


def add_part(
    warehouse: Warehouse,
    path: Path,
    rows: int,
    span: tuple[datetime, datetime] | None,
    *,
    replaces: str | None = None,
) -> None:
    """Make the synced part at ``path`` part of ``events`` in the caller's transaction.

    ``replaces``: the file name of a part this one takes the place of (deleted
    after COMMIT). A rollback deletes ``path``.
    """
    if not has_parts(warehouse):
        _convert(warehouse)
    if replaces is not None:
        warehouse.delete_where_in(PARTS_TABLE, pa.table({"file": [replaces]}))
    row = {
        "part_id": path.stem,
        "file": path.name,
        "rows": rows,
        "min_ts": span[0] if span else None,
        "max_ts": span[1] if span else None,
        "created_at": datetime.now(),
    }
    schema = ibis.schema(META_TABLES[PARTS_TABLE]).to_pyarrow()
    data = pa.Table.from_pylist([row], schema=schema)
    warehouse.backend.insert(PARTS_TABLE, data)
    if replaces is None:
        _index(warehouse, path)
    _create_view(warehouse)
    old = path.with_name(replaces) if replaces is not None else None
    warehouse.after_transaction(
        commit=(lambda: remove(old)) if old is not None else None,
        rollback=lambda: _rolled_back(warehouse, path),
    )


def _index(warehouse: Warehouse, path: Path) -> None:
    statement = sge.replace_tables(_INDEX.copy(), {"_ids": PART_IDS_TABLE}).transform(_scan(path))
    warehouse.execute_statement(statement)
    warehouse.set_meta(_HASH_KEY, _hash_probe(warehouse))


def _hash_probe(warehouse: Warehouse) -> str:
    return str(warehouse.query_arrow(_PROBE).column(0)[0].as_py())


def reindex_part_ids(warehouse: Warehouse) -> None:
    """Hash the message ids of every part again (in the caller's transaction)."""
    if not has_parts(warehouse):
        return
    warehouse.execute_statement(sge.Delete(this=sg.table(PART_IDS_TABLE, quoted=True)))
    where = folder(warehouse)
    assert where is not None
    for name in part_files(warehouse):
        _index(warehouse, where / name)


def part_copies(warehouse: Warehouse, stage: sge.Expression) -> pa.Table:
    """The ``_seq`` of the staged rows (``stage``: a table expression with ``_seq`` and
    ``message_id``) whose message_id is in a part.

    The hashes find the candidates without reading a part; only when there are
    some (a re-sent message, or a hash collision) are the parts' ids read.
    """
    empty = pa.table({"_seq": pa.array([], pa.int64())})
    if not has_parts(warehouse):
        return empty

    query = sge.replace_tables(_CANDIDATES.copy(), {"_ids": PART_IDS_TABLE})
    query = query.transform(_binding("_stage", stage))
    candidates = warehouse.query_arrow(query)
    if not candidates.num_rows:
        return empty
    with warehouse.arrow_view(candidates) as view:
        confirm = sge.replace_tables(_CONFIRMED.copy(), {"_candidates": view}).transform(
            _bind_parts(warehouse)
        )
        return warehouse.query_arrow(confirm)


def _bind_parts(warehouse: Warehouse):  # type: ignore[no-untyped-def]
    """A transform binding the placeholder table ``_parts`` to a scan of every part."""
    where = folder(warehouse)
    assert where is not None
    return _binding("_parts", _read([where / name for name in part_files(warehouse)]))


def _scan(path: Path):  # type: ignore[no-untyped-def]
    """A transform binding the placeholder table ``_part`` to a scan of one part."""
    return _binding("_part", _read([path]))


def _read(paths: list[Path]) -> sge.Expression:
    literals = [sge.Literal.string(str(path)) for path in paths]
    return sge.Anonymous(this="read_parquet", expressions=[sge.Array(expressions=literals)])


def _binding(placeholder: str, source: sge.Expression):  # type: ignore[no-untyped-def]
    """A transform replacing the table named ``placeholder`` by ``source`` (alias kept)."""

    def bind(node: sge.Expression) -> sge.Expression:
        if isinstance(node, sge.Table) and node.name == placeholder:
            return sge.Table(this=source.copy(), alias=node.args.get("alias"))
        return node

    return bind


def _rolled_back(warehouse: Warehouse, path: Path) -> None:
    remove(path)
    warehouse.has_parts = None  # the conversion may have been rolled back too


def _convert(warehouse: Warehouse) -> None:
    """``events`` becomes ``_impactlens_event_rows``; the view takes its name."""
    warehouse.execute_statement(
        sge.Alter(
            this=sg.table("events", quoted=True),
            kind="TABLE",
            actions=[sge.AlterRename(this=sg.table(PART_ROWS_TABLE, quoted=True))],
        )
    )
    warehouse.has_parts = True


def _view(warehouse: Warehouse, *, temporary: bool = False) -> sge.Expression:
    view = sge.replace_tables(_VIEW.copy(), {"_rows": PART_ROWS_TABLE})
    view = view.transform(_bind_parts(warehouse))
    if temporary:
        view.set("properties", sge.Properties(expressions=[sge.TemporaryProperty()]))
    return view


def _create_view(warehouse: Warehouse) -> None:
    warehouse.execute_statement(_view(warehouse))
    warehouse.set_meta(_FOLDER_KEY, str(folder(warehouse)))


def open_parts(warehouse: Warehouse) -> None:
    """On connecting: point ``events`` at this folder if the workspace moved; sweep orphans.

    A read-only connection cannot change the stored view, so it shadows it with a
    temporary one for itself.
    """
    if not has_parts(warehouse):
        return
    where = folder(warehouse)
    if warehouse.meta(_FOLDER_KEY) != str(where):
        if warehouse.read_only:
            warehouse.execute_statement(_view(warehouse, temporary=True))
        else:
            with warehouse.transaction():
                _create_view(warehouse)
    indexed = PART_IDS_TABLE in set(warehouse.backend.list_tables())  # else: migration 5
    if not warehouse.read_only and indexed and warehouse.meta(_HASH_KEY) != _hash_probe(warehouse):
        with warehouse.transaction():
            reindex_part_ids(warehouse)
    if not warehouse.read_only and where is not None and where.is_dir():
        sweep(where, set(part_files(warehouse)))


def sweep(where: Path, keep: set[str], *, older_than: float = ORPHAN_SECONDS) -> list[str]:
    """Delete the files in ``where`` that no part names and nothing touched for a while."""
    removed = []
    now = time.time()
    for entry in where.iterdir():
        if entry.name in keep or not entry.is_file():
            continue
        with contextlib.suppress(FileNotFoundError):
            if now - entry.stat().st_mtime >= older_than:
                entry.unlink()
                removed.append(entry.name)
    return removed


def backfill_parts(warehouse: Warehouse, mapping: str) -> int:
    """Give the rows of parts with no account the account of their user in ``mapping``.

    ``mapping`` names a relation of (user_id, account_id), one row per user. Each
    part with such rows is rewritten and swapped in; returns how many were.
    """
    if not has_parts(warehouse):
        return 0
    where = folder(warehouse)
    assert where is not None
    rewritten = 0
    catalog = warehouse.table(PARTS_TABLE).order_by(["created_at", "part_id"])
    for part in catalog.to_pyarrow().to_pylist():
        name = part["file"]
        old = where / name
        scan = _scan(old)
        affected = warehouse.query_arrow(
            sge.replace_tables(_AFFECTED.copy(), {"_map": mapping}).transform(scan)
        )
        if not affected.column(0)[0].as_py():
            continue
        new = new_part_path(warehouse)
        select = sge.replace_tables(_BACKFILLED.copy(), {"_map": mapping}).transform(scan)
        copy = sge.Copy(
            this=sge.Subquery(this=select),
            kind=False,
            files=[sge.Literal.string(str(new))],
            params=[
                sge.CopyParameter(this=sge.Var(this="FORMAT"), expression=sge.Var(this="parquet")),
                sge.CopyParameter(this=sge.Var(this="COMPRESSION"), expression=sge.Var(this="lz4")),
            ],
        )
        try:
            warehouse.execute_statement(copy)
            sync(new)
        except BaseException:
            remove(new)
            raise
        # the same rows as the part it replaces: the same count and time span
        span = (part["min_ts"], part["max_ts"])
        add_part(warehouse, new, int(part["rows"]), span, replaces=name)
        rewritten += 1
    return rewritten
