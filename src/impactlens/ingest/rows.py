"""Checking one reference row (CSV, Parquet, JSON or YAML entry) against its entity.

``check_row`` returns the warehouse row and every problem of the entry, not
just the first. Rules common to all entities come from ``entities.ENTITIES``;
the few cross-field rules (a hypothesis needs a metric and a direction, an
experiment's weights sum to 1, a survey score fits its scale) live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from impactlens.ingest.entities import EntitySpec, FieldSpec
from impactlens.ingest.reserved import check_survey
from impactlens.ingest.values import (
    TIMESTAMP_HINT,
    as_text,
    canonical_json,
    parse_date,
    parse_list,
    parse_number,
    parse_timestamp,
)


@dataclass
class CheckedRow:
    row: dict[str, Any]
    present: set[str] = field(default_factory=set)  # columns the input mentioned
    attributes: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str | None, str]] = field(default_factory=list)


def _choices(options: tuple[str, ...] | list[str]) -> str:
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _flatten(spec: EntitySpec, entry: dict[str, Any], out: CheckedRow) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    known = {name for f in spec.fields for name in f.inputs}
    for key, value in entry.items():
        key = str(key)
        if key in spec.nested and not _blank(value):
            if not isinstance(value, dict):
                out.problems.append((key, f"{key} must be a mapping"))
                continue
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
        elif key not in spec.nested:
            flat[key] = value
    for key in list(flat):
        group = key.partition(".")[0]
        if group in spec.nested and key not in known:
            allowed = sorted(n.partition(".")[2] for n in known if n.startswith(group + "."))
            out.problems.append(
                (key, f"unknown field {key} (expected {group}.{_choices(allowed)})")
            )
            del flat[key]
    return flat


def _convert(spec: FieldSpec, value: Any, out: CheckedRow) -> Any:
    name = spec.shown
    if spec.kind == "text":
        text = as_text(value)
        if text is None:
            out.problems.append((name, f"{name} must be text"))
        return text
    if spec.kind == "timestamp":
        parsed = parse_timestamp(value)
        if parsed is None:
            out.problems.append((name, f"unparseable timestamp {str(value)!r} ({TIMESTAMP_HINT})"))
        return parsed
    if spec.kind == "date":
        parsed_date = parse_date(value)
        if parsed_date is None:
            out.problems.append((name, f"unparseable date {str(value)!r} (expected YYYY-MM-DD)"))
        return parsed_date
    if spec.kind == "number":
        number = parse_number(value)
        if number is None:
            out.problems.append((name, f"non-numeric {name} {str(value)!r}"))
        elif spec.minimum is not None and number < spec.minimum:
            out.problems.append((name, f"{name} {number:g} must be at least {spec.minimum:g}"))
        elif spec.maximum is not None and number > spec.maximum:
            out.problems.append((name, f"{name} {number:g} must be at most {spec.maximum:g}"))
        return number
    if spec.kind == "enum":
        text = as_text(value)
        if text not in spec.choices:
            label = spec.label or name
            out.problems.append(
                (name, f"unknown {label} {str(value)!r} (expected {_choices(spec.choices)})")
            )
        return text
    if spec.kind == "list":
        items = parse_list(value)
        if items is None:
            out.problems.append((name, f"{name} must be a list"))
        return items
    raise AssertionError(spec.kind)


def check_row(spec: EntitySpec, entry: Any) -> CheckedRow:
    """The warehouse row for ``entry`` and all its problems ((field, reason) pairs)."""
    out = CheckedRow(row={})
    if not isinstance(entry, dict):
        out.problems.append((None, f"expected a mapping of fields, got {type(entry).__name__}"))
        return out
    flat = _flatten(spec, entry, out)
    consumed: set[str] = set()
    raw: dict[str, Any] = {}
    for f in spec.fields:
        names = [n for n in f.inputs if n in flat]
        consumed.update(names)
        if names:
            out.present.add(f.column)
        value = next((flat[n] for n in names if not _blank(flat[n])), None)
        raw[f.column] = value
        if value is None:
            if f.required:
                out.problems.append((f.shown, f"missing {f.shown}"))
            out.row[f.column] = f.default
            continue
        out.row[f.column] = _convert(f, value, out)
    for key, value in flat.items():
        if key not in consumed and not _blank(value):
            out.attributes[key] = value
    _cross_rules(spec.table, out, raw)
    for f in spec.fields:
        if f.kind == "list" and isinstance(out.row.get(f.column), list):
            out.row[f.column] = canonical_json(out.row[f.column])
    if spec.table == "surveys":
        out.row["source"] = "file"  # Survey Responded events are stored with source "event"
    if spec.attributes and not spec.merge:
        out.row["attributes"] = canonical_json(out.attributes) if out.attributes else None
    return out


def _cross_rules(table: str, out: CheckedRow, raw: dict[str, Any]) -> None:
    row, problems = out.row, out.problems
    if table == "releases":
        if any(raw.get(c) is not None for c in row if c.startswith("hypothesis_")):
            for column, name in (("hypothesis_metric", "hypothesis.metric"),
                                 ("hypothesis_expected", "hypothesis.expected")):  # fmt: skip
                if raw.get(column) is None:
                    problems.append(
                        (name, f"missing {name} (a hypothesis needs a metric and a direction)")
                    )
        chosen = [
            c
            for c in ("audience_flag", "audience_accounts", "audience_filter")
            if raw.get(c) is not None
        ]
        if len(chosen) > 1:
            problems.append(("audience", "audience takes one of flag, accounts or filter"))
    elif table == "experiments":
        _experiment_rules(out, raw)
    elif table == "surveys":
        # Missing and non-numeric values were reported by the field rules already.
        for name, reason in check_survey(
            row.get("survey"), row.get("score"), kind_field="survey", score_field="score"
        ):
            if not reason.startswith("missing "):
                problems.append((name, reason))


def _experiment_rules(out: CheckedRow, raw: dict[str, Any]) -> None:
    row, problems = out.row, out.problems
    variations = row.get("variations")
    if isinstance(variations, list):
        if len(variations) < 2:
            problems.append(
                (
                    "variations",
                    "an experiment needs at least 2 variations (the first is the control)",
                )
            )
        elif len(set(variations)) != len(variations):
            problems.append(("variations", "variations must be distinct"))
    weights_raw = raw.get("weights")
    if weights_raw is None:
        if isinstance(variations, list) and variations:
            row["weights"] = [1.0 / len(variations)] * len(variations)
    else:
        items = weights_raw if isinstance(weights_raw, list) else parse_list(weights_raw)
        numbers = [parse_number(w) for w in items] if isinstance(items, list) else None
        if not numbers or any(n is None or n < 0 for n in numbers):
            problems.append(("weights", "weights must be a list of non-negative numbers"))
        elif isinstance(variations, list) and len(numbers) != len(variations):
            problems.append(("weights", f"{len(numbers)} weights for {len(variations)} variations"))
        elif not math.isclose(sum(numbers), 1.0, abs_tol=1e-6):  # type: ignore[arg-type]
            problems.append(("weights", f"weights must sum to 1 (they sum to {sum(numbers):g})"))  # type: ignore[arg-type]
        row["weights"] = numbers
    started, ended = row.get("started_at"), row.get("ended_at")
    if started is not None and ended is not None and ended < started:
        problems.append(("ended_at", "ended_at is before started_at"))
