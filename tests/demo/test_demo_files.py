"""Every file the demo writes parses and has the data contract's shape."""

from __future__ import annotations

import re
from datetime import date, datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from impactlens.demo import DemoManifest

CONTRACT_COLUMNS = {
    "accounts": ["account_id", "name", "plan", "segment", "created_at", "churned_at"],
    "users": ["user_id", "account_id", "created_at"],
    "surveys": [
        "response_id",
        "responded_at",
        "user_id",
        "account_id",
        "survey",
        "score",
        "comment",
    ],
    "tickets": [
        "ticket_id",
        "created_at",
        "solved_at",
        "account_id",
        "user_id",
        "priority",
        "status",
        "tags",
        "feature",
        "satisfaction",
    ],
    "revenue": ["account_id", "period_start", "mrr", "plan", "status"],
    "deployments": [
        "deploy_id",
        "service",
        "deployed_at",
        "commit_sha",
        "committed_at",
        "release_id",
        "status",
    ],
    "incidents": [
        "incident_id",
        "started_at",
        "resolved_at",
        "severity",
        "deploy_id",
        "release_id",
    ],
}
EVENT_NAMES = {
    "Signed Up",
    "Session Started",
    "Search Performed",
    "Search Result Clicked",
    "Report Created",
    "Report Exported",
    "Export Failed",
    "Error Shown",
    "User Invited",
    "Dashboard Viewed",
    "Checkout Started",
    "Checkout Completed",
    "Onboarding Step Completed",
    "Experiment Viewed",
    "Survey Responded",
}
METRICS = {
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
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def _iso(text: str) -> datetime:
    assert ISO_Z.match(text), text
    return datetime.fromisoformat(text)


def test_csv_files_have_the_contract_columns(tiny: DemoManifest, rows) -> None:
    for name, columns in CONTRACT_COLUMNS.items():
        table = rows(name)
        assert table, name
        header = list(table[0])
        extra_allowed = name in ("accounts", "users")  # other columns become attributes
        assert header[: len(columns)] == columns if extra_allowed else header == columns, name
        assert len(table) == tiny.counts[name]


def test_csv_values_follow_the_contract(rows) -> None:
    accounts = rows("accounts")
    assert {r["plan"] for r in accounts} <= {"starter", "pro", "enterprise"}
    assert {r["segment"] for r in accounts} <= {"smb", "mid-market", "enterprise"}
    for r in accounts:
        _iso(r["created_at"])
        if r["churned_at"]:
            assert _iso(r["churned_at"]) > _iso(r["created_at"])
    account_ids = {r["account_id"] for r in accounts}
    users = rows("users")
    assert {r["account_id"] for r in users} <= account_ids
    assert {r["role"] for r in users} <= {"admin", "analyst", "viewer"}
    ranges = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for r in rows("surveys"):
        lo, hi = ranges[r["survey"]]
        assert lo <= int(r["score"]) <= hi
    for r in rows("tickets"):
        assert r["priority"] in {"low", "normal", "high", "urgent"}
        assert (r["status"] == "solved") == bool(r["solved_at"])
        assert r["satisfaction"] == "" or 1 <= int(r["satisfaction"]) <= 5
        assert set(r["tags"].split(";")) <= {
            "export",
            "timeout",
            "billing",
            "search",
            "reports",
            "login",
            "bulk-actions",
        }
    for r in rows("revenue"):
        assert date.fromisoformat(r["period_start"]).day == 1
        assert r["status"] in {"active", "churned", "trial"}
        assert float(r["mrr"]) >= 0
    for r in rows("deployments"):
        assert r["status"] in {"success", "failed", "rolled_back"}
        assert _iso(r["committed_at"]) < _iso(r["deployed_at"])


def test_parquet_events_are_the_flat_form(tiny: DemoManifest, flat_events: pa.Table) -> None:
    assert flat_events.column_names == [
        "message_id",
        "timestamp",
        "event",
        "user_id",
        "anonymous_id",
        "account_id",
        "properties",
    ]
    assert flat_events.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert set(pc.unique(flat_events["event"]).to_pylist()) <= EVENT_NAMES
    # Every event has an actor; anonymous visitors have no user and no account.
    user, anon = flat_events["user_id"], flat_events["anonymous_id"]
    assert pc.all(pc.or_(pc.is_valid(user), pc.is_valid(anon))).as_py()
    assert pc.all(pc.invert(pc.and_(pc.is_valid(user), pc.is_valid(anon)))).as_py()
    for text in flat_events["properties"].to_pylist()[::97]:
        assert isinstance(orjson.loads(text), dict)
    ts = flat_events["timestamp"]
    assert pc.min(ts).as_py().date() >= tiny.start and pc.max(ts).as_py().date() <= tiny.end


def test_segment_messages_follow_the_spec(segment_messages: list[dict], tiny: DemoManifest) -> None:
    types = {m["type"] for m in segment_messages}
    assert types == {"identify", "group", "track"}
    for m in segment_messages:
        _iso(m["timestamp"])
        assert m["messageId"]
        assert m.get("userId") or m.get("anonymousId")
        if m["type"] == "identify":
            assert {"createdAt", "role", "plan"} <= set(m["traits"])
        elif m["type"] == "group":
            assert m["groupId"] and {"name", "plan", "mrr"} <= set(m["traits"])
        else:
            assert m["event"] in {"Experiment Viewed", "Survey Responded"}
            assert isinstance(m["properties"], dict)
    assert sum(m["type"] == "identify" for m in segment_messages) == tiny.counts["users"]
    assert sum(m["type"] == "group" for m in segment_messages) == tiny.counts["accounts"]


def test_message_ids_are_unique_across_all_event_files(
    flat_events: pa.Table, segment_messages: list[dict]
) -> None:
    ids = flat_events["message_id"].to_pylist() + [m["messageId"] for m in segment_messages]
    assert len(ids) == len(set(ids))


def test_releases_experiments_backlog_yaml(tiny: DemoManifest) -> None:
    releases = yaml.safe_load((tiny.out_dir / "releases.yaml").read_text())
    assert len(releases) >= 12
    for r in releases:
        assert {"id", "title", "kind", "shipped_at", "team"} <= set(r)
        assert r["kind"] in {"release", "feature", "fix", "flag", "experiment"}
        assert r["team"] in {"discovery", "reporting", "growth", "platform"}
        assert isinstance(r["shipped_at"], datetime) and r["shipped_at"].tzinfo is not None
        if "hypothesis" in r:
            assert r["hypothesis"]["metric"] in METRICS
            assert r["hypothesis"]["expected"] in {"increase", "decrease"}
            assert set(r["hypothesis"].get("guardrails", [])) <= METRICS
    experiments = yaml.safe_load((tiny.out_dir / "experiments.yaml").read_text())
    for e in experiments:
        assert e["primary_metric"] in METRICS
        assert isinstance(e["started_at"], date) and e["ended_at"] > e["started_at"]
        assert len(e["variations"]) == len(e["weights"]) == 2 and e["unit"] in {"user", "account"}
    backlog = yaml.safe_load((tiny.out_dir / "backlog.yaml").read_text())
    release_ids = {r["id"] for r in releases}
    assert 8 <= len(backlog) <= 15
    assert all(item["feature"] in release_ids for item in backlog if "feature" in item)
    assert any("reach" not in item for item in backlog) and any("reach" in item for item in backlog)
