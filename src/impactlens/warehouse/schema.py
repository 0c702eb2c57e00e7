"""Every table of the warehouse, declared once.

The contract's entities map one-to-one onto tables. Each table declares its
columns (Ibis types), its key (what makes a row the same row again, used for
dedupe and upsert) and how a re-import treats an existing key:

- ``insert``: first write wins; a second copy of the key is dropped (events:
  the same ``messageId`` sent twice counts once).
- ``upsert``: the newest import replaces the row (reference data such as
  releases or revenue that users correct and re-export).

Storage conventions (see docs/design/architecture.md): timestamps are naive
UTC, free-form objects are JSON strings.

Schema changes are additive and versioned: bump ``SCHEMA_VERSION`` and append a
``Migration`` whose steps bring a warehouse of the previous version up to date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.schema as sch

SCHEMA_VERSION = 5

META_TABLE = "_impactlens_meta"
IMPORTS_TABLE = "_impactlens_imports"
# Derived, kept by warehouse/rollups.py: events per (UTC hour, event, actor, account),
# and per (UTC hour, actor, account) over all events.
ROLLUP_TABLE = "_impactlens_event_hourly"
ACTIVITY_TABLE = "_impactlens_actor_hourly"
# UTC hour ranges [lo, hi) whose rollup rows are stale: written in the same transaction
# as the events (or the back-fill) that made them stale, cleared by refresh_pending.
PENDING_TABLE = "_impactlens_rollup_pending"
# Derived, kept by warehouse/rollups.py (issue #3): events per (UTC hour, event), all of them
# and those with a user / an account; and, per registered (from event, to event, actor,
# within) definition, each from-event paired with the actor's next to-event within the bound.
COUNTS_TABLE = "_impactlens_event_counts"
PAIR_DEFS_TABLE = "_impactlens_pair_defs"
PAIRS_TABLE = "_impactlens_pairs"
# Event rows kept as Parquet files read in place (warehouse/parts.py): one row per part.
# Once a warehouse has a part, ``events`` is a view over ``PART_ROWS_TABLE`` (the rows
# written into DuckDB's own storage) and the parts.
PARTS_TABLE = "_impactlens_event_parts"
PART_ROWS_TABLE = "_impactlens_event_rows"
# hash(message_id) of every event in a part: a small batch finds its copies in the parts
# without reading their message_id columns (warehouse/parts.py, ``part_copies``).
PART_IDS_TABLE = "_impactlens_event_part_ids"

TS = "timestamp"
STR = "string"
F64 = "float64"
I64 = "int64"
DATE = "date"
JSON_TEXT = "string"  # a JSON document stored as text; read with Ibis JSON ops


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table: its columns, its key and its re-import rule."""

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    on_conflict: Literal["insert", "upsert"]
    time_column: str | None = None
    description: str = ""

    @property
    def schema(self) -> sch.Schema:
        return ibis.schema(self.columns)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "events",
            {
                "message_id": STR,
                "timestamp": TS,
                "type": STR,
                "event": STR,
                "user_id": STR,
                "anonymous_id": STR,
                "actor_id": STR,
                "account_id": STR,
                "properties": JSON_TEXT,
                "received_at": TS,
            },
            key=("message_id",),
            on_conflict="insert",
            time_column="timestamp",
            description="Segment track/page/screen messages (identify/group update users/accounts)",
        ),
        TableSpec(
            "users",
            {
                "user_id": STR,
                "account_id": STR,
                "created_at": TS,
                "attributes": JSON_TEXT,
                "updated_at": TS,
            },
            key=("user_id",),
            on_conflict="upsert",
            time_column="created_at",
        ),
        TableSpec(
            "accounts",
            {
                "account_id": STR,
                "name": STR,
                "plan": STR,
                "segment": STR,
                "created_at": TS,
                "churned_at": TS,
                "attributes": JSON_TEXT,
                "updated_at": TS,
            },
            key=("account_id",),
            on_conflict="upsert",
            time_column="created_at",
        ),
        TableSpec(
            "releases",
            {
                "release_id": STR,
                "title": STR,
                "kind": STR,
                "shipped_at": TS,
                "team": STR,
                "effort_days": F64,
                "links": JSON_TEXT,
                "hypothesis_metric": STR,
                "hypothesis_expected": STR,
                "hypothesis_min_effect": F64,
                "hypothesis_guardrails": JSON_TEXT,
                "audience_flag": STR,
                "audience_accounts": JSON_TEXT,
                "audience_filter": STR,
                "attributes": JSON_TEXT,
            },
            key=("release_id",),
            on_conflict="upsert",
            time_column="shipped_at",
        ),
        TableSpec(
            "experiments",
            {
                "experiment_id": STR,
                "name": STR,
                "hypothesis": STR,
                "primary_metric": STR,
                "secondary_metrics": JSON_TEXT,
                "guardrails": JSON_TEXT,
                "variations": JSON_TEXT,
                "weights": JSON_TEXT,
                "unit": STR,
                "started_at": TS,
                "ended_at": TS,
                "attributes": JSON_TEXT,
            },
            key=("experiment_id",),
            on_conflict="upsert",
            time_column="started_at",
        ),
        TableSpec(
            "exposures",
            {
                "message_id": STR,
                "experiment_id": STR,
                "variation_id": STR,
                "actor_id": STR,
                "user_id": STR,
                "account_id": STR,
                "timestamp": TS,
            },
            key=("message_id",),
            on_conflict="insert",
            time_column="timestamp",
            description="Experiment Viewed events; the first per actor and experiment counts",
        ),
        TableSpec(
            "surveys",
            {
                "response_id": STR,
                "responded_at": TS,
                "user_id": STR,
                "account_id": STR,
                "survey": STR,
                "score": F64,
                "comment": STR,
                "source": STR,
            },
            key=("response_id",),
            on_conflict="upsert",
            time_column="responded_at",
            description="surveys.csv rows and Survey Responded events in one table",
        ),
        TableSpec(
            "tickets",
            {
                "ticket_id": STR,
                "created_at": TS,
                "solved_at": TS,
                "account_id": STR,
                "user_id": STR,
                "priority": STR,
                "status": STR,
                "tags": JSON_TEXT,
                "feature": STR,
                "satisfaction": F64,
                "attributes": JSON_TEXT,
            },
            key=("ticket_id",),
            on_conflict="upsert",
            time_column="created_at",
        ),
        TableSpec(
            "revenue",
            {
                "account_id": STR,
                "period_start": DATE,
                "mrr": F64,
                "plan": STR,
                "status": STR,
            },
            key=("account_id", "period_start"),
            on_conflict="upsert",
            time_column="period_start",
        ),
        TableSpec(
            "deployments",
            {
                "deploy_id": STR,
                "service": STR,
                "deployed_at": TS,
                "commit_sha": STR,
                "committed_at": TS,
                "release_id": STR,
                "status": STR,
                "attributes": JSON_TEXT,
            },
            key=("deploy_id",),
            on_conflict="upsert",
            time_column="deployed_at",
        ),
        TableSpec(
            "incidents",
            {
                "incident_id": STR,
                "started_at": TS,
                "resolved_at": TS,
                "severity": STR,
                "deploy_id": STR,
                "release_id": STR,
                "attributes": JSON_TEXT,
            },
            key=("incident_id",),
            on_conflict="upsert",
            time_column="started_at",
        ),
        TableSpec(
            "decisions",
            {
                "decision_id": STR,
                "subject_kind": STR,
                "subject_id": STR,
                "decision": STR,
                "why": STR,
                "next_step": STR,
                "decided_by": STR,
                "decided_at": TS,
            },
            key=("decision_id",),
            on_conflict="upsert",
            time_column="decided_at",
            description="the ledger: what was decided after an experiment or release, and why",
        ),
        TableSpec(
            "backlog",
            {
                "item_id": STR,
                "title": STR,
                "team": STR,
                "effort_days": F64,
                "feature": STR,
                "reach": F64,
                "impact": F64,
                "confidence": F64,
                "attributes": JSON_TEXT,
            },
            key=("item_id",),
            on_conflict="upsert",
        ),
    )
}

