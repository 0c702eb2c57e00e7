"""Read the ledger's nouns (releases, experiments, decisions) from the warehouse."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pyarrow as pa

from impactlens.domain import Audience, Decision, Experiment, Hypothesis, Release
from impactlens.errors import NotFoundError, UserError
from impactlens.warehouse import Warehouse


def _json_list(text: str | None) -> tuple:
    if not text:
        return ()
    value = json.loads(text)
    return tuple(value) if isinstance(value, list) else (value,)


def _release(row: dict) -> Release:
    hypothesis = None
    if row.get("hypothesis_metric"):
        hypothesis = Hypothesis(
            metric=row["hypothesis_metric"],
            expected=row.get("hypothesis_expected") or "increase",
            min_effect=row.get("hypothesis_min_effect"),
            guardrails=_json_list(row.get("hypothesis_guardrails")),
        )
    audience = Audience(
        flag=row.get("audience_flag"),
        accounts=_json_list(row.get("audience_accounts")),
        filter=row.get("audience_filter"),
    )
    return Release(
        release_id=row["release_id"],
        title=row.get("title") or row["release_id"],
        kind=row.get("kind") or "release",
        shipped_at=row["shipped_at"],
        team=row.get("team"),
        effort_days=row.get("effort_days"),
        links=_json_list(row.get("links")),
        hypothesis=hypothesis,
        audience=audience,
    )


def list_releases(
    warehouse: Warehouse,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    team: str | None = None,
) -> list[Release]:
    """Releases shipped in [start, end), optionally of one team, oldest first."""
    t = warehouse.table("releases")
    if start is not None:
        t = t.filter(t.shipped_at >= start)
    if end is not None:
        t = t.filter(t.shipped_at < end)
    if team is not None:
        t = t.filter(t.team == team)
    rows = t.order_by(["shipped_at", "release_id"]).to_pyarrow().to_pylist()
    return [_release(r) for r in rows]


def get_release(warehouse: Warehouse, release_id: str) -> Release:
    t = warehouse.table("releases")
    rows = t.filter(t.release_id == release_id).to_pyarrow().to_pylist()
    if not rows:
        known = t.select("release_id").to_pyarrow().column(0).to_pylist()
        raise NotFoundError(f"no release {release_id!r}; known: {', '.join(sorted(known)[:20])}")
    return _release(rows[0])


def _experiment(row: dict) -> Experiment:
    unit = row.get("unit") or "user"
    return Experiment(
        experiment_id=row["experiment_id"],
        name=row.get("name") or row["experiment_id"],
        variations=tuple(str(v) for v in _json_list(row.get("variations"))),
        primary_metric=row.get("primary_metric"),
        started_at=row["started_at"],
        ended_at=row.get("ended_at"),
        hypothesis=row.get("hypothesis"),
        secondary_metrics=_json_list(row.get("secondary_metrics")),
        guardrails=_json_list(row.get("guardrails")),
        weights=tuple(float(w) for w in _json_list(row.get("weights"))),
        unit="account" if unit == "account" else "user",
    )


def list_experiments(warehouse: Warehouse) -> list[Experiment]:
    rows = warehouse.table("experiments").order_by("started_at").to_pyarrow().to_pylist()
    return [_experiment(r) for r in rows]


def get_experiment(warehouse: Warehouse, experiment_id: str) -> Experiment:
    t = warehouse.table("experiments")
    rows = t.filter(t.experiment_id == experiment_id).to_pyarrow().to_pylist()
    if not rows:
        known = t.select("experiment_id").to_pyarrow().column(0).to_pylist()
        raise NotFoundError(f"no experiment {experiment_id!r}; known: {', '.join(sorted(known))}")
    return _experiment(rows[0])


def record_decision(
    warehouse: Warehouse,
    *,
    subject_kind: str,
    subject_id: str,
    decision: str,
    why: str,
    next_step: str,
    decided_by: str,
    decided_at: datetime | None = None,
) -> Decision:
    """Write a decision to the ledger. ``why`` and ``next_step`` are required, not decoration."""
    if decision not in ("ship", "iterate", "abandon"):
        raise UserError(f"decision must be ship, iterate or abandon, not {decision!r}")
    if not why.strip() or not next_step.strip():
        raise UserError("a decision needs a why and a next step (--why, --next-step)")
    when = decided_at or datetime.now(UTC).replace(tzinfo=None)
    row = {
        "decision_id": [uuid.uuid4().hex],
        "subject_kind": [subject_kind],
        "subject_id": [subject_id],
        "decision": [decision],
        "why": [why.strip()],
        "next_step": [next_step.strip()],
        "decided_by": [decided_by],
        "decided_at": [when],
    }
    with warehouse.transaction():
        warehouse.write("decisions", pa.table(row))
    return Decision(subject_id, decision, why.strip(), next_step.strip(), decided_by, when)  # type: ignore[arg-type]


def latest_decisions(warehouse: Warehouse, subject_kind: str) -> dict[str, Decision]:
    """The most recent decision per subject (experiment or release)."""
    t = warehouse.table("decisions")
    rows = t.filter(t.subject_kind == subject_kind).order_by("decided_at").to_pyarrow().to_pylist()
    out: dict[str, Decision] = {}
    for r in rows:
        out[r["subject_id"]] = Decision(
            r["subject_id"],
            r["decision"],
            r["why"],
            r["next_step"],
            r["decided_by"],
            r["decided_at"],
        )
    return out
