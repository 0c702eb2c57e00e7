"""Loading one events file (or one HTTP batch) inside the caller's transaction.

Checked batches are staged into a temporary table as they are read, so memory
stays flat; DuckDB spills the staging table to disk when it outgrows its
memory limit. ``finish`` then checks the reserved events, drops the rejected
rows, and writes with a few set-based statements: events whose ``message_id``
is new (first copy in the file wins), the exposures and survey answers they
carry, and the derived tables (``refresh_after_import``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlglot
import sqlglot.expressions as sge

from impactlens.config import ReservedEvents
from impactlens.ingest.flat_events import FlatBatch, stage_statement
from impactlens.ingest.message_checks import STAGED_EVENT, RowProblem, check_messages
from impactlens.ingest.people import Update, merge_updates
from impactlens.ingest.reserved import check_reserved
from impactlens.ingest.segment import RawMessages
from impactlens.ingest.traits import people_updates
from impactlens.warehouse import Warehouse
from impactlens.warehouse.rollups import refresh_after_import

# Shared pieces of the statements below, substituted into their placeholders.
_PARTS = {
    # one account per user even if users were written with duplicate keys elsewhere
    "_users": sqlglot.parse_one(
        "SELECT user_id, any_value(account_id) AS account_id FROM users GROUP BY user_id",
        read="duckdb",
    ),
    # not a later copy of a message_id within this file (the first copy wins)
    "_fresh": sqlglot.parse_one(
        "NOT EXISTS (SELECT 1 FROM _later AS l WHERE l._seq = s._seq)", read="duckdb"
    ),
}


def _sql(text: str) -> sge.Expression:
    """Parse constant SQL over our own names and fill the shared placeholders."""

    def fill(node: sge.Expression) -> sge.Expression:
        if isinstance(node, sge.Table) and node.name == "_users":
            return sge.Subquery(this=_PARTS["_users"].copy(), alias=node.args.get("alias"))
        if isinstance(node, sge.Column) and node.name == "_fresh" and not node.table:
            return _PARTS["_fresh"].copy()
        return node

    return sqlglot.parse_one(text, read="duckdb").transform(fill)


_LATER = _sql(
    "CREATE TEMP TABLE _later AS SELECT _seq FROM _stage WHERE message_id IN "
    "(SELECT message_id FROM _stage GROUP BY message_id HAVING count(*) > 1) "
    "QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY _seq) > 1"
)
_INSERT_EVENTS = _sql(
    "INSERT INTO events (message_id, timestamp, type, event, user_id, anonymous_id, actor_id, "
    "account_id, properties, received_at) SELECT s.message_id, s.timestamp, s.type, s.event, "
    "s.user_id, s.anonymous_id, coalesce(s.user_id, s.anonymous_id), "
    "coalesce(s.account_id, u.account_id), s.properties, r.received_at "
    "FROM _stage AS s CROSS JOIN _now AS r LEFT JOIN _users AS u ON s.user_id = u.user_id "
    "WHERE _fresh AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.message_id = s.message_id)"
)
_INSERT_EXPOSURES = _sql(
    "INSERT INTO exposures (message_id, experiment_id, variation_id, actor_id, user_id, account_id, "
    "timestamp) SELECT s.message_id, x.experiment_id, x.variation_id, "
    "coalesce(s.user_id, s.anonymous_id), s.user_id, coalesce(s.account_id, u.account_id), s.timestamp "
    "FROM _rows AS x JOIN _stage AS s ON x._seq = s._seq LEFT JOIN _users AS u "
    "ON s.user_id = u.user_id WHERE _fresh "
    "AND NOT EXISTS (SELECT 1 FROM exposures AS e WHERE e.message_id = s.message_id)"
)
_INSERT_SURVEYS = _sql(
    "INSERT INTO surveys (response_id, responded_at, user_id, account_id, survey, score, comment, "
    "source) SELECT s.message_id, s.timestamp, s.user_id, coalesce(s.account_id, u.account_id), "
    "x.survey, x.score, x.comment, 'event' "
    "FROM _rows AS x JOIN _stage AS s ON x._seq = s._seq LEFT JOIN _users AS u "
    "ON s.user_id = u.user_id WHERE _fresh "
    "AND NOT EXISTS (SELECT 1 FROM surveys AS v WHERE v.response_id = s.message_id)"
)
_RESERVED_ROWS = _sql(
    "SELECT _seq, _line, event, properties FROM _stage "
    "WHERE type = 'track' AND event IN (SELECT name FROM _rows)"
)
_DROP_REJECTED = _sql("DELETE FROM _stage WHERE _seq IN (SELECT _seq FROM _rows)")
_CREATE_STAGE = _sql("CREATE TEMP TABLE _stage AS SELECT * FROM _rows LIMIT 0")
_APPEND = _sql("INSERT INTO _stage SELECT * FROM _rows")
_RANGE = _sql("SELECT count(*) AS n, min(timestamp) AS lo, max(timestamp) AS hi FROM _stage")


@dataclass(frozen=True)
class EventOutcome:
    """Counts of one events load; ``loaded + duplicate + rejected = read``."""

    read: int
    loaded: int
    duplicate: int
    rejected: int
    problems: tuple[RowProblem, ...]
    by_type: Counter[str]


class EventLoad:
    """Stage batches of one file, then ``finish`` writes them (inside a transaction)."""

    def __init__(self, warehouse: Warehouse, reserved: ReservedEvents, stamp: datetime) -> None:
        self.wh = warehouse
        self.reserved = reserved
        self.stamp = stamp
        tag = uuid.uuid4().hex[:12]
        self.stage, self.later = f"_il_stage_{tag}", f"_il_later_{tag}"
        self.problems: list[RowProblem] = []
        self.read = self.rejected = self.people_loaded = self.people_duplicate = 0
        self.by_type: Counter[str] = Counter()
        self._run(_CREATE_STAGE, STAGED_EVENT.empty_table())

    def _names(self, template: sge.Expression, rows: str | None = None) -> sge.Expression:
        names = {"_stage": self.stage, "_later": self.later}
        if rows:
            names["_rows"] = rows
        return sge.replace_tables(template, names)

    def _run(self, template: sge.Expression, rows: pa.Table | None = None) -> pa.Table:
        if rows is None:
            return self.wh.query_arrow(self._names(template))
        with self.wh.arrow_view(rows) as view:
            return self.wh.query_arrow(self._names(template, view))

    # -- staging ------------------------------------------------------------------
    def add_messages(self, raw: RawMessages) -> None:
        """Check and stage a batch of Segment messages; apply its identify/group now."""
        checked = check_messages(raw)
        self.read += raw.table.num_rows
        self.by_type.update(checked.by_type)
        self.problems.extend(checked.problems)
        self.rejected += checked.rejected
        if checked.events.num_rows:
            self._run(_APPEND, checked.events)
        if checked.people:
            messages = [(raw.table.column("_seq")[i].as_py(), raw.table.column("_line")[i].as_py(),
                         raw.message(i)) for i in checked.people]  # fmt: skip
            self._apply_people(messages)

    def _apply_people(self, messages: list[tuple[int, int, Any]]) -> None:
        groups: list[list[Update]] = []
        for seq, line, message in messages:
            updates, problems = people_updates(message, seq, line)
            if problems:
                self.problems.extend(problems)
                self.rejected += 1
                self.by_type[message.get("type", "track")] -= 1
                continue
            groups.append(updates)
        result = merge_updates(self.wh, groups, self.stamp)
        self.people_loaded += sum(result.changed)
        self.people_duplicate += len(result.changed) - sum(result.changed)

    def add_flat(self, batch: FlatBatch, rows_read: int) -> None:
        """Stage a checked flat (CSV/Parquet) batch."""
        self.read += rows_read
        self.by_type.update(batch.by_type)
        self.problems.extend(batch.problems)
        self.rejected += batch.rejected
        if batch.table.num_rows:
            with self.wh.arrow_view(batch.table) as view:
                self.wh.execute_statement(stage_statement(batch, self.stage, view))

    # -- writing ------------------------------------------------------------------
    def finish(self, *, write: bool = True) -> EventOutcome:
        """Check reserved events, then (if ``write``) write everything staged."""
        names = pa.table(
            {"name": [self.reserved.experiment_viewed, self.reserved.survey_responded]}
        )
        rows = self._run(_RESERVED_ROWS, names)
        found = check_reserved(rows.to_pylist(), self.reserved)
        self.problems.extend(found.problems)
        self.rejected += len(found.rejected_seqs)
        if found.rejected_seqs:
            self._run(_DROP_REJECTED, pa.table({"_seq": pa.array(found.rejected_seqs, pa.int64())}))
        problems = tuple(sorted(self.problems, key=lambda p: p.seq))
        staged = self._run(_RANGE).to_pylist()[0]
        loaded = 0
        if write and staged["n"]:
            self._run(_LATER)
            now = pa.table({"received_at": pa.array([self.stamp], pa.timestamp("us"))})
            loaded = self._run_count(_INSERT_EVENTS, now, "_now")
            if found.exposures:
                self._run(_INSERT_EXPOSURES, pa.Table.from_pylist(found.exposures))
            if found.surveys:
                schema = pa.schema([("_seq", pa.int64()), ("survey", pa.string()),
                                    ("score", pa.float64()), ("comment", pa.string())])  # fmt: skip
                self._run(_INSERT_SURVEYS, pa.Table.from_pylist(found.surveys, schema=schema))
            if loaded:
                refresh_after_import(self.wh, staged["lo"], staged["hi"])
        self.drop()
        events_dup = staged["n"] - loaded
        return EventOutcome(
            read=self.read,
            loaded=loaded + self.people_loaded,
            duplicate=events_dup + self.people_duplicate,
            rejected=self.rejected,
            problems=problems,
            by_type=+self.by_type,
        )

    def _run_count(self, template: sge.Expression, table: pa.Table, name: str) -> int:
        with self.wh.arrow_view(table) as view:
            result = self.wh.query_arrow(
                sge.replace_tables(
                    template, {"_stage": self.stage, "_later": self.later, name: view}
                )
            )
        return int(result.column(0)[0].as_py()) if result.num_rows else 0

    def drop(self) -> None:
        """Drop the staging tables (a rollback drops them too)."""
        for name in (self.stage, self.later):
            self.wh.execute_statement(sge.Drop(this=sge.to_table(name), kind="TABLE", exists=True))
