"""Events: dedupe, time zones, account resolution and back-fill, identify/group, reserved events."""

from __future__ import annotations

from datetime import datetime

import orjson
from ingest_helpers import rows, write_events

from impactlens.config import ReservedEvents
from impactlens.ingest import import_path

TS = "2026-03-02T10:00:00Z"


def track(mid: str | None, user: str = "u1", **extra) -> dict:
    message = {"type": "track", "event": "Report Created", "userId": user, "timestamp": TS, **extra}
    if mid is not None:
        message["messageId"] = mid
    return message


def test_offsets_are_converted_to_utc_and_naive_times_are_utc(warehouse, tmp_path) -> None:
    stamps = {"a": "2026-03-02T11:00:00+01:00", "b": "2026-03-02T04:30:00-05:30",
              "c": "2026-03-02T10:00:00", "d": "2026-03-02T10:00:00.123456789Z",
              "e": "2026-03-02 10:00:00Z", "f": "2026-03-02"}  # fmt: skip
    messages = [track(k, timestamp=v) for k, v in stamps.items()]
    assert import_path(warehouse, write_events(tmp_path, messages, "ndjson")).ok
    got = {r["message_id"]: r["timestamp"] for r in rows(warehouse, "events", "message_id")}
    assert got == {"a": datetime(2026, 3, 2, 10), "b": datetime(2026, 3, 2, 10),
                   "c": datetime(2026, 3, 2, 10), "d": datetime(2026, 3, 2, 10, 0, 0, 123456),
                   "e": datetime(2026, 3, 2, 10), "f": datetime(2026, 3, 2)}  # fmt: skip


def test_mixed_zoned_and_naive_in_one_batch_and_bad_ones_rejected(warehouse, tmp_path) -> None:
    messages = [track("z", timestamp="2026-03-02T11:00:00+01:00"), track("n", timestamp="2026-03-02T10:00:00"),
                track("bad", timestamp="2026-02-30T10:00:00Z"), track("worse", timestamp=1700000000)]  # fmt: skip
    f = import_path(warehouse, write_events(tmp_path, messages, "ndjson")).files[0]
    assert {r["message_id"]: r["timestamp"] for r in rows(warehouse, "events", "message_id")} == {
        "n": datetime(2026, 3, 2, 10), "z": datetime(2026, 3, 2, 10)}  # fmt: skip
    assert [(p.line, p.field) for p in f.rejections] == [(3, "timestamp"), (4, "timestamp")]
    assert "unparseable timestamp '2026-02-30T10:00:00Z'" in f.rejections[0].reason
    assert f.rejections[1].reason == "timestamp must be an ISO-8601 string"


def test_without_message_id_a_stable_hash_dedupes(warehouse, tmp_path) -> None:
    same = track(None, properties={"b": 1, "a": 2})
    reordered = {k: same[k] for k in reversed(list(same))} | {"properties": {"a": 2, "b": 1}}
    other = track(None, user="u2")
    path = write_events(tmp_path, [same, reordered, other], "ndjson")
    f = import_path(warehouse, path).files[0]
    assert (f.rows_loaded, f.rows_duplicate) == (2, 1)
    ids = [r["message_id"] for r in rows(warehouse, "events", "message_id")]
    assert all(i.startswith("hash-") for i in ids) and len(set(ids)) == 2
    # the same message in a later file (any key order) is the same event
    again = import_path(warehouse, write_events(tmp_path / "later", [reordered], "json")).files[0]
    assert (again.rows_loaded, again.rows_duplicate) == (0, 1)


def test_flat_rows_without_message_id_are_hashed_too(warehouse, tmp_path) -> None:
    path = write_events(tmp_path, [track(None), track(None), track(None, user="u2")], "csv")
    f = import_path(warehouse, path).files[0]
    assert (f.rows_loaded, f.rows_duplicate) == (2, 1)
    assert import_path(warehouse, path).files[0].rows_loaded == 0


