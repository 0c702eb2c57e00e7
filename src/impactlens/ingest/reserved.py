"""Events with a meaning of their own: ``Experiment Viewed`` and ``Survey Responded``.

Both stay in ``events``; each also yields a row of its own table
(``exposures``, ``surveys``). Their properties are checked here, in Python:
they are a small share of events, and a survey answer must be checked by the
same rule whether it came as an event or as a row of ``surveys.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from impactlens.config import ReservedEvents
from impactlens.ingest.message_checks import RowProblem
from impactlens.ingest.values import as_text, parse_number

SURVEY_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def check_survey(
    kind: Any, score: Any, *, kind_field: str, score_field: str
) -> list[tuple[str, str]]:
    """(field, reason) for each problem of one survey answer; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    known = isinstance(kind, str) and kind in SURVEY_RANGES  # a list or an object is no kind
    if kind is None or kind == "":
        problems.append((kind_field, f"missing {kind_field}"))
    elif not known:
        problems.append(
            (kind_field, f"unknown survey kind {str(kind)!r} (expected nps, csat or ces)")
        )
    if score is None or score == "":
        problems.append((score_field, f"missing {score_field}"))
        return problems
    number = parse_number(score)
    if number is None:
        problems.append((score_field, f"non-numeric {score_field} {str(score)!r}"))
    elif not number.is_integer():
        problems.append((score_field, f"{score_field} {number:g} is not a whole number"))
    elif known:
        low, high = SURVEY_RANGES[kind]
        if not low <= number <= high:
            problems.append(
                (score_field, f"{score_field} {number:g} out of range {low}-{high} for {kind}")
            )
    return problems


@dataclass
class ReservedRows:
    """What the reserved events of one batch add: rows for exposures/surveys, or problems."""

    exposures: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rejected_seqs: list[int] = field(default_factory=list)


def check_reserved(rows: Iterable[dict[str, Any]], reserved: ReservedEvents) -> ReservedRows:
    """Check ``rows`` (``_seq``, ``_line``, ``event``, ``properties`` as JSON text)."""
    out = ReservedRows()
    for row in rows:
        props = orjson.loads(row["properties"]) if row.get("properties") else {}
        seq, line = row["_seq"], row["_line"]
        found: list[tuple[str, str]] = []
        if row["event"] == reserved.experiment_viewed:
            experiment = as_text(props.get("experiment_id"))
            variation = as_text(props.get("variation_id"))
            for name, value in (("experiment_id", experiment), ("variation_id", variation)):
                if not value:
                    found.append(
                        (
                            f"properties.{name}",
                            f"{reserved.experiment_viewed} without properties.{name}",
                        )
                    )
            if not found:
                out.exposures.append(
                    {"_seq": seq, "experiment_id": experiment, "variation_id": variation}
                )
        if row["event"] == reserved.survey_responded:
            kind, score = props.get("survey"), props.get("score")
            found += check_survey(
                kind, score, kind_field="properties.survey", score_field="properties.score"
            )
            comment = props.get("comment")
            if comment is not None and not isinstance(comment, str):
                found.append(("properties.comment", "properties.comment must be text"))
            if not found:
                out.surveys.append(
                    {"_seq": seq, "survey": kind, "score": parse_number(score), "comment": comment}
                )
        for field_name, reason in found:
            out.problems.append(RowProblem(seq, line, field_name, reason))
        if found:
            out.rejected_seqs.append(seq)
    return out