ENTITIES: tuple[str, ...] = tuple(TABLES)

META_TABLES: dict[str, dict[str, str]] = {
    META_TABLE: {"key": STR, "value": STR},
    IMPORTS_TABLE: {
        "import_id": STR,
        "file": STR,
        "entity": STR,
        "sha256": STR,
        "rows_read": I64,
        "rows_loaded": I64,
        "rows_rejected": I64,
        "started_at": TS,
        "finished_at": TS,
    },
    ROLLUP_TABLE: {"hour": TS, "event": STR, "actor_id": STR, "account_id": STR, "n": I64},
    ACTIVITY_TABLE: {"hour": TS, "actor_id": STR, "account_id": STR, "n": I64},
    PENDING_TABLE: {"lo": TS, "hi": TS},
    COUNTS_TABLE: {"hour": TS, "event": STR, "n": I64, "n_user": I64, "n_account": I64},
    PAIR_DEFS_TABLE: {
        "pair_key": STR,
        "from_event": STR,
        "to_event": STR,
        "actor": STR,
        "within_s": I64,
        "ready": "boolean",
    },
    PAIRS_TABLE: {"pair_key": STR, "ts": TS, "actor": STR, "next_ts": TS},
    PARTS_TABLE: {
        "part_id": STR,
        "file": STR,
        "rows": I64,
        "min_ts": TS,
        "max_ts": TS,
        "created_at": TS,
    },
    PART_IDS_TABLE: {"h": "uint64"},
}


@dataclass(frozen=True)
class Migration:
    """Brings a warehouse from ``to_version - 1`` to ``to_version``.

    ``apply`` receives the Warehouse and must be additive (new tables, new
    nullable columns, back-fills), so older readers keep working.
    """

    to_version: int
    description: str
    apply: Callable[[object], None]


def _backfill_event_rollup(warehouse: object) -> None:
    from impactlens.warehouse.rollups import rebuild_rollups  # rollups imports this module

    rebuild_rollups(warehouse)


def _index_part_ids(warehouse: object) -> None:
    from impactlens.warehouse.connection import Warehouse  # both import this module
    from impactlens.warehouse.parts import reindex_part_ids

    assert isinstance(warehouse, Warehouse)
    reindex_part_ids(warehouse)


# Appended to as the schema grows.
MIGRATIONS: list[Migration] = [
    Migration(2, "hourly per-actor event rollups, back-filled", _backfill_event_rollup),
    Migration(3, "hourly event counts and next-event pairs, back-filled", _backfill_event_rollup),
    # The parts table is created with the other meta tables; the version bump makes an
    # older impactlens refuse a warehouse whose ``events`` may be a view it cannot write.
    Migration(4, "events may be kept as Parquet parts read in place", lambda warehouse: None),
    Migration(5, "hashes of the message ids in Parquet parts, back-filled", _index_part_ids),
]
