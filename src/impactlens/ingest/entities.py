"""The reference entities of the contract, declared once: fields, types, rules.

Each entity lists its fields (the warehouse column, the names accepted in a
file, a kind, whether it is required, allowed values) and whether unknown
fields go to the ``attributes`` JSON column. Nested YAML groups (a release's
``hypothesis`` and ``audience``) are closed: an unknown key there is an error,
because a typo (``expectd``) would otherwise silently drop a hypothesis. In
CSV the same fields are dotted columns (``hypothesis.metric``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    """One input field: how it is read and where it is stored."""

    column: str
    kind: str  # text | timestamp | date | number | enum | list
    names: tuple[str, ...] = ()  # accepted input names; default: the column name
    required: bool = False
    choices: tuple[str, ...] = ()
    label: str | None = None  # how a reason names an enum ("direction", "kind")
    minimum: float | None = None
    maximum: float | None = None
    default: object = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.names or (self.column,)

    @property
    def shown(self) -> str:
        return self.inputs[0]


def _f(column: str, kind: str = "text", *names: str, **options: object) -> FieldSpec:
    return FieldSpec(column, kind, names, **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EntitySpec:
    """A reference entity: its table, fields and the nested groups it accepts."""

    table: str
    fields: tuple[FieldSpec, ...]
    attributes: bool = True  # unknown fields -> attributes JSON (else ignored)
    nested: tuple[str, ...] = ()  # closed nested groups, flattened with dots
    merge: bool = False  # users/accounts: merge into the stored row (see people.py)

    @property
    def key_fields(self) -> tuple[FieldSpec, ...]:
        from impactlens.warehouse.schema import TABLES

        key = TABLES[self.table].key
        return tuple(f for f in self.fields if f.column in key)


NON_NEGATIVE = {"minimum": 0.0}

ENTITIES: dict[str, EntitySpec] = {
    e.table: e
    for e in (
        EntitySpec(
            "accounts",
            (
                _f("account_id", required=True),
                _f("name"),
                _f("plan"),
                _f("segment"),
                _f("created_at", "timestamp"),
                _f("churned_at", "timestamp"),
            ),
            merge=True,
        ),
        EntitySpec(
            "users",
            (_f("user_id", required=True), _f("account_id"), _f("created_at", "timestamp")),
            merge=True,
        ),
        EntitySpec(
            "releases",
            (
                _f("release_id", "text", "id", "release_id", required=True),
                _f("title"),
                _f(
                    "kind",
                    "enum",
                    choices=("release", "feature", "fix", "flag", "experiment"),
                    default="release",
                ),  # fmt: skip
                _f("shipped_at", "timestamp", required=True),
                _f("team"),
                _f("effort_days", "number", **NON_NEGATIVE),
                _f("links", "list"),
                _f("hypothesis_metric", "text", "hypothesis.metric"),
                _f(
                    "hypothesis_expected",
                    "enum",
                    "hypothesis.expected",
                    choices=("increase", "decrease"),
                    label="direction",
                ),  # fmt: skip
                _f("hypothesis_min_effect", "number", "hypothesis.min_effect"),
                _f("hypothesis_guardrails", "list", "hypothesis.guardrails"),
                _f("audience_flag", "text", "audience.flag"),
                _f("audience_accounts", "list", "audience.accounts"),
                _f("audience_filter", "text", "audience.filter"),
            ),
            nested=("hypothesis", "audience"),
        ),
        EntitySpec(
            "experiments",
            (
                _f("experiment_id", "text", "id", "experiment_id", required=True),
                _f("name"),
                _f("hypothesis"),
                _f("primary_metric"),
                _f("secondary_metrics", "list"),
                _f("guardrails", "list"),
                _f("variations", "list", required=True),
                _f("weights", "list"),
                _f("unit", "enum", choices=("user", "account"), default="user"),
                _f("started_at", "timestamp", required=True),
                _f("ended_at", "timestamp"),
            ),
        ),
        EntitySpec(
            "surveys",
            (
                _f("response_id", required=True),
                _f("responded_at", "timestamp", required=True),
                _f("user_id"),
                _f("account_id"),
                _f("survey", required=True),
                _f("score", "number", required=True),
                _f("comment"),
            ),
            attributes=False,
        ),
        EntitySpec(
            "tickets",
            (
                _f("ticket_id", required=True),
                _f("created_at", "timestamp", required=True),
                _f("solved_at", "timestamp"),
                _f("account_id"),
                _f("user_id"),
                _f("priority"),
                _f("status"),
                _f("tags", "list"),
                _f("feature"),
                _f("satisfaction", "number", minimum=1.0, maximum=5.0),
            ),
        ),
        EntitySpec(
            "revenue",
            (
                _f("account_id", required=True),
                _f("period_start", "date", required=True),
                _f("mrr", "number", required=True, **NON_NEGATIVE),
                _f("plan"),
                _f("status", "enum", choices=("active", "churned", "trial")),
            ),
            attributes=False,
        ),
        EntitySpec(
            "deployments",
            (
                _f("deploy_id", required=True),
                _f("service"),
                _f("deployed_at", "timestamp", required=True),
                _f("commit_sha"),
                _f("committed_at", "timestamp"),
                _f("release_id"),
                _f("status", "enum", choices=("success", "failed", "rolled_back")),
            ),
        ),
        EntitySpec(
            "incidents",
            (
                _f("incident_id", required=True),
                _f("started_at", "timestamp", required=True),
                _f("resolved_at", "timestamp"),
                _f("severity"),
                _f("deploy_id"),
                _f("release_id"),
            ),
        ),
        EntitySpec(
            "backlog",
            (
                _f("item_id", "text", "id", "item_id", required=True),
                _f("title"),
                _f("team"),
                _f("effort_days", "number", **NON_NEGATIVE),
                _f("feature"),
                _f("reach", "number", **NON_NEGATIVE),
                _f("impact", "number", **NON_NEGATIVE),
                _f("confidence", "number", **NON_NEGATIVE),
            ),
        ),
    )
}
