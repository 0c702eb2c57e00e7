"""Run the same metric expressions on DuckDB, PySpark (local) and ClickHouse (chdb).

DuckDB and Spark are real Ibis backends behind ``Warehouse.for_backend``. chdb
has no Ibis backend, so for ClickHouse the metric is built against unbound
tables, compiled with ``ibis.to_sql(expr, dialect="clickhouse")`` and the SQL
runs in an embedded chdb session holding the same rows (and the query's
in-memory tables, e.g. the calendar).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import pyarrow as pa
import pyarrow.parquet as pq

from impactlens.metrics import (
    metric_per_actor,
    metric_per_actor_expr,
    metric_series,
    metric_series_expr,
)
from impactlens.warehouse import TABLES, Warehouse
from metrics.worlds import TABLES_USED, World


def arrow_tables(world: World) -> dict[str, pa.Table]:
    out = {}
    for name in TABLES_USED:
        schema = TABLES[name].schema.to_pyarrow()
        out[name] = pa.Table.from_pylist(getattr(world, name), schema=schema)
    return out


def spark_warehouse(session: Any, world: World) -> Warehouse:
    """Temp views in the shared local SparkSession, one per table (replaced per world)."""
    for name, table in arrow_tables(world).items():
        # Python rows, not pandas: pandas turns a missing string into NaN, which Spark reads as "nan".
        rows = [tuple(r.values()) for r in table.to_pylist()]
        frame = session.createDataFrame(rows, schema=_spark_schema(table.schema))
        frame.createOrReplaceTempView(name)
    return Warehouse.for_backend(ibis.pyspark.connect(session))


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql import types as T

    kinds = {
        pa.string(): T.StringType(),
        pa.float64(): T.DoubleType(),
        pa.int64(): T.LongType(),
        pa.date32(): T.DateType(),
        pa.timestamp("us"): T.TimestampType(),
    }
    return T.StructType([T.StructField(f.name, kinds[f.type], True) for f in schema])


class ChdbWarehouse:
    """Just enough of a Warehouse for the metrics layer: engine name and unbound tables."""

    engine = "clickhouse"

    def __init__(self, world: World) -> None:
        from chdb import session

        self.session = session.Session()
        self.session.query("SET session_timezone = 'UTC'")
        self.dir = Path(tempfile.mkdtemp(prefix="il_chdb_"))
        for name, table in arrow_tables(world).items():
            self._load(name, table)

    def table(self, name: str) -> ibis.Table:
        return ibis.table(TABLES[name].schema, name=name)

    def _load(self, name: str, table: pa.Table) -> None:
        path = self.dir / f"{name}_{uuid.uuid4().hex[:8]}.parquet"
        pq.write_table(table, path)
        self.session.query(f"DROP TABLE IF EXISTS `{name}`")
        columns = ", ".join(f"`{f.name}` Nullable({_ch_type(f.type)})" for f in table.schema)
        self.session.query(f"CREATE TABLE `{name}` ({columns}) ENGINE = Memory")
        if table.num_rows:
            # Our own table name and temp path, no user data.
            self.session.query(f"INSERT INTO `{name}` SELECT * FROM file('{path}', Parquet)")  # noqa: S608

    def execute(self, expr: ibis.Table) -> pa.Table:
        for node in expr.op().find(ops.InMemoryTable):
            self._load(node.name, node.data.to_pyarrow(node.schema))
        sql = ibis.to_sql(expr, dialect="clickhouse")
        return self.session.query(str(sql), "ArrowTable")

    def close(self) -> None:
        self.session.close()


def _ch_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "DateTime64(6, 'UTC')"
    return {
        pa.string(): "String",
        pa.float64(): "Float64",
        pa.int64(): "Int64",
        pa.date32(): "Date",
    }[t]


def series_rows(wh: Any, metric: Any, **kwargs: Any) -> list[dict]:
    if isinstance(wh, ChdbWarehouse):
        return wh.execute(metric_series_expr(wh, metric, **kwargs)).to_pylist()
    return metric_series(wh, metric, **kwargs).rows()


def actor_rows(wh: Any, metric: Any, **kwargs: Any) -> list[dict]:
    if isinstance(wh, ChdbWarehouse):
        return wh.execute(metric_per_actor_expr(wh, metric, **kwargs)).to_pylist()
    return metric_per_actor(wh, metric, **kwargs).rows()
