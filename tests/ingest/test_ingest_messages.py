"""import_messages / validate_messages: the HTTP path, with the file importer's own reasons."""

from __future__ import annotations

from ingest_helpers import rows, write_events

from impactlens.ingest import import_messages, import_path, validate_messages

TS = "2026-03-02T10:00:00Z"

BAD = [
    {"type": "track", "userId": "u", "timestamp": TS},
    {"event": "E", "timestamp": TS},
    {"type": "track", "event": "E", "userId": "u", "timestamp": "yesterday"},
    {"type": "launch", "event": "E", "userId": "u", "timestamp": TS},
    {"type": "track", "event": "E", "userId": "u"},
    {"type": "track", "event": "E", "userId": "u", "timestamp": TS, "properties": "x"},
    {"type": "identify", "anonymousId": "a", "timestamp": TS},
    {"type": "group", "userId": "u", "timestamp": TS},
    {"type": "track", "event": "Experiment Viewed", "userId": "u", "timestamp": TS},
    {"type": "track", "event": "Survey Responded", "userId": "u", "timestamp": TS,
     "properties": {"survey": "nps", "score": 12}},
    ["not", "an", "object"],
    "a string",
]  # fmt: skip


def test_validate_messages_gives_the_file_importers_reasons(warehouse, tmp_path) -> None:
    from_api = {(p.index, p.field, p.reason) for p in validate_messages(BAD)}
    report = import_path(warehouse, write_events(tmp_path, BAD, "ndjson"))
    from_file = {(p.line - 1, p.field, p.reason) for p in report.files[0].rejections}
    assert from_api == from_file
    assert {i for i, _, _ in from_api} == set(range(len(BAD)))
    assert validate_messages([{"event": "E", "userId": "u", "timestamp": TS}]) == []


def test_import_messages_writes_the_valid_ones_and_reports_the_rest(warehouse) -> None:
    good = [
        {"type": "track", "event": "E", "userId": "u1", "timestamp": TS, "messageId": "t1"},
        {"type": "identify", "userId": "u1", "timestamp": TS, "traits": {"plan": "pro"}},
    ]
    result = import_messages(warehouse, [*good, *BAD[:3]], source="http")
    assert (result.received, result.loaded, result.duplicates) == (5, 2, 0)
    assert sorted({p.index for p in result.rejected}) == [2, 3, 4]
    assert {p.field for p in result.rejected if p.index == 2} == {"event"}
    assert dict(result.messages) == {"track": 1, "identify": 1}
    assert [r["message_id"] for r in rows(warehouse, "events", "message_id")] == ["t1"]
    assert rows(warehouse, "users", "user_id")[0]["attributes"] == '{"plan":"pro"}'
    log = rows(warehouse, "_impactlens_imports", "started_at")
    assert [(r["file"], r["entity"], r["rows_loaded"]) for r in log] == [("http", "events", 2)]
    data = result.to_dict()
    assert data["ok"] is False and data["rejected"][0]["index"] == 2


def test_a_retried_batch_is_a_duplicate(warehouse) -> None:
    batch = [{"type": "track", "event": "E", "userId": "u", "timestamp": TS, "messageId": f"m{i}"}
             for i in range(20)]  # fmt: skip
    first = import_messages(warehouse, batch)
    second = import_messages(warehouse, batch + batch)
    assert (first.loaded, first.duplicates) == (20, 0)
    assert (second.loaded, second.duplicates, second.rejected) == (0, 40, ())
    assert warehouse.count("events") == 20


def test_non_json_values_are_rejected_not_crashed(warehouse) -> None:
    from datetime import datetime

    result = import_messages(warehouse, [{"event": "E", "userId": "u", "timestamp": TS, "bad": {1, 2}},
                                         {"event": "E", "userId": "u", "timestamp": datetime(2026, 1, 1)}])  # fmt: skip
    assert [p.index for p in result.rejected] == [0, 1]
    assert "not JSON-serialisable" in result.rejected[0].reason
    assert result.rejected[1].field == "timestamp"


def test_import_lines_is_import_messages_for_ndjson_lines(warehouse) -> None:
    import orjson

    from impactlens.ingest import import_lines

    good = [{"type": "track", "event": "E", "userId": "u", "timestamp": TS, "messageId": f"l{i}"}
            for i in range(3)]  # fmt: skip
    batch = [*good, *BAD[:3], {"type": "identify", "userId": "u", "timestamp": TS}]
    lines = [orjson.dumps(m) for m in batch]
    result = import_lines(warehouse, lines, source="http")
    assert (result.received, result.loaded, result.duplicates) == (7, 4, 0)
    assert result.rejected == tuple(validate_messages(batch))
    assert dict(result.messages) == {"track": 3, "identify": 1}
    again = import_messages(warehouse, batch[:3])  # the same messageIds by the other path
    assert (again.loaded, again.duplicates) == (0, 3)
    assert warehouse.count("events") == 3
