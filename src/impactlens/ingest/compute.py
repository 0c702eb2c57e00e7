"""A private in-memory DuckDB used as a vectorised parser (JSON lines, JSON checks).

Extraction is a pure function of the batch, so it runs outside the warehouse
and outside the file's transaction: a statement that fails here (a chunk with
a malformed line, read first on the fast path) cannot abort the import's
transaction, and the warehouse engine does not need JSON functions.
"""

from __future__ import annotations

import threading
import uuid

import duckdb
import pyarrow as pa
import sqlglot.expressions as sge

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        _local.con = con
    return con


class ComputeError(Exception):
    """DuckDB refused a statement (e.g. malformed JSON on the fast path)."""


def run(template: sge.Expression, **tables: pa.Table) -> pa.Table:
    """Run ``template`` with its placeholder tables bound to Arrow tables; return the rows."""
    con = _connection()
    names = {placeholder: f"_il_{uuid.uuid4().hex[:12]}" for placeholder in tables}
    for placeholder, data in tables.items():
        con.register(names[placeholder], data)
    try:
        return con.execute(sge.replace_tables(template, names).sql("duckdb")).to_arrow_table()
    except duckdb.Error as exc:
        raise ComputeError(str(exc)) from exc
    finally:
        for name in names.values():
            con.unregister(name)
