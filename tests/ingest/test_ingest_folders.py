"""Folders: files recognised by stem, an events/ folder of any names, unknown files skipped,
accounts and users imported before events."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import rows, write_events

from impactlens.ingest import import_path
from impactlens.ingest.discovery import classify, discover

TS = "2026-03-02T10:00:00Z"


def msg(mid: str, user: str = "u1") -> dict:
    return {"type": "track", "event": "E", "userId": user, "timestamp": TS, "messageId": mid}


@pytest.mark.parametrize(
    ("name", "entity", "form"),
    [
        ("events.ndjson", "events", "ndjson"),
        ("events-2026-03.jsonl.gz", "events", "ndjson.gz"),
        ("events_part1.parquet", "events", "parquet"),
        ("Accounts.CSV", "accounts", "csv"),
        ("releases.yml", "releases", "yaml"),
        ("backlog.yaml", "backlog", "yaml"),
        ("tickets.json", "tickets", "json"),
    ],
)
def test_files_are_recognised_by_stem_and_suffix(name, entity, form) -> None:
    task = classify(Path(name))
    assert (task.entity, task.label, task.problem) == (entity, form, None)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("notes.csv", "not a contract file"),
        ("eventsx.csv", "not a contract file"),
        ("users.yaml", "YAML is accepted for releases"),
        ("events.txt", "unknown file type"),
    ],
)
def test_what_is_not_importable_says_why(name, words) -> None:
    assert words in (classify(Path(name)).problem or "")


def test_a_folder_imports_in_order_and_skips_unknown_files(warehouse, tmp_path) -> None:
    write_events(tmp_path / "events", [msg("a")], "ndjson", name="monday")
    write_events(tmp_path / "events", [msg("b", "u2")], "csv", name="tuesday")
    write_events(tmp_path, [msg("c")], "ndjson", name="events-2026-03")
    (tmp_path / "users.csv").write_text("user_id,account_id\nu1,acme\nu2,globex\n")
    (tmp_path / "accounts.csv").write_text("account_id,name\nacme,Acme\nglobex,Globex\n")
    (tmp_path / "README.md").write_text("hello")
    (tmp_path / ".hidden.csv").write_text("x")
    order = [t.entity for t in discover(tmp_path)]
    assert order == ["accounts", "users", "events", "events", "events", None]
    report = import_path(warehouse, tmp_path)
    assert report.ok
    skipped = [f for f in report.files if f.status == "skipped"]
    assert [Path(f.file).name for f in skipped] == ["README.md"]
    assert "not a contract file" in skipped[0].rejections[0].reason
    # events resolved their account from users imported first in the same run
    got = {r["message_id"]: r["account_id"] for r in rows(warehouse, "events", "message_id")}
    assert got == {"a": "acme", "b": "globex", "c": "acme"}
    assert report.to_dict()["totals"]["files_skipped"] == 1


def test_a_single_unrecognised_file_fails(warehouse, tmp_path) -> None:
    (tmp_path / "stuff.csv").write_text("a\n1\n")
    report = import_path(warehouse, tmp_path / "stuff.csv")
    assert not report.ok and report.files[0].status == "failed"


def test_report_to_dict_is_json_ready(warehouse, tmp_path) -> None:
    import json

    path = write_events(tmp_path, [msg("a"), {"type": "track"}], "ndjson")
    data = import_path(warehouse, path).to_dict()
    text = json.dumps(data)
    assert data["ok"] is True and data["totals"]["rows_rejected"] == 1
    (f,) = data["files"]
    assert f["messages"] == {"track": 1} and f["sha256"] and f["rejections"][0]["line"] == 2
    assert "rejections" in text


def test_progress_is_reported_in_bytes(warehouse, tmp_path) -> None:
    path = write_events(tmp_path, [msg(str(i)) for i in range(100)], "ndjson")
    calls: list[tuple[str, int, int | None]] = []
    import_path(warehouse, path, progress=lambda d, done, total: calls.append((d, done, total)))
    size = path.stat().st_size
    assert calls and all(total == size and 0 <= done <= size for _, done, total in calls)
    assert calls[-1][1] == size and calls[0][0].startswith("events.ndjson")