def test_first_copy_wins_within_a_file_and_across_imports(warehouse, tmp_path) -> None:
    first = track("m1", properties={"copy": 1})
    second = track("m1", properties={"copy": 2})
    import_path(warehouse, write_events(tmp_path, [first, second], "ndjson"))
    import_path(
        warehouse, write_events(tmp_path / "b", [track("m1", properties={"copy": 3})], "csv")
    )
    (row,) = rows(warehouse, "events", "message_id")
    assert orjson.loads(row["properties"]) == {"copy": 1}


def test_account_from_context_else_from_the_user(warehouse, tmp_path) -> None:
    (tmp_path / "users.csv").write_text("user_id,account_id\nu1,acme\n")
    import_path(warehouse, tmp_path / "users.csv")
    messages = [
        track("own", context={"groupId": "globex"}),
        track("inherited"),
        track("nobody", user="u9"),
    ]
    import_path(warehouse, write_events(tmp_path, messages, "ndjson"))
    got = {r["message_id"]: r["account_id"] for r in rows(warehouse, "events", "message_id")}
    assert got == {"own": "globex", "inherited": "acme", "nobody": None}


def test_a_later_account_is_back_filled(warehouse, tmp_path) -> None:
    exposure = track("x", event="Experiment Viewed",
                     properties={"experiment_id": "e", "variation_id": "b"})  # fmt: skip
    import_path(warehouse, write_events(tmp_path, [track("early"), exposure], "ndjson"))
    assert rows(warehouse, "events", "message_id")[0]["account_id"] is None
    (tmp_path / "users.csv").write_text("user_id,account_id\nu1,acme\n")
    import_path(warehouse, tmp_path / "users.csv")
    assert {r["account_id"] for r in rows(warehouse, "events", "message_id")} == {"acme"}
    assert rows(warehouse, "exposures", "message_id")[0]["account_id"] == "acme"
    # a group message does the same for another user
    group = {
        "type": "group",
        "userId": "u2",
        "groupId": "globex",
        "timestamp": TS,
        "messageId": "g",
    }
    import_path(
        warehouse, write_events(tmp_path / "b", [track("late", user="u2"), group], "ndjson")
    )
    assert {r["message_id"]: r["account_id"] for r in rows(warehouse, "events", "message_id")}[
        "late"
    ] == "globex"


def test_identify_merges_traits_and_group_fills_accounts(warehouse, tmp_path) -> None:
    messages = [
        {"type": "identify", "userId": "u1", "timestamp": TS, "messageId": "i1",
         "traits": {"createdAt": "2026-01-01T00:00:00+02:00", "plan": "pro", "seats": 3}},
        {"type": "identify", "userId": "u1", "timestamp": TS, "messageId": "i2",
         "traits": {"plan": "enterprise", "seats": None, "accountId": "acme"}},
        {"type": "group", "userId": "u2", "groupId": "acme", "timestamp": TS, "messageId": "g1",
         "traits": {"name": "Acme", "plan": "pro", "mrr": 1200, "createdAt": "2025-01-01"}},
        {"type": "page", "userId": "u1", "name": "Pricing", "timestamp": TS, "messageId": "p1"},
        {"type": "screen", "anonymousId": "a1", "timestamp": TS, "messageId": "s1"},
    ]  # fmt: skip
    f = import_path(warehouse, write_events(tmp_path, messages, "ndjson")).files[0]
    assert dict(f.messages) == {"identify": 2, "group": 1, "page": 1, "screen": 1}
    users = {r["user_id"]: r for r in rows(warehouse, "users", "user_id")}
    assert users["u1"]["created_at"] == datetime(2025, 12, 31, 22)
    assert users["u1"]["account_id"] == "acme"
    assert orjson.loads(users["u1"]["attributes"]) == {"plan": "enterprise"}  # null unsets seats
    assert users["u2"]["account_id"] == "acme"
    (acme,) = rows(warehouse, "accounts", "account_id")
    assert (acme["name"], acme["plan"], acme["created_at"]) == ("Acme", "pro", datetime(2025, 1, 1))
    assert orjson.loads(acme["attributes"]) == {"mrr": 1200}
    events = {
        r["message_id"]: (r["type"], r["event"]) for r in rows(warehouse, "events", "message_id")
    }
    assert events == {"p1": ("page", "Pricing"), "s1": ("screen", "Screen Viewed")}
    # the same file again changes nothing, updated_at included
    before = {t: rows(warehouse, t, t[:-1] + "_id") for t in ("users", "accounts")}
    again = import_path(warehouse, write_events(tmp_path, messages, "ndjson")).files[0]
    assert again.rows_loaded == 0 and again.rows_duplicate == 5
    assert {t: rows(warehouse, t, t[:-1] + "_id") for t in ("users", "accounts")} == before


