"""metrics.yaml validation: every problem at once, with line, field and a hint."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from impactlens.config import starter_metrics_text
from impactlens.errors import NotFoundError, UserError, ValidationError
from impactlens.metrics import load_metrics, parse_metrics
from impactlens.metrics.fields import parse_field

DEMO = Path(__file__).resolve().parents[2] / "src" / "impactlens" / "demo" / "metrics.yaml"


def problems_of(text: str) -> list:
    with pytest.raises(ValidationError) as info:
        parse_metrics(text, file="m.yaml")
    return info.value.problems


def test_every_problem_is_reported_in_one_pass_with_line_field_and_hint() -> None:
    problems = problems_of(
        """metrics:
  - name: ok
    kind: count
    higher_is_better: true
  - name: typo_kind
    kind: cuont
    higher_is_better: true
  - name: typo_field
    kind: count
    evnt: Signed Up
    higher_is_better: true
  - name: bad_ratio
    kind: ratio
    numerator: okk
    denominator: {event: Session Started}
    higher_is_better: false
  - name: bad_window
    kind: conversion
    steps: [Signed Up, Report Created]
    within: 7 days
    higher_is_better: true
"""
    )
    by_field = {(p.field, p.line): p for p in problems}
    assert len(problems) == 4
    kind = by_field[("kind", 6)]
    assert "unknown kind 'cuont'" in kind.reason and "did you mean 'count'" in kind.hint
    extra = by_field[("evnt", 10)]
    assert "unknown field 'evnt'" in extra.reason and "did you mean 'event'" in extra.hint
    ratio = by_field[("numerator", 14)]
    assert "'okk' that is not defined" in ratio.reason and "ok" in ratio.hint
    window = by_field[("within", 20)]
    assert "not a duration" in window.reason
    assert all(p.file == "m.yaml" for p in problems)


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("kind: ratio\n    numerator: a\n    denominator: a", "is a ratio metric"),
        ("kind: count\n    filters: [{field: plan, op: in, value: pro}]", "needs a list value"),
        ("kind: count\n    filters: [{field: planet.x, value: 1}]", "unknown field namespace"),
        (
            "kind: survey\n    survey: nps\n    segments: [event.flags.x]",
            "cannot apply to a survey",
        ),
        ("kind: tickets\n    stat: per_active_account", "needs actor: account"),
        ("kind: duration\n    from_event: A\n    to_event: A", "same step"),
        ("kind: survey\n    survey: csat\n    stat: nps", "nps only"),
        ("kind: revenue\n    stat: mrr\n    actor: user", "account"),
        ("kind: conversion\n    steps: [A]\n    within: 1d", "at least 2"),
        ("kind: count\n    filters: [{field: event.x, op: '>', value: true}]", "compares with"),
    ],
)
def test_each_rule_names_its_reason(snippet: str, reason: str) -> None:
    text = f"metrics:\n  - name: a\n    higher_is_better: true\n    {snippet}\n"
    problems = problems_of(text)
    assert any(reason in p.reason for p in problems), [str(p) for p in problems]


def test_duplicate_names_and_not_yaml_and_wrong_shape() -> None:
    dup = "metrics:\n  - {name: a, kind: count, higher_is_better: true}\n  - {name: a, kind: unique, higher_is_better: true}\n"
    assert "defined twice" in problems_of(dup)[0].reason
    assert problems_of("metrics: [\n")[0].line is not None
    assert "`metrics:` list" in problems_of("- a\n")[0].reason
    assert "higher_is_better" in problems_of("metrics:\n  - {name: a, kind: count}\n")[0].field


def test_unseen_event_names_are_warnings_with_the_closest_known_names(warehouse, tmp_path) -> None:
    warehouse.write(
        "events",
        pa.table(
            {
                "message_id": ["1"],
                "event": ["Report Created"],
                "actor_id": ["u"],
                "timestamp": [datetime(2026, 1, 1)],
            }
        ),
    )
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "metrics:\n  - {name: r, kind: count, event: Reports Created, higher_is_better: true}\n"
    )
    catalog = load_metrics(path, warehouse)
    (warning,) = catalog.warnings
    assert "'Reports Created' never occurs" in warning.reason
    assert warning.hint == "closest known: Report Created" and warning.line == 2
    assert load_metrics(path).warnings == ()


def test_lookups_suggest_and_groups_order() -> None:
    catalog = parse_metrics(DEMO.read_text())
    with pytest.raises(NotFoundError, match="did you mean error_rate"):
        catalog.get("eror_rate")
    groups = catalog.groups()
    assert [m.name for m in groups["north star"]] == ["weekly_reporting_accounts"]
    assert catalog.get("error_rate").higher_is_better is False
    assert catalog.get("search_click_through").part("searches").kind == "count"


def test_starter_and_demo_files_are_valid() -> None:
    assert len(parse_metrics(starter_metrics_text())) >= 3
    names = set(parse_metrics(DEMO.read_text()).names)
    required = [
        "weekly_reporting_accounts",
        "search_click_through",
        "error_rate",
        "export_failure_rate",
        "reports_per_active_user",
        "activation_7d",
        "checkout_conversion",
        "dashboards_per_user",
        "invites_per_account",
        "weekly_active_users",
        "weekly_active_accounts",
        "tickets_per_account",
        "nps",
        "csat",
        "ces",
        "mrr",
        "nrr",
        "grr",
        "logo_churn_rate",
        "arpa",
        "dau_mau",
        "wau_mau",
        "week1_retention",
        "search_adoption",
        "time_to_export",
    ]
    assert not set(required) - names


def test_missing_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="impactlens init"):
        load_metrics(tmp_path / "nope.yaml")


def test_field_shorthands() -> None:
    assert parse_field("segment").text == "account.segment"
    assert parse_field("event.flags.search_v2").path == ("flags", "search_v2")
    with pytest.raises(ValueError, match="one name"):
        parse_field("flag.a.b")
    with pytest.raises(ValueError, match="tickets have no column"):
        parse_field("ticket.nope")
