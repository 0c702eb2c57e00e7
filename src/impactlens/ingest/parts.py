"""Deciding whether an events file becomes a Parquet part, and deduplicating it as it streams.

A Parquet events file of at least ``PART_MIN_ROWS`` rows, imported into a
DuckDB warehouse file, is written as a part (warehouse/parts.py) rather than
inserted. Inserting deduplicates with set-based statements over the staged
rows; a part is written as the rows stream by, so the dedupe is decided
first, by one pass of DuckDB over the file's ``message_id`` column:

- ids stored already (in ``events``) are dropped;
- ids that occur more than once in the file keep their first row (the rule of
  every import: the first copy wins; a row that fails the row checks is no
  copy, one the reserved-event checks reject is, and is not written either).

The plan holds the rows concerned by position (the 0-based row of the file,
the staged ``_seq``) with a number per id, not the ids themselves: 12 bytes a
row even when every row is a copy (a re-import). It is refused (the file is
inserted as before) when a row has no ``message_id`` (its id is then a hash
of the checked row, unknown before the check), when ``message_id`` is not a
text column, or when more than ``MAX_KNOWN_ROWS`` rows are concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
import sqlglot.expressions as sge

from impactlens.warehouse import Warehouse
from impactlens.warehouse.parts import PART_SCHEMA, can_write_parts

PART_MIN_ROWS = 1_000_000
MAX_KNOWN_ROWS = 25_000_000

# The file's ids that are repeated in it or stored already, numbered; and a missing id
# (null or empty), which refuses the plan.
_KNOWN = sqlglot.parse_one(
    "CREATE TEMP TABLE _known AS "
    "WITH i AS (SELECT message_id, count(*) AS n FROM read_parquet(?) GROUP BY message_id), "
    "k AS (SELECT message_id, n, "
    "EXISTS (SELECT 1 FROM events AS e WHERE e.message_id = i.message_id) AS stored FROM i) "
    "SELECT message_id, n, stored, CAST(row_number() OVER () AS INTEGER) - 1 AS grp FROM k "
    "WHERE n > 1 OR stored OR message_id IS NULL OR message_id = ''",
    read="duckdb",
)
_KNOWN_SUMMARY = sqlglot.parse_one(
    "SELECT count(*) FILTER (WHERE message_id IS NULL OR message_id = '') AS missing, "
    "coalesce(sum(n), 0) AS rows, count(*) AS ids FROM _known",
    read="duckdb",
)
_POSITIONS = sqlglot.parse_one(
    "SELECT f.file_row_number AS pos, k.grp, k.stored "
    "FROM read_parquet(?, file_row_number = TRUE) AS f JOIN _known AS k "
    "ON f.message_id = k.message_id ORDER BY pos",
    read="duckdb",
)
_USERS = sqlglot.parse_one(
    "SELECT user_id, any_value(account_id) AS account_id FROM users "
    "WHERE account_id IS NOT NULL GROUP BY user_id",
    read="duckdb",
)


@dataclass
class PartPlan:
    """Which rows of a file to drop as they stream into a part, and whose account to fill.

    Rows are known by position (``_seq``), so a batch finds its own in a sorted
    array instead of hashing every id it holds.
    """

    positions: np.ndarray  # sorted rows whose message_id is repeated in the file or stored
    groups: np.ndarray  # per position: a number for its message_id
    stored: np.ndarray  # per position: stored already (every copy is dropped)
    accounts: dict[str, str]  # user_id -> account, for rows without one (as inserts do)
    seen: np.ndarray = field(init=False)  # per id number: a copy has been kept

    def __post_init__(self) -> None:
        count = int(self.groups.max()) + 1 if len(self.groups) else 0
        self.seen = np.zeros(count, dtype=np.bool_)

    def keep(self, rows: pa.Table, rejected: list[int], stamp: datetime) -> pa.Table:
        """The rows of a staged batch (rows in file order) to write, in the part's layout."""
        n = rows.num_rows
        mask = np.ones(n, dtype=np.bool_)
        seqs = rows.column("_seq").to_numpy()
        if n:
            # Positions absent from the batch failed the row checks: no copy. A row the
            # reserved-event checks reject afterwards is a copy (it takes its id), as
            # when inserting; it is dropped below.
            first, last = np.searchsorted(self.positions, [seqs[0], seqs[-1] + 1])
            at = np.searchsorted(seqs, self.positions[first:last])
            inside = at < n
            present = np.zeros(len(at), dtype=np.bool_)
            present[inside] = seqs[at[inside]] == self.positions[first:last][inside]
            rows_at, groups = at[present], self.groups[first:last][present]
            stored = self.stored[first:last][present]
            mask[rows_at[stored]] = False
            rows_at, groups = rows_at[~stored], groups[~stored]
            # the first copy of each id in this batch, unless an earlier batch kept one
            unique, first_at = np.unique(groups, return_index=True)
            winners = np.zeros(len(groups), dtype=np.bool_)
            winners[first_at[~self.seen[unique]]] = True
            mask[rows_at[~winners]] = False
            self.seen[unique] = True
        if rejected:
            mask[np.searchsorted(seqs, np.asarray(rejected, dtype=np.int64))] = False
        kept = rows if mask.all() else rows.take(pa.array(np.flatnonzero(mask)))
        account = kept.column("account_id")
        if self.accounts and account.null_count:
            missing = np.flatnonzero(account.is_null().to_numpy(zero_copy_only=False))
            users = pc.take(kept.column("user_id"), pa.array(missing)).to_pylist()
            values = account.to_pylist()
            for i, user in zip(missing.tolist(), users, strict=True):
                values[i] = self.accounts.get(user) if user is not None else None
            account = pa.array(values, pa.string())
        received = pa.array([stamp], pa.timestamp("us"))[0]
        columns = {
            name: kept.column(name) for name in PART_SCHEMA.names if name in kept.schema.names
        }
        columns["account_id"] = account
        columns["received_at"] = pa.repeat(received, kept.num_rows)
        return pa.table([columns[name] for name in PART_SCHEMA.names], schema=PART_SCHEMA)


def plan_part(warehouse: Warehouse, path: Path, *, min_rows: int | None = None) -> PartPlan | None:
    """A plan to import the Parquet events file at ``path`` as a part, or None to insert it."""
    min_rows = PART_MIN_ROWS if min_rows is None else min_rows
    if not can_write_parts(warehouse):
        return None
    try:
        metadata = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return None  # the importer reports what is wrong with the file
    if metadata.num_rows < max(min_rows, 1) or "message_id" not in schema.names:
        return None
    kind = schema.field("message_id").type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    drop = sge.Drop(this=sge.to_table("_known"), kind="TABLE", exists=True)
    warehouse.execute_statement(drop)
    try:
        warehouse.query_arrow(_KNOWN, params=[str(path)])
        summary = warehouse.query_arrow(_KNOWN_SUMMARY).to_pylist()[0]
        if summary["missing"] or summary["rows"] > MAX_KNOWN_ROWS:
            return None
        rows = warehouse.query_arrow(_POSITIONS, params=[str(path)])
    finally:
        warehouse.execute_statement(drop)
    users = warehouse.query_arrow(_USERS)
    return PartPlan(
        positions=rows.column("pos").to_numpy().astype(np.int64),
        groups=rows.column("grp").to_numpy().astype(np.int64),
        stored=rows.column("stored").to_numpy(zero_copy_only=False).astype(np.bool_),
        accounts=dict(
            zip(
                users.column("user_id").to_pylist(),
                users.column("account_id").to_pylist(),
                strict=True,
            )
        ),
    )
