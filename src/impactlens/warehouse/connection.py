"""The warehouse: an Ibis backend plus the few writes Ibis does not express.

Analyses only ever read through ``Warehouse.table(name)`` and Ibis
expressions, so they run unchanged on DuckDB (embedded default), PySpark and
ClickHouse. Writes (import) need transactions and keyed deletes, which differ
per engine; those differences live in ``ENGINE_WRITES`` and nowhere else.

No SQL string here carries user data: statements are built with sqlglot from
our own identifiers, and user rows travel as Arrow tables registered with the
engine.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.errors import InternalError, UserError
from impactlens.warehouse.schema import (
    META_TABLE,
    META_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLES,
    TableSpec,
)


@dataclass(frozen=True)
class EngineWrites:
    """How one engine does the writes that Ibis leaves to SQL."""

    dialect: str
    transactional: bool
    # Settings applied for the duration of a bulk import (``Warehouse.bulk_session``).
    bulk_settings: tuple[tuple[str, str], ...] = ()


# The one place where engines differ for writes. Reads never branch on engine.
ENGINE_WRITES: dict[str, EngineWrites] = {
    # Insertion order of imported rows means nothing (queries order explicitly);
    # letting DuckDB drop it makes a bulk INSERT ... SELECT parallel. A memory
    # limit makes DuckDB spill an import's staging data to disk instead of
    # holding a whole file in RAM (the importer's "flat memory" promise).
    "duckdb": EngineWrites(
        dialect="duckdb",
        transactional=True,
        bulk_settings=(("preserve_insertion_order", "false"), ("memory_limit", "1GB")),
    ),
    "pyspark": EngineWrites(dialect="spark", transactional=False),
    "clickhouse": EngineWrites(dialect="clickhouse", transactional=False),
}


def _resolve_duckdb_path(url: str, base_dir: Path | None) -> str:
    parsed = urlparse(url)
    raw = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
    if raw in ("", "/", "/:memory:", ":memory:"):
        return ":memory:"
    # duckdb:///abs/path -> /abs/path ; duckdb:///rel/path is absolute too by URL rules,
    # so a relative path is written duckdb://rel/path or as a bare relative path.
    path = Path(raw)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


class Warehouse:
    """An Ibis connection with impactlens' schema on it."""

    def __init__(self, backend: ibis.BaseBackend, engine: str, url: str = "") -> None:
        if engine not in ENGINE_WRITES:
            raise UserError(
                f"unsupported warehouse engine {engine!r}; use one of {sorted(ENGINE_WRITES)}"
            )
        self.backend = backend
        self.engine = engine
        self.url = url
        self._writes = ENGINE_WRITES[engine]
        self._in_transaction = False
        self._after_commit: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        # The DuckDB database file (None in memory and on other engines), and whether
        # ``events`` is a view over stored rows and Parquet parts (warehouse/parts.py;
        # None: not looked up yet).
        self.database: Path | None = None
        self.read_only = False
        self.has_parts: bool | None = None

    # -- connecting ---------------------------------------------------------------
    @classmethod
    def connect(
        cls, url: str, *, base_dir: Path | None = None, read_only: bool = False
    ) -> Warehouse:
        """Open the warehouse named by ``url``.

        >>> wh = Warehouse.connect("duckdb://:memory:")
        >>> wh.engine
        'duckdb'
        """
        scheme = urlparse(url).scheme
        if scheme == "duckdb":
            path = _resolve_duckdb_path(url, base_dir)
            try:
                backend = ibis.duckdb.connect(path, read_only=read_only and path != ":memory:")
            except Exception as exc:  # duckdb raises IOException for a locked or newer file
                raise UserError(f"cannot open the DuckDB warehouse at {path}: {exc}") from exc
            warehouse = cls(backend, "duckdb", url)
            if path != ":memory:":
                from impactlens.warehouse.parts import open_parts  # parts imports this module

                warehouse.database = Path(path).resolve()
                warehouse.read_only = read_only
                open_parts(warehouse)
            return warehouse
        if scheme in ("pyspark", "spark"):
            from pyspark.sql import SparkSession  # optional dependency: impactlens[spark]

            master = urlparse(url).netloc or "local[2]"
            session = SparkSession.builder.master(master).appName("impactlens").getOrCreate()
            return cls(ibis.pyspark.connect(session), "pyspark", url)
        if scheme == "clickhouse":
            return cls(ibis.connect(url), "clickhouse", url)
        raise UserError(
            f"unknown warehouse URL {url!r}",
        )

    @classmethod
    def for_backend(cls, backend: ibis.BaseBackend) -> Warehouse:
        """Wrap an existing Ibis backend (tests use this for Spark and chdb)."""
        return cls(backend, backend.name, "")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.disconnect()

    # -- schema -------------------------------------------------------------------
    def ensure_schema(self) -> int:
        """Create missing tables and run pending migrations; return the schema version."""
        existing = set(self.backend.list_tables())
        for name, columns in META_TABLES.items():
            if name not in existing:
                self.backend.create_table(name, schema=ibis.schema(columns))
        for spec in TABLES.values():
            if spec.name not in existing:
                self.backend.create_table(spec.name, schema=spec.schema)
        version = self.schema_version()
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
            return SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise UserError(
                f"this warehouse has schema version {version}, newer than this impactlens "
                f"({SCHEMA_VERSION}); upgrade impactlens"
            )
        for migration in MIGRATIONS:
            if migration.to_version > version:
                with self.transaction():
                    migration.apply(self)
                    self.set_meta("schema_version", str(migration.to_version))
                version = migration.to_version
        return version

    def schema_version(self) -> int | None:
        version = self.meta("schema_version")
        return int(version) if version is not None else None

    def meta(self, key: str) -> str | None:
        """A value of ``_impactlens_meta``, or None."""
        meta = self.backend.table(META_TABLE)
        rows = meta.filter(meta.key == key).select("value").to_pyarrow()
        return rows.column(0)[0].as_py() if rows.num_rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of ``_impactlens_meta``."""
        self._delete_where_in(META_TABLE, pa.table({"key": [key]}), ("key",))
        self.backend.insert(META_TABLE, pa.table({"key": [key], "value": [value]}))

    # -- reading ------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        return self.backend.table(name)

    def count(self, name: str) -> int:
        return int(self.table(name).count().to_pyarrow().as_py())

    def rows_table(self, name: str) -> str:
        """Where rows of ``name`` are written: ``events`` may be a view over parts."""
        if name != "events":
            return name
        from impactlens.warehouse.parts import events_rows_table

        return events_rows_table(self)

    # -- writing ------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside are applied together or not at all (DuckDB).

        Engines without transactions run the block as is; the importer stages
        a whole file before it writes, so a bad file still writes nothing.
        """
        if not self._writes.transactional or self._in_transaction:
            yield
            return
        self._raw("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self._after_commit.clear()
            self._raw("ROLLBACK")
            self._run_hooks(self._after_rollback)
            raise
        self._in_transaction = False
        self._after_rollback.clear()
        self._raw("COMMIT")
        self._run_hooks(self._after_commit)

    def after_transaction(
        self,
        *,
        commit: Callable[[], None] | None = None,
        rollback: Callable[[], None] | None = None,
    ) -> None:
        """Run ``commit`` after the current transaction commits, ``rollback`` if it does not.

        Outside a transaction the write is already applied: ``commit`` runs now.
        Used for files beside the database (Parquet parts), which a rollback cannot undo.
        """
        if not self._in_transaction:
            if commit is not None:
                commit()
            return
        if commit is not None:
            self._after_commit.append(commit)
        if rollback is not None:
            self._after_rollback.append(rollback)

    @staticmethod
    def _run_hooks(hooks: list[Callable[[], None]]) -> None:
        pending = list(hooks)
        hooks.clear()
        for hook in pending:
            hook()

    def insert_new(self, name: str, rows: pa.Table) -> int:
        """Insert the rows whose key is not in the table yet; return how many."""
        spec = TABLES[name]
        rows = _conform(spec, rows)
        # Keep the first copy of a key within the batch too.
        staged = _first_per_key(_numbered(rows), spec.key)
        new = staged.anti_join(self.table(name), list(spec.key))
        before = self.count(name)
        self.backend.insert(self.rows_table(name), new.select(*spec.columns))
        return self.count(name) - before

    def upsert(self, name: str, rows: pa.Table) -> int:
        """Replace rows with the same key by these (the last copy in the batch wins)."""
        spec = TABLES[name]
        rows = _conform(spec, rows)
        staged = _last_per_key(_numbered(rows), spec.key).select(*spec.columns).to_pyarrow()
        self._delete_where_in(name, staged.select(list(spec.key)), spec.key)
        self.backend.insert(name, staged)
        return staged.num_rows

    def write(self, name: str, rows: pa.Table) -> int:
        """Write rows by the table's re-import rule (insert-if-new or upsert)."""
        if TABLES[name].on_conflict == "insert":
            return self.insert_new(name, rows)
        return self.upsert(name, rows)

    def _delete_where_in(self, name: str, keys: pa.Table, key: tuple[str, ...]) -> None:
        if keys.num_rows == 0:
            return
        temp = f"_il_keys_{uuid.uuid4().hex[:12]}"
        self.backend.create_table(temp, keys, temp=True)
        try:
            target = sg.table(name, quoted=True)
            staged = sg.table(temp, quoted=True)
            cols = [sg.column(k, quoted=True) for k in key]
            lhs = sge.Tuple(expressions=cols) if len(cols) > 1 else cols[0]
            sub = sg.select(*[sg.column(k, quoted=True) for k in key]).from_(staged)
            stmt = sg.delete(target).where(sge.In(this=lhs, query=sub.subquery()))
            self._raw(stmt.sql(self._writes.dialect))
        finally:
            self.backend.drop_table(temp, force=True)

    def delete_where_in(self, name: str, keys: pa.Table) -> None:
        """Delete the rows of ``name`` whose key columns match a row of ``keys``."""
        self._delete_where_in(name, keys, tuple(keys.column_names))

    def execute_statement(self, statement: sge.Expression) -> None:
        """Run a statement built with sqlglot from our own identifiers (no user data)."""
        self._raw(statement.sql(self._writes.dialect))

    # -- bulk paths (used by the importer) ----------------------------------------
    @contextlib.contextmanager
    def arrow_view(self, data: pa.Table) -> Iterator[str]:
        """Expose an Arrow table to SQL under a fresh name for the block.

        DuckDB scans the Arrow buffers in place; other engines get a temporary
        table. This is how user data reaches the engine: never inside SQL text.
        """
        name = f"_il_arrow_{uuid.uuid4().hex[:12]}"
        if self.engine == "duckdb":
            self.backend.con.register(name, data)
            try:
                yield name
            finally:
                self.backend.con.unregister(name)
            return
        self.backend.create_table(name, data, temp=True)
        try:
            yield name
        finally:
            self.backend.drop_table(name, force=True)

    def temp_directory(self) -> Path | None:
        """Where the engine spills to disk (DuckDB: next to the database file), if anywhere.

        The importer stages big files there rather than in the system temp
        folder, which may be RAM-backed (tmpfs). None for in-memory warehouses.
        """
        if self.engine != "duckdb":
            return None
        row = self.backend.con.execute("SELECT current_setting('temp_directory')").fetchone()
        path = Path(row[0]) if row and row[0] else None
        if path is None or not path.is_absolute():
            return None
        path.mkdir(parents=True, exist_ok=True)
        return path

    def query_arrow(self, statement: sge.Expression, params: Sequence[object] = ()) -> pa.Table:
        """Run a statement built with sqlglot from our own identifiers; return its rows.

        An INSERT/UPDATE/DELETE returns DuckDB's one-row count table. ``params``
        fill the statement's ``?`` placeholders (DuckDB only): how a user's file
        path reaches a table function without becoming SQL text.
        """
        sql = statement.sql(self._writes.dialect)
        try:
            if self.engine == "duckdb":
                return self.backend.con.execute(sql, list(params)).to_arrow_table()
            return self.backend.sql(sql).to_pyarrow()
        except Exception as exc:
            raise InternalError(f"warehouse statement failed: {exc}") from exc

    @contextlib.contextmanager
    def bulk_session(self) -> Iterator[None]:
        """Apply the engine's bulk-import settings for the block, then restore them."""
        settings = self._writes.bulk_settings
        if not settings:
            yield
            return
        con = self.backend.con
        saved = [
            (name, con.execute("SELECT current_setting(?)", [name]).fetchone()[0])
            for name, _ in settings
        ]
        for name, value in settings:
            self.execute_statement(
                sge.Set(
                    expressions=[
                        sge.SetItem(
                            this=sge.EQ(
                                this=sge.to_identifier(name), expression=sge.Literal.string(value)
                            )
                        )
                    ]
                )
            )
        try:
            yield
        finally:
            for name, value in saved:
                self.execute_statement(
                    sge.Set(
                        expressions=[
                            sge.SetItem(
                                this=sge.EQ(
                                    this=sge.to_identifier(name),
                                    expression=sge.Literal.string(str(value)),
                                )
                            )
                        ]
                    )
                )

    def _raw(self, sql: str) -> None:
        try:
            # DuckDB's execute returns the connection itself: never close what comes back.
            self.backend.raw_sql(sql)
        except Exception as exc:
            raise InternalError(f"warehouse statement failed: {exc}") from exc


def _conform(spec: TableSpec, rows: pa.Table) -> pa.Table:
    """Order and cast the columns of ``rows`` to the table's schema; missing ones are null."""
    target = spec.schema.to_pyarrow()
    arrays = []
    for field in target:
        if field.name in rows.column_names:
            arrays.append(rows.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(rows.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=target)


def _numbered(rows: pa.Table) -> ir.Table:
    """Stage rows with their position, so "first copy" and "last copy" are well defined."""
    return ibis.memtable(rows.append_column("_il_row", pa.array(range(rows.num_rows), pa.int64())))


def _first_per_key(table: ir.Table, key: tuple[str, ...]) -> ir.Table:
    first = table.group_by(list(key)).agg(_il_row=table._il_row.min())
    return table.semi_join(first, [*key, "_il_row"]).drop("_il_row")


def _last_per_key(table: ir.Table, key: tuple[str, ...]) -> ir.Table:
    last = table.group_by(list(key)).agg(_il_row=table._il_row.max())
    return table.semi_join(last, [*key, "_il_row"]).drop("_il_row")
