"""The shared examples (../shared/spec/examples): every figure of their README, asserted.

The figures are computed here with plain Ibis queries on the imported tables,
so this checks what lands in the warehouse, not what the importer reports.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pytest

from impactlens.ingest import import_path
from impactlens.warehouse import TABLES, Warehouse


@pytest.fixture(scope="module")
def good(shared_examples):
    """good/ imported once for the read-only checks of this module."""
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    report = import_path(wh, shared_examples / "good")
    yield wh, report
    wh.close()


def snapshot(warehouse) -> dict[str, list[dict]]:
    """Every data table, rows sorted: two snapshots are equal iff the contents are."""
    out = {}
    for name, spec in TABLES.items():
        table = warehouse.table(name).to_pyarrow().to_pylist()
        out[name] = sorted(table, key=lambda r: tuple(str(r[c]) for c in spec.columns))
    return out


def test_good_imports_every_file_cleanly(good) -> None:
    _, report = good
    assert report.ok
    assert {f.entity for f in report.files} == {
        "accounts", "users", "events", "releases", "experiments", "surveys", "tickets",
        "revenue", "deployments", "incidents", "backlog",
    }  # fmt: skip
    assert all(f.status == "loaded" and f.rows_rejected == 0 for f in report.files)


def test_events_seven_distinct_tracks_one_identify_one_group(good) -> None:
    wh, report = good
    events = wh.table("events")
    assert events.filter(events.type == "track").count().to_pyarrow().as_py() == 7
    assert events.message_id.nunique().to_pyarrow().as_py() == 7
    assert events.filter(events.message_id == "m-0009").count().to_pyarrow().as_py() == 1
    # identify and group are counted by the report (they update users/accounts, not events)
    assert dict(report.file("events.ndjson").messages) == {"track": 8, "identify": 1, "group": 1}
    assert events.filter(events.type.isin(["identify", "group"])).count().to_pyarrow().as_py() == 0


def test_accounts_users_and_the_anonymous_actor(good) -> None:
    wh, _ = good
    assert wh.count("accounts") == 3
    users = wh.table("users")
    assert users.count().to_pyarrow().as_py() == 3
    u1 = users.filter(users.user_id == "u1").to_pyarrow().to_pylist()[0]
    assert u1["account_id"] == "acme"
    assert '"plan":"pro"' in u1["attributes"] and '"role":"admin"' in u1["attributes"]
    events = wh.table("events")
    anon = events.filter(events.anonymous_id == "anon-7").to_pyarrow().to_pylist()
    assert [(e["actor_id"], e["user_id"]) for e in anon] == [("anon-7", None)]
    acme = wh.table("accounts").filter(ibis._.account_id == "acme").to_pyarrow().to_pylist()[0]
    assert acme["attributes"] == '{"mrr":1200}'  # group traits beyond the columns


def test_offset_timestamp_is_stored_in_utc(good) -> None:
    wh, _ = good
    events = wh.table("events")
    (row,) = events.filter(events.message_id == "m-0006").to_pyarrow().to_pylist()
    assert row["timestamp"] == datetime(2026, 3, 2, 10, 0, 0)


def test_reference_counts(good) -> None:
    wh, _ = good
    counts = {name: wh.count(name) for name in
              ("releases", "experiments", "tickets", "deployments", "incidents", "backlog")}  # fmt: skip
    assert counts == {"releases": 2, "experiments": 1, "tickets": 2, "deployments": 3,
                      "incidents": 1, "backlog": 2}  # fmt: skip
    (exposure,) = wh.table("exposures").to_pyarrow().to_pylist()
    assert (exposure["user_id"], exposure["experiment_id"], exposure["variation_id"]) == (
        "u2", "onboarding-checklist", "checklist")  # fmt: skip


def test_nps_and_csat_over_file_and_event_answers(good) -> None:
    wh, _ = good
    s = wh.table("surveys")
    nps = s.filter(s.survey == "nps")
    agg = (
        nps.aggregate(
            answers=nps.count(),
            promoters=(nps.score >= 9).sum(),
            detractors=(nps.score <= 6).sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    assert (agg["answers"], agg["promoters"], agg["detractors"]) == (3, 2, 1)
    assert round(100 * (agg["promoters"] - agg["detractors"]) / agg["answers"], 1) == 33.3
    csat = s.filter(s.survey == "csat")
    assert csat.count().to_pyarrow().as_py() == 1 and csat.score.mean().to_pyarrow().as_py() == 5.0


def test_mrr_and_churn(good) -> None:
    wh, _ = good
    r = wh.table("revenue")
    march = r.filter(r.period_start == date(2026, 3, 1)).mrr.sum().to_pyarrow().as_py()
    assert march == 6400
    churned = r.filter(r.status == "churned").to_pyarrow().to_pylist()
    assert [(c["account_id"], c["period_start"]) for c in churned] == [
        ("initech", date(2026, 4, 1))
    ]
    before = r.filter((r.account_id == "initech") & (r.period_start == date(2026, 3, 1)))
    lost = before.mrr.sum().to_pyarrow().as_py() - churned[0]["mrr"]
    assert lost == 200


def test_importing_good_twice_changes_nothing(warehouse, shared_examples) -> None:
    wh = warehouse
    assert import_path(wh, shared_examples / "good").ok
    first = snapshot(wh)
    again = import_path(wh, shared_examples / "good")
    assert again.ok and again.rows_loaded == 0
    assert again.rows_duplicate == again.rows_read
    assert snapshot(wh) == first


def test_bad_events_loads_the_two_good_lines_and_reports_seven(warehouse, shared_examples) -> None:
    report = import_path(warehouse, shared_examples / "bad" / "events.ndjson")
    f = report.files[0]
    assert f.status == "loaded" and (f.rows_read, f.rows_loaded, f.rows_rejected) == (9, 2, 7)
    ids = sorted(warehouse.table("events").message_id.to_pyarrow().to_pylist())
    assert ids == ["ok-1", "ok-2"]
    by_line = {p.line: p.reason for p in f.rejections}
    expected = {2: "invalid JSON", 3: "missing timestamp", 4: "unparseable timestamp",
                5: "track without event", 6: "no userId or anonymousId", 7: "unknown type",
                8: "not an object"}  # fmt: skip
    assert sorted(by_line) == sorted(expected)
    for line, words in expected.items():
        assert words in by_line[line], (line, by_line[line])


@pytest.mark.parametrize(
    ("name", "table", "expected"),
    [
        ("releases.yaml", "releases",
         {(1, "missing shipped_at"), (4, "unknown direction"), (11, "duplicate id"), (11, "unknown kind")}),
        ("revenue.csv", "revenue",
         {(3, "non-numeric mrr"), (4, "missing account_id"), (5, "unparseable date")}),
        ("surveys.csv", "surveys", {(2, "out of range"), (3, "unknown survey kind")}),
    ],
)  # fmt: skip
def test_bad_reference_files_load_nothing_under_fail(
    warehouse, shared_examples, name, table, expected
) -> None:
    report = import_path(warehouse, shared_examples / "bad" / name, on_error="fail")
    (f,) = report.files
    assert f.status == "failed" and not report.ok and f.rows_loaded == 0
    assert warehouse.count(table) == 0
    found = {(p.line, p.reason) for p in f.rejections}
    for line, words in expected:
        assert any(pl == line and words in reason for pl, reason in found), (line, words, found)
    assert len(f.rejections) == len(expected)
    assert all(p.file and p.file.endswith(name) and p.field for p in f.rejections)
