"""Every file form of the contract lands the same rows: NDJSON, JSONL, JSON array,
Segment batch object, CSV and Parquet, each plain and gzip-compressed."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from ingest_helpers import EVENT_FORMS, rows, write_events

from impactlens.ingest import import_path

MESSAGES = [
    {"type": "track", "event": "Report Created", "userId": "u1", "messageId": "m1",
     "timestamp": "2026-03-02T11:00:00+01:00", "context": {"groupId": "acme"},
     "properties": {"size": 3, "format": "pdf"}},
    {"event": "Search Performed", "anonymousId": "anon-1", "messageId": "m2",
     "timestamp": "2026-03-02T10:00:00"},
    {"type": "page", "userId": "u2", "messageId": "m3", "timestamp": "2026-03-02T10:00:00.250Z"},
]  # fmt: skip

EXPECTED = [
    ("m1", datetime(2026, 3, 2, 10, 0), "track", "Report Created", "u1", "acme", '{"size":3,"format":"pdf"}'),
    ("m2", datetime(2026, 3, 2, 10, 0), "track", "Search Performed", "anon-1", None, None),
    ("m3", datetime(2026, 3, 2, 10, 0, 0, 250000), "page", "Page Viewed", "u2", None, None),
]  # fmt: skip


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("form", EVENT_FORMS)
def test_every_event_form_lands_the_same_rows(warehouse, tmp_path, form, gz) -> None:
    path = write_events(tmp_path, MESSAGES, form, gz=gz)
    report = import_path(warehouse, path)
    (f,) = report.files
    assert (f.entity, f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == (
        "events",
        "loaded",
        3,
        3,
        0,
    )
    assert f.form == ("json" if form == "batch" else "ndjson" if form == "jsonl" else form) + (
        ".gz" if gz else ""
    )
    got = [(r["message_id"], r["timestamp"], r["type"], r["event"], r["actor_id"], r["account_id"],
            r["properties"]) for r in rows(warehouse, "events", "message_id")]  # fmt: skip
    assert got == EXPECTED


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_flat_forms_turn_extra_columns_into_properties(warehouse, tmp_path, form) -> None:
    table = pa.table({
        "message_id": ["f1", "f2"], "timestamp": ["2026-03-02T10:00:00Z"] * 2,
        "event": ["Export Finished", "Export Finished"], "user_id": ["u1", "u2"],
        "properties": ['{"rows":10}', None], "format": ["csv", None],
    })  # fmt: skip
    path = tmp_path / f"events.{form}"
    if form == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    report = import_path(warehouse, path)
    assert report.ok and report.rows_loaded == 2
    props = {r["message_id"]: r["properties"] for r in rows(warehouse, "events", "message_id")}
    assert orjson.loads(props["f1"]) == {"rows": 10, "format": "csv"}
    assert props["f2"] is None  # nothing but empty extras: no properties at all


def test_flat_properties_must_be_a_json_object(warehouse, tmp_path) -> None:
    props = {"ok": '{"a":1}', "spaced": ' \n\t{"a":1} ', "brace_bad": '{"a":', "array": "[1]",
             "text": '"x"', "number": " 1", "null": "null", "spaced_array": " [{}]"}  # fmt: skip
    table = pa.table({
        "message_id": list(props), "timestamp": ["2026-03-02T10:00:00Z"] * len(props),
        "event": ["E"] * len(props), "user_id": ["u1"] * len(props), "properties": list(props.values()),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "events.parquet")
    report = import_path(warehouse, tmp_path / "events.parquet")
    assert sorted(r["message_id"] for r in rows(warehouse, "events", "message_id")) == [
        "ok",
        "spaced",
    ]
    assert {(p.line, p.field, p.reason) for p in report.problems} == {
        (i + 1, "properties", "properties must be a JSON object")  # Parquet: 1-based row
        for i, name in enumerate(props) if name not in ("ok", "spaced")
    }  # fmt: skip


def test_parquet_timestamp_columns_are_read_as_utc(warehouse, tmp_path) -> None:
    stamps = pa.array([datetime(2026, 3, 2, 11, 0)], pa.timestamp("us", tz="Europe/Paris"))
    # Arrow stores UTC; 2026-03-02 11:00 UTC is what the column holds whatever its zone.
    table = pa.table({"message_id": ["p1"], "timestamp": stamps, "event": ["E"], "user_id": ["u"]})
    pq.write_table(table, tmp_path / "events.parquet")
    assert import_path(warehouse, tmp_path / "events.parquet").ok
    (row,) = rows(warehouse, "events", "message_id")
    assert row["timestamp"] == datetime(2026, 3, 2, 11, 0)


def test_csv_problems_name_the_physical_line_even_with_multiline_values(
    warehouse, tmp_path
) -> None:
    path = tmp_path / "events.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["message_id", "timestamp", "event", "user_id", "properties", "note"])
        w.writerow(["a", "2026-03-02T10:00:00Z", "E", "u1", "", "two\nlines"])
        w.writerow(["b", "not a time", "E", "u1", "", ""])
        w.writerow(["c", "2026-03-02T10:00:00Z", "", "u1", "", ""])
        w.writerow(["d", "2026-03-02T10:00:00Z", "E", "u1", "{broken", ""])
    f = import_path(warehouse, path).files[0]
    assert f.rows_loaded == 1
    assert [(p.line, p.field) for p in f.rejections] == [
        (4, "timestamp"),
        (5, "event"),
        (6, "properties"),
    ]


@pytest.mark.parametrize("form", ["csv", "json", "yaml", "ndjson", "parquet"])
def test_reference_forms(warehouse, tmp_path, form) -> None:
    entries = [
        {"id": "r1", "title": "One", "kind": "fix", "shipped_at": "2026-03-02T10:00:00Z",
         "hypothesis.metric": "error_rate", "hypothesis.expected": "decrease", "links": "a;b"},
        {"id": "r2", "title": "Two", "kind": "feature", "shipped_at": "2026-03-03T09:00:00+01:00",
         "audience.flag": "new_nav", "owner": "jo"},
    ]  # fmt: skip
    path = tmp_path / f"releases.{form}"
    if form == "csv":
        columns = sorted({k for e in entries for k in e})
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, columns)
            w.writeheader()
            w.writerows(entries)
    elif form == "parquet":
        columns = sorted({k for e in entries for k in e})
        pq.write_table(pa.table({c: [e.get(c) for e in entries] for c in columns}), path)
    else:
        nested = []
        for e in entries:
            n: dict = {}
            for k, v in e.items():
                group, _, sub = k.partition(".")
                if sub:
                    n.setdefault(group, {})[sub] = v
                else:
                    n[k] = v
            nested.append(n)
        if form == "yaml":
            path.write_text(yaml.safe_dump(nested))
        elif form == "json":
            path.write_bytes(orjson.dumps(nested))
        else:
            path.write_bytes(b"\n".join(orjson.dumps(n) for n in nested))
    report = import_path(warehouse, path)
    assert report.ok, [str(p) for p in report.problems]
    got = rows(warehouse, "releases", "release_id")
    assert [(r["release_id"], r["kind"], r["shipped_at"]) for r in got] == [
        ("r1", "fix", datetime(2026, 3, 2, 10)), ("r2", "feature", datetime(2026, 3, 3, 8))]  # fmt: skip
    assert got[0]["hypothesis_expected"] == "decrease" and got[0]["links"] == '["a","b"]'
    assert got[1]["audience_flag"] == "new_nav" and got[1]["attributes"] == '{"owner":"jo"}'


def test_reference_csv_gz(warehouse, tmp_path) -> None:
    text = "account_id,period_start,mrr,plan,status\nacme,2026-03-01,1200,pro,active\n"
    (tmp_path / "revenue.csv.gz").write_bytes(gzip.compress(text.encode()))
    assert import_path(warehouse, tmp_path / "revenue.csv.gz").ok
    assert rows(warehouse, "revenue", "account_id")[0]["mrr"] == 1200.0


def test_unreadable_files_fail_with_a_reason(warehouse, tmp_path) -> None:
    (tmp_path / "events.ndjson.gz").write_bytes(b"not gzip at all")
    (tmp_path / "releases.yaml").write_text("- id: a\n  title: [unclosed\n")
    (tmp_path / "accounts.json").write_text('{"not": "a list"}')
    (tmp_path / "events.parquet").write_bytes(b"PAR1 nonsense")
    report = import_path(warehouse, tmp_path)
    assert not report.ok
    failed = {f.file.rsplit("/", 1)[-1]: f.rejections[0].reason for f in report.files}
    assert "cannot read" in failed["events.ndjson.gz"]
    assert "not valid YAML" in failed["releases.yaml"]
    assert "expected a JSON array" in failed["accounts.json"]
    assert "Parquet" in failed["events.parquet"]
    assert warehouse.count("_impactlens_imports") == 0


def test_flat_events_file_missing_required_columns_fails_as_a_whole(warehouse, tmp_path) -> None:
    (tmp_path / "events.csv").write_text("message_id,event\nm1,E\n")
    (f,) = import_path(warehouse, tmp_path / "events.csv").files
    assert f.status == "failed"
    assert "missing column timestamp" in f.rejections[0].reason
    assert "user_id" in f.rejections[0].reason
