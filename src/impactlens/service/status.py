"""What is in the warehouse: row counts and date ranges per entity."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from impactlens.warehouse import TABLES, Warehouse
from impactlens.warehouse.parts import part_rows


@dataclass(frozen=True)
class EntityStatus:
    """One table: how many rows, and the time span of its time column."""

    entity: str
    rows: int
    time_column: str | None
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class WarehouseStatus:
    """Every entity of the contract, plus the actor counts people ask for first."""

    url: str
    engine: str
    schema_version: int | None
    entities: tuple[EntityStatus, ...]
    identified_actors: int
    anonymous_actors: int
    imports: int
    event_parts: int = 0  # events kept as Parquet parts read in place (warehouse/parts.py)
    event_part_rows: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def warehouse_status(warehouse: Warehouse) -> WarehouseStatus:
    """Count rows and find the first and last timestamp of every entity.

    >>> from impactlens.warehouse import Warehouse
    >>> wh = Warehouse.connect("duckdb://:memory:"); _ = wh.ensure_schema()
    >>> warehouse_status(wh).entities[0].rows
    0
    """
    entities = []
    for spec in TABLES.values():
        table = warehouse.table(spec.name)
        if spec.time_column:
            col = table[spec.time_column]
            row = table.aggregate(n=table.count(), first=col.min(), last=col.max()).to_pyarrow()
            first, last = row["first"][0].as_py(), row["last"][0].as_py()
            if first is not None and not isinstance(first, datetime):  # a date column
                first = datetime(first.year, first.month, first.day)
                last = datetime(last.year, last.month, last.day)
            n = row["n"][0].as_py()
        else:
            n, first, last = warehouse.count(spec.name), None, None
        entities.append(EntityStatus(spec.name, int(n), spec.time_column, first, last))

    events = warehouse.table("events")
    actors = events.select("actor_id", "user_id").distinct()
    counts = actors.aggregate(
        identified=actors.user_id.notnull().sum(),
        anonymous=actors.user_id.isnull().sum(),
    ).to_pyarrow()
    imports = warehouse.count("_impactlens_imports")
    parts = part_rows(warehouse)
    return WarehouseStatus(
        url=warehouse.url,
        engine=warehouse.engine,
        schema_version=warehouse.schema_version(),
        entities=tuple(entities),
        identified_actors=int(counts["identified"][0].as_py() or 0),
        anonymous_actors=int(counts["anonymous"][0].as_py() or 0),
        imports=imports,
        event_parts=len(parts),
        event_part_rows=sum(parts),
    )
