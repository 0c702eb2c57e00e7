"""The Segment-compatible ingest API, in process: what a client sends and what lands."""

from __future__ import annotations

import gzip
import json

import orjson
from server_helpers import basic

TS = "2026-01-05T10:00:00Z"


def track(i: int, **extra) -> dict:
    return {"type": "track", "messageId": f"m-{i}", "userId": f"u{i % 7}", "event": "Report Created",
            "timestamp": TS, "properties": {"n": i}, **extra}  # fmt: skip


def events(served) -> list[dict]:
    table = served.runtime.read(lambda wh: wh.table("events").order_by("message_id").to_pyarrow())
    return table.to_pylist()


def test_every_single_endpoint_and_the_batch_endpoints_accept_messages(served) -> None:
    headers = basic(served.write_key)
    calls = {
        "/v1/track": {"userId": "u1", "event": "Signed Up", "timestamp": TS, "messageId": "t"},
        "/v1/page": {"userId": "u1", "name": "Home", "timestamp": TS, "messageId": "p"},
        "/v1/screen": {"userId": "u1", "name": "Home", "timestamp": TS, "messageId": "s"},
        "/v1/identify": {"userId": "u1", "traits": {"plan": "pro"}, "timestamp": TS, "messageId": "i"},
        "/v1/group": {"userId": "u1", "groupId": "a1", "traits": {"name": "Acme"},
                      "timestamp": TS, "messageId": "g"},
        "/v1/batch": {"batch": [track(1)]},
        "/v1/import": {"batch": [track(2)]},
    }  # fmt: skip
    for path, body in calls.items():
        response = served.client.post(path, json=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == {"success": True, "accepted": 1, "rejected": 0, "errors": []}
    served.wait_loaded()
    ids = {e["message_id"] for e in events(served)}
    assert {"t", "p", "s", "m-1", "m-2"} <= ids
    assert "i" not in ids and "g" not in ids  # identify/group update users and accounts


def test_a_200_means_the_messages_are_in_the_spool_on_disk(served) -> None:
    response = served.client.post(
        "/v1/batch", json={"batch": [track(i) for i in range(3)]}, headers=basic(served.write_key)
    )
    assert response.status_code == 200
    spool = served.workspace.state_dir / "spool"
    on_disk = b"".join(p.read_bytes() for p in sorted(spool.glob("spool-*.ndjson")))
    spooled = {orjson.loads(line)["messageId"] for line in on_disk.splitlines()}
    assert {"m-0", "m-1", "m-2"} <= spooled  # the open segment stays until it is full


def test_the_same_messageId_twice_counts_once(served) -> None:
    batch = {"batch": [track(i) for i in range(50)]}
    for _ in range(3):
        assert served.client.post(
            "/v1/batch", json=batch, headers=basic(served.write_key)
        ).is_success
    served.wait_loaded()
    assert served.count("events") == 50


def test_per_message_errors_name_index_field_and_reason(served) -> None:
    batch = [track(0), {"type": "track", "userId": "u", "timestamp": TS}, track(2, timestamp="soon"),
             "not an object", {"type": "track", "event": "E", "timestamp": TS}]  # fmt: skip
    response = served.client.post(
        "/v1/batch", json={"batch": batch}, headers=basic(served.write_key)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == 4
    by_index = {}
    for error in body["errors"]:
        by_index.setdefault(error["index"], []).append(error)
    assert sorted(by_index) == [1, 2, 3, 4]
    assert {e["field"] for e in by_index[1]} == {"event"}
    assert {e["field"] for e in by_index[2]} == {"timestamp"}
    assert all(e["reason"] for errors in by_index.values() for e in errors)
    served.wait_loaded()
    assert [e["message_id"] for e in events(served)] == ["m-0"]


def test_the_reasons_are_the_importers_own(served) -> None:
    """One definition: the API rejects with exactly the reasons ingest's validation gives."""
    from impactlens.ingest import validate_messages

    bad = [{"type": "track", "userId": "u", "timestamp": TS}, {"event": "E", "timestamp": "x"}]
    response = served.client.post("/v1/batch", json={"batch": bad}, headers=basic(served.write_key))
    assert response.status_code == 400  # nothing acceptable: the SDK logs an error
    api = {(e["index"], e["field"], e["reason"]) for e in response.json()["errors"]}
    expected = set()
    for i, m in enumerate(bad):
        for p in validate_messages([{**m, "type": m.get("type", "track")}]):
            expected.add((i, p.field, p.reason))
    assert api == expected


def test_a_missing_timestamp_is_the_receive_time_as_in_segment(served) -> None:
    body = {"userId": "u1", "event": "Signed Up", "messageId": "no-ts"}
    assert served.client.post("/v1/track", json=body, headers=basic(served.write_key)).is_success
    served.wait_loaded()
    (row,) = events(served)
    assert row["timestamp"] is not None and row["timestamp"].year >= 2026


def test_batch_context_applies_to_every_message(served) -> None:
    body = {
        "batch": [track(1), track(2, context={"groupId": "own"})],
        "context": {"groupId": "acc9"},
    }
    assert served.client.post("/v1/batch", json=body, headers=basic(served.write_key)).is_success
    served.wait_loaded()
    assert [e["account_id"] for e in events(served)] == ["acc9", "own"]


def test_write_key_in_the_body_and_gzip_bodies_work(served) -> None:
    body = json.dumps({"batch": [track(1)], "writeKey": served.write_key}).encode()
    response = served.client.post(
        "/v1/batch",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    served.wait_loaded()
    assert served.count("events") == 1


def test_size_limits_answer_413_with_a_message(small_limits) -> None:
    headers = basic(small_limits.write_key)
    big = [track(i, properties={"pad": "x" * 1000}) for i in range(10)]  # ~11 KB > 8 KB
    response = small_limits.client.post("/v1/batch", json={"batch": big}, headers=headers)
    assert response.status_code == 413
    assert "8 KB (8192 bytes)" in response.json()["message"]
    one = track(1, properties={"pad": "x" * 3000})  # 3 KB > 2 KB per message
    response = small_limits.client.post("/v1/track", json=one, headers=headers)
    assert response.status_code == 413 and "2 KB" in response.json()["message"]
    # Inside a batch, a message over the limit is rejected alone.
    batch = [track(1), one]
    response = small_limits.client.post("/v1/batch", json={"batch": batch}, headers=headers)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["errors"][0]["index"] == 1
    assert "limit per message" in response.json()["errors"][0]["reason"]
    # A gzip bomb is measured after decompression.
    bomb = gzip.compress(json.dumps({"batch": [track(1, p="0" * 50_000)]}).encode())
    assert len(bomb) < 8192
    response = small_limits.client.post(
        "/v1/batch", content=bomb, headers={**headers, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413


def test_bad_bodies_get_400_with_a_reason(served) -> None:
    headers = {**basic(served.write_key), "Content-Type": "application/json"}
    cases = {b"{nope": "not valid JSON", b"[]": "JSON object", b'{"batch": 3}': '"batch"',
             b"": "empty"}  # fmt: skip
    for body, words in cases.items():
        response = served.client.post("/v1/batch", content=body, headers=headers)
        assert response.status_code == 400, body
        assert words in response.json()["message"]
    response = served.client.post(
        "/v1/batch", content=b"x", headers={**headers, "Content-Encoding": "br"}
    )
    assert response.status_code == 400
