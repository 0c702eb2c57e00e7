"""The warehouse layer: schema and connection (Ibis over DuckDB, Spark or ClickHouse)."""

from impactlens.warehouse.connection import Warehouse
from impactlens.warehouse.schema import ENTITIES, SCHEMA_VERSION, TABLES, TableSpec

__all__ = ["ENTITIES", "SCHEMA_VERSION", "TABLES", "TableSpec", "Warehouse"]