def test_identify_and_group_problems(warehouse, tmp_path) -> None:
    messages = [
        {"type": "identify", "anonymousId": "a", "timestamp": TS},
        {"type": "group", "userId": "u", "timestamp": TS},
        {"type": "identify", "userId": "u", "timestamp": TS, "traits": {"createdAt": "soon"}},
        {"type": "group", "userId": "u", "groupId": "g", "timestamp": TS, "traits": "x"},
    ]  # fmt: skip
    f = import_path(warehouse, write_events(tmp_path, messages, "ndjson")).files[0]
    assert [(p.line, p.field) for p in f.rejections] == [
        (1, "userId"), (2, "groupId"), (3, "traits.createdAt"), (4, "traits")]  # fmt: skip
    assert f.rows_rejected == 4 and warehouse.count("users") == 0


def test_experiment_viewed_and_survey_responded(warehouse, tmp_path) -> None:
    messages = [
        track("x1", event="Experiment Viewed", properties={"experiment_id": "e1", "variation_id": 1}),
        track("x2", event="Experiment Viewed", properties={"experiment_id": "e1"}),
        track("s1", event="Survey Responded", properties={"survey": "csat", "score": 4, "comment": "ok"}),
        track("s2", event="Survey Responded", properties={"survey": "ces", "score": 9}),
        track("s3", event="Survey Responded", properties={"survey": "nps", "score": 7.5}),
        track("x1", event="Experiment Viewed", properties={"experiment_id": "e1", "variation_id": 0}),
    ]  # fmt: skip
    f = import_path(warehouse, write_events(tmp_path, messages, "ndjson")).files[0]
    assert [(p.line, p.field) for p in f.rejections] == [
        (2, "properties.variation_id"), (4, "properties.score"), (5, "properties.score")]  # fmt: skip
    assert "out of range 1-7 for ces" in f.rejections[1].reason
    assert [r["message_id"] for r in rows(warehouse, "events", "message_id")] == ["s1", "x1"]
    (exposure,) = rows(warehouse, "exposures", "message_id")
    assert (exposure["experiment_id"], exposure["variation_id"], exposure["actor_id"]) == (
        "e1",
        "1",
        "u1",
    )
    (survey,) = rows(warehouse, "surveys", "response_id")
    assert (survey["response_id"], survey["survey"], survey["score"], survey["source"]) == (
        "s1",
        "csat",
        4.0,
        "event",
    )


def test_reserved_event_names_are_configurable(warehouse, tmp_path) -> None:
    reserved = ReservedEvents(experiment_viewed="$experiment_started")
    message = track(
        "x", event="$experiment_started", properties={"experiment_id": "e", "variation_id": "v"}
    )
    import_path(warehouse, write_events(tmp_path, [message], "csv"), reserved=reserved)
    assert warehouse.count("exposures") == 1


def test_fail_mode_for_events_loads_nothing(warehouse, tmp_path) -> None:
    path = write_events(tmp_path, [track("a"), {"type": "track", "userId": "u"}], "ndjson")
    report = import_path(warehouse, path, on_error="fail")
    assert not report.ok and report.files[0].status == "failed" and warehouse.count("events") == 0
    assert import_path(warehouse, path).files[0].rows_loaded == 1  # skip is the default for events


def test_every_problem_of_a_message_is_reported(warehouse, tmp_path) -> None:
    message = {
        "type": "track",
        "timestamp": "later",
        "properties": [1],
        "context": {"groupId": {"x": 1}},
    }
    f = import_path(warehouse, write_events(tmp_path, [message], "ndjson")).files[0]
    assert {p.field for p in f.rejections} == {
        "userId",
        "timestamp",
        "event",
        "properties",
        "context.groupId",
    }
    assert f.rows_rejected == 1
