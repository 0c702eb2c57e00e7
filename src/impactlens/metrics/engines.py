"""The one place where the metrics layer differs per engine.

Everything else is plain Ibis and compiles the same on DuckDB, PySpark and
ClickHouse. Distinct counts and quantiles are written portably (distinct-then-
count, rank-and-interpolate) so no engine's approximate default (ClickHouse's
``uniq`` and ``quantile``) can change a number. What remains is reading a JSON
path out of a text column: each engine names that function differently, and
ClickHouse returns ``''`` rather than NULL for a missing path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duckdb_json_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the value at ``path`` as text (NULL when missing)."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_json_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark SQL: the value at ``path`` as text (NULL when missing)."""


@ibis.udf.scalar.builtin(name="JSON_VALUE")
def _clickhouse_json_text(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """ClickHouse: the scalar at ``path`` as text ('' when missing)."""


def _empty_is_null(fn: Callable[..., ir.StringValue]) -> Callable[..., ir.StringValue]:
    return lambda doc, path: fn(doc, path).nullif("")


@dataclass(frozen=True)
class EngineReads:
    """How one engine reads a scalar out of a JSON text column, and whether its
    quantile aggregate is exact with linear interpolation (numpy's default)."""

    json_text: Callable[[ir.StringValue, str], ir.StringValue]
    exact_quantile: bool


ENGINE_READS: dict[str, EngineReads] = {
    # quantile_cont and percentile interpolate like numpy; ClickHouse's quantile samples.
    "duckdb": EngineReads(json_text=_duckdb_json_text, exact_quantile=True),
    "pyspark": EngineReads(json_text=_spark_json_text, exact_quantile=True),
    "clickhouse": EngineReads(
        json_text=_empty_is_null(_clickhouse_json_text), exact_quantile=False
    ),
}


def json_path(keys: tuple[str, ...]) -> str:
    """``("flags", "search_v2")`` -> ``$.flags.search_v2`` (keys are validated names)."""
    return "$." + ".".join(keys)


def json_text(engine: str, column: ir.StringValue, keys: tuple[str, ...]) -> ir.StringValue:
    """The value at ``keys`` in a JSON text column, as text; booleans read ``true``/``false``."""
    return ENGINE_READS[engine].json_text(column, json_path(keys))
