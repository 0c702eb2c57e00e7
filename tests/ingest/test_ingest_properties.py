"""Property-based: valid messages round-trip, garbage is rejected with a reason, never a crash,
and the two extraction paths (DuckDB on lines, Python on dicts) agree on every message."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.ingest import import_messages, import_path
from impactlens.ingest.message_checks import check_messages
from impactlens.ingest.ndjson import extract_lines
from impactlens.ingest.segment import extract_dicts
from impactlens.ingest.sources import LineChunk
from impactlens.warehouse import Warehouse

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
_counter = itertools.count()
_warehouse: list[Warehouse] = []


def shared_warehouse() -> Warehouse:
    """One warehouse for all examples (a fresh one per example would dominate the run time)."""
    if not _warehouse:
        wh = Warehouse.connect("duckdb://:memory:")
        wh.ensure_schema()
        _warehouse.append(wh)
    return _warehouse[0]


ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10) | \
    st.floats(allow_nan=False, allow_infinity=False, width=32)  # fmt: skip
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)  # fmt: skip
zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.none() | zones)


@st.composite
def valid_messages(draw) -> dict:
    kind = draw(st.sampled_from(["track", "page", "screen"]))
    message = {
        "type": kind,
        "messageId": f"p-{next(_counter)}",
        "timestamp": draw(moments).isoformat(),
    }
    who = draw(st.sampled_from(["userId", "anonymousId", "both"]))
    if who in ("userId", "both"):
        message["userId"] = draw(ids)
    if who in ("anonymousId", "both"):
        message["anonymousId"] = draw(ids)
    if kind == "track":
        message["event"] = draw(
            ids.filter(lambda e: e not in ("Experiment Viewed", "Survey Responded"))
        )
    elif draw(st.booleans()):
        message["name"] = draw(ids)
    if draw(st.booleans()):
        message["properties"] = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
    if draw(st.booleans()):
        message["context"] = {"groupId": draw(ids)}
    return message


def expected_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def stored(wh: Warehouse, message_ids: list[str]) -> dict[str, dict]:
    table = wh.table("events")
    got = table.filter(table.message_id.isin(message_ids)).to_pyarrow().to_pylist()
    return {r["message_id"]: r for r in got}


def assert_round_trip(messages: list[dict], rows: dict[str, dict]) -> None:
    for m in messages:
        row = rows[m["messageId"]]
        assert row["timestamp"] == expected_utc(m["timestamp"])
        assert row["type"] == m["type"]
        default = {"page": "Page Viewed", "screen": "Screen Viewed"}.get(m["type"])
        assert row["event"] == m.get("event", m.get("name", default))
        assert row["actor_id"] == m.get("userId", m.get("anonymousId"))
        assert row["account_id"] == (m.get("context") or {}).get("groupId")
        props = m.get("properties")
        assert (orjson.loads(row["properties"]) if row["properties"] else None) == (
            props or None
        ) or (props == {} and row["properties"] == "{}")


@SETTINGS
@given(st.lists(valid_messages(), min_size=1, max_size=8))
def test_valid_messages_round_trip_through_the_api(messages) -> None:
    wh = shared_warehouse()
    result = import_messages(wh, messages)
    assert result.rejected == () and result.loaded == len(messages)
    assert_round_trip(messages, stored(wh, [m["messageId"] for m in messages]))


@SETTINGS
@given(messages=st.lists(valid_messages(), min_size=1, max_size=8))
def test_valid_messages_round_trip_through_an_ndjson_file(tmp_path_factory, messages) -> None:
    wh = shared_warehouse()
    path = tmp_path_factory.mktemp("p") / "events.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(m) for m in messages))
    f = import_path(wh, path).files[0]
    assert (f.rows_loaded, f.rows_rejected) == (len(messages), 0), [str(p) for p in f.rejections]
    assert_round_trip(messages, stored(wh, [m["messageId"] for m in messages]))


garbage_lines = st.one_of(
    st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b.strip()),
    json_values.map(orjson.dumps),
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "event",
                "userId",
                "anonymousId",
                "timestamp",
                "messageId",
                "properties",
                "context",
                "traits",
                "groupId",
            ]
        ),
        json_values,
        max_size=6,
    ).map(orjson.dumps),  # fmt: skip
)


@SETTINGS
@given(lines=st.lists(garbage_lines, min_size=1, max_size=10))
def test_garbage_is_rejected_with_a_reason_never_a_crash(tmp_path_factory, lines) -> None:
    wh = shared_warehouse()
    path = tmp_path_factory.mktemp("g") / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    f = import_path(wh, path).files[0]
    assert f.status == "loaded"
    assert f.rows_read == len(lines)
    assert f.rows_loaded + f.rows_duplicate + f.rows_rejected == f.rows_read
    assert all(p.reason and 1 <= p.line <= len(lines) for p in f.rejections)
    assert len({p.line for p in f.rejections}) == f.rows_rejected


@SETTINGS
@given(st.lists(st.one_of(valid_messages(), json_values,
                          st.dictionaries(st.sampled_from(["type", "event", "userId", "timestamp",
                                                           "properties", "context", "groupId"]),
                                          json_values, max_size=5)), min_size=1, max_size=10))  # fmt: skip
def test_duckdb_and_python_extraction_agree(messages) -> None:
    lines = [orjson.dumps(m) for m in messages]
    chunk = LineChunk(
        pa.array(lines, pa.large_binary()), pa.array(range(1, len(lines) + 1), pa.int64())
    )
    from_lines = check_messages(extract_lines(chunk, 0))
    from_dicts = check_messages(extract_dicts(messages, 0, range(1, len(lines) + 1)))
    assert from_lines.problems == from_dicts.problems
    assert from_lines.people == from_dicts.people
    assert from_lines.events.drop(["properties"]).equals(from_dicts.events.drop(["properties"]))
    for a, b in zip(from_lines.events.column("properties").to_pylist(),
                    from_dicts.events.column("properties").to_pylist(), strict=True):  # fmt: skip
        assert (a is None) == (b is None) and (a is None or orjson.loads(a) == orjson.loads(b))


odd_timestamps = st.sampled_from(
    ["2026-03-02", "2026-03-02T10", "2026-03-02 10:00:00", "2026-03-02t10:00:00z",
     "2026-03-02T23:59:60Z", "2026-03-02T10:00:00+0100", "2026-03-02T10:00:00,5Z",
     " 2026-03-02T10:00:00Z", "2026-02-30T10:00:00Z", "0001-01-01T00:00:00+01:00",
     "9999-12-31T23:59:59-01:00", "2262-04-12T00:00:00Z", "2026-03-02T10:00:00.1234567891Z",
     "yesterday", ""]
)  # fmt: skip
message_keys = st.sampled_from(["type", "event", "userId", "anonymousId", "timestamp",
                                "messageId", "properties", "context", "traits", "groupId", "name"])  # fmt: skip
kinds = st.sampled_from(["track", "identify", "group", "page", "screen", "launch", ""])
reserved_events = st.sampled_from(["Experiment Viewed", "Survey Responded"])
traits = st.dictionaries(
    st.sampled_from(["createdAt", "churnedAt", "name", "plan", "accountId", "survey", "score",
                     "comment", "experiment_id", "variation_id"]),
    json_values | odd_timestamps | st.sampled_from(["nps", "csat", "ces", "x", 5, 11, "7", 2.5]),
    max_size=4,
)  # fmt: skip
tweaks = st.dictionaries(
    message_keys,
    json_values | odd_timestamps | kinds | reserved_events
    | st.dictionaries(st.sampled_from(["groupId", "survey", "score", "experiment_id",
                                       "createdAt", "name", "plan"]),
                      json_values | odd_timestamps, max_size=3),
    max_size=4,
)  # fmt: skip


@st.composite
def near_valid_messages(draw) -> dict:
    """A valid message with a few fields replaced: most rules fire on some example."""
    message = draw(valid_messages())
    flavour = draw(st.sampled_from(["event", "people", "reserved"]))
    if flavour == "people":
        message["type"] = draw(st.sampled_from(["identify", "group"]))
        message["userId"] = draw(ids)
        message["groupId"] = draw(ids)
        message["traits"] = draw(traits)
    elif flavour == "reserved":
        message["event"] = message["name"] = draw(reserved_events)
        message["properties"] = draw(traits)
    return {**message, **draw(tweaks)}


@SETTINGS
@given(st.lists(st.one_of(near_valid_messages(), json_values), min_size=1, max_size=10))
def test_per_message_checks_agree_with_the_batch_import(messages) -> None:
    """validate_messages (plain Python, per message) = import_messages' problems (Arrow, batch)."""
    from impactlens.ingest import validate_messages

    expected = import_messages(shared_warehouse(), messages).rejected
    assert validate_messages(messages) == list(expected)


def test_a_survey_kind_that_is_a_list_or_an_object_is_rejected_not_a_crash() -> None:
    """Found by the property test above: ``properties.survey = []`` was a TypeError."""
    from impactlens.ingest import validate_messages

    messages = [
        {"type": "track", "event": "Survey Responded", "userId": "u1", "messageId": f"s{i}",
         "timestamp": "2026-01-05T10:00:00Z", "properties": {"survey": kind, "score": 9}}
        for i, kind in enumerate(([], {"nps": 1}, "nps"))
    ]  # fmt: skip
    report = import_messages(shared_warehouse(), messages)
    rejected = list(report.rejected)
    assert [(p.index, p.field) for p in rejected] == [
        (0, "properties.survey"),
        (1, "properties.survey"),
    ]
    assert all("unknown survey kind" in p.reason for p in rejected)
    assert validate_messages(messages) == rejected
