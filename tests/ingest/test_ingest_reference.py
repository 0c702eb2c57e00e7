"""Reference entities: each rule of the contract, skip vs fail, upsert by key."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import pytest
from ingest_helpers import rows

from impactlens.ingest import import_path
from impactlens.ingest.entities import ENTITIES
from impactlens.ingest.rows import check_row


def problems(entity: str, entry: dict) -> list[tuple[str | None, str]]:
    return check_row(ENTITIES[entity], entry).problems


@pytest.mark.parametrize(
    ("entity", "entry", "field", "words"),
    [
        ("releases", {"id": "r", "shipped_at": "2026-03-02", "hypothesis": {"metric": "m"}},
         "hypothesis.expected", "missing hypothesis.expected"),
        ("releases", {"id": "r", "shipped_at": "2026-03-02", "hypothesis": {"metric": "m",
         "expected": "increase", "min_effect": "big"}}, "hypothesis.min_effect", "non-numeric"),
        ("releases", {"id": "r", "shipped_at": "2026-03-02", "hypothesis": {"metrc": "m"}},
         "hypothesis.metrc", "unknown field hypothesis.metrc"),
        ("releases", {"id": "r", "shipped_at": "2026-03-02", "audience": {"flag": "f", "accounts": ["a"]}},
         "audience", "one of flag, accounts or filter"),
        ("releases", {"id": "r", "shipped_at": "2026-03-02", "hypothesis": {"metric": "m",
         "expected": "up", "guardrails": {"a": 1}}}, "hypothesis.guardrails", "must be a list"),
        ("experiments", {"id": "e", "variations": ["a"], "started_at": "2026-03-01"},
         "variations", "at least 2 variations"),
        ("experiments", {"id": "e", "variations": ["a", "b"], "weights": [0.3, 0.3],
         "started_at": "2026-03-01"}, "weights", "sum to 1"),
        ("experiments", {"id": "e", "variations": ["a", "b"], "weights": [1.0],
         "started_at": "2026-03-01"}, "weights", "1 weights for 2 variations"),
        ("experiments", {"id": "e", "variations": ["a", "b"], "unit": "team",
         "started_at": "2026-03-01"}, "unit", "unknown unit"),
        ("experiments", {"id": "e", "variations": ["a", "b"], "started_at": "2026-03-05",
         "ended_at": "2026-03-01"}, "ended_at", "before started_at"),
        ("revenue", {"account_id": "a", "period_start": "2026-03-01", "mrr": -5}, "mrr", "at least 0"),
        ("revenue", {"account_id": "a", "period_start": "2026-03-01", "mrr": 5, "status": "paused"},
         "status", "unknown status"),
        ("deployments", {"deploy_id": "d", "deployed_at": "2026-03-01T00:00:00Z", "status": "ok"},
         "status", "unknown status"),
        ("tickets", {"ticket_id": "t", "created_at": "2026-03-01T00:00:00Z", "satisfaction": 9},
         "satisfaction", "at most 5"),
        ("surveys", {"response_id": "s", "responded_at": "2026-03-01T00:00:00Z", "survey": "csat",
         "score": 0}, "score", "out of range 1-5"),
        ("surveys", {"response_id": "s", "responded_at": "2026-03-01T00:00:00Z", "survey": "nps",
         "score": 7.5}, "score", "not a whole number"),
        ("backlog", {"id": "b", "reach": "lots"}, "reach", "non-numeric reach"),
        ("incidents", {"incident_id": "i"}, "started_at", "missing started_at"),
        ("users", {"account_id": "a"}, "user_id", "missing user_id"),
    ],
)  # fmt: skip
def test_rules(entity, entry, field, words) -> None:
    found = problems(entity, entry)
    assert any(f == field and words in reason for f, reason in found), found


def test_experiment_defaults_and_weights() -> None:
    row = check_row(
        ENTITIES["experiments"], {"id": "e", "variations": "a;b;c", "started_at": "2026-03-01"}
    ).row
    assert (row["unit"], orjson.loads(row["weights"]), row["variations"]) == (
        "user", [1 / 3] * 3, '["a","b","c"]')  # fmt: skip
    row = check_row(ENTITIES["experiments"], {"id": "e", "variations": ["a", "b"], "unit": "account",
                                              "weights": "[0.25, 0.75]", "started_at": date(2026, 3, 1),
                                              "secondary_metrics": ["x"]}).row  # fmt: skip
    assert (row["unit"], row["weights"], row["started_at"], row["secondary_metrics"]) == (
        "account", "[0.25,0.75]", datetime(2026, 3, 1), '["x"]')  # fmt: skip


def test_tickets_tags_are_split_into_a_json_list(warehouse, tmp_path) -> None:
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,created_at,tags,priority,source_system\nt1,2026-03-04T09:00:00Z, export ; timeout;,high,zendesk\n"
    )
    assert import_path(warehouse, tmp_path / "tickets.csv").ok
    (t,) = rows(warehouse, "tickets", "ticket_id")
    assert (t["tags"], t["attributes"]) == ('["export","timeout"]', '{"source_system":"zendesk"}')


def test_skip_loads_the_valid_rows_and_fail_loads_none(warehouse, tmp_path) -> None:
    (tmp_path / "revenue.csv").write_text(
        "account_id,period_start,mrr\nacme,2026-03-01,100\nacme,March,5\nglobex,2026-03-01,7\n"
    )
    failed = import_path(warehouse, tmp_path / "revenue.csv")  # fail is the default here
    assert failed.files[0].status == "failed" and warehouse.count("revenue") == 0
    skipped = import_path(warehouse, tmp_path / "revenue.csv", on_error="skip").files[0]
    assert (skipped.status, skipped.rows_loaded, skipped.rows_rejected) == ("loaded", 2, 1)
    assert [(p.line, p.field) for p in skipped.rejections] == [(3, "period_start")]


def test_upsert_by_key_replaces_and_counts_unchanged_rows(warehouse, tmp_path) -> None:
    path = tmp_path / "deployments.csv"
    path.write_text(
        "deploy_id,deployed_at,status\nd1,2026-03-01T10:00:00Z,success\nd2,2026-03-02T10:00:00Z,failed\n"
    )
    assert import_path(warehouse, path).rows_loaded == 2
    path.write_text(
        "deploy_id,deployed_at,status\nd1,2026-03-01T10:00:00Z,success\nd2,2026-03-02T10:00:00Z,rolled_back\n"
    )
    f = import_path(warehouse, path).files[0]
    assert (f.rows_loaded, f.rows_duplicate) == (1, 1)
    assert [r["status"] for r in rows(warehouse, "deployments", "deploy_id")] == [
        "success",
        "rolled_back",
    ]


def test_users_file_merges_into_identify_traits(warehouse, tmp_path) -> None:
    (tmp_path / "users.csv").write_text("user_id,role\nu1,admin\n")
    import_path(warehouse, tmp_path / "users.csv")
    (tmp_path / "users.json").write_bytes(
        orjson.dumps([{"user_id": "u1", "account_id": "acme", "team": "x"}])
    )
    import_path(warehouse, tmp_path / "users.json")
    (u,) = rows(warehouse, "users", "user_id")
    assert (u["account_id"], orjson.loads(u["attributes"])) == (
        "acme",
        {"role": "admin", "team": "x"},
    )


def test_csv_row_with_wrong_column_count_is_a_row_problem(warehouse, tmp_path) -> None:
    (tmp_path / "incidents.csv").write_text("incident_id,started_at\ni1,2026-03-01T00:00:00Z\ni2\n")
    f = import_path(warehouse, tmp_path / "incidents.csv", on_error="skip").files[0]
    assert (
        f.rows_loaded == 1
        and f.rejections[0].line == 3
        and "expected 2 columns" in f.rejections[0].reason
    )
