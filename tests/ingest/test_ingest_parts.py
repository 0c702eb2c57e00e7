"""Big Parquet events files kept as Parquet parts (warehouse/parts.py, ingest/parts.py).

The reference is the insert path, itself checked against brute force elsewhere:
a warehouse that keeps a file as a part must hold exactly what one that
inserts it holds, whatever the copies, rejected rows, stored ids, accounts and
back-fills; and a part must never be half there (rollback, crash, moved
workspace).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import kill_9_at
from ingest_helpers import write_events as _write_events

import impactlens.ingest.parts as ingest_parts
from impactlens.ingest import import_messages, import_path
from impactlens.warehouse import Warehouse
from impactlens.warehouse.parts import ORPHAN_SECONDS, folder, has_parts, part_files
from impactlens.warehouse.rollups import refresh_pending
from impactlens.warehouse.schema import ACTIVITY_TABLE, COUNTS_TABLE, ROLLUP_TABLE

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


def write_events(where: Path, messages: list[dict], form: str) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    return _write_events(where, messages, form)


def connect(path: Path, *, read_only: bool = False) -> Warehouse:
    wh = Warehouse.connect(f"duckdb://{path}", read_only=read_only)
    if not read_only:
        wh.ensure_schema()
    return wh


def as_parts(min_rows: int = 1):  # type: ignore[no-untyped-def]
    return mock.patch.object(ingest_parts, "PART_MIN_ROWS", min_rows)


def inserted():  # type: ignore[no-untyped-def]
    return mock.patch.object(ingest_parts, "PART_MIN_ROWS", 10**12)


def rows(wh: Warehouse, table: str, drop: tuple[str, ...] = ()) -> list[dict]:
    data = wh.table(table).to_pyarrow()
    data = data.drop([c for c in drop if c in data.column_names])
    return sorted(data.to_pylist(), key=lambda r: [str(v) for v in r.values()])


def contents(wh: Warehouse) -> dict[str, list[dict]]:
    refresh_pending(wh)
    return {
        "events": rows(wh, "events", ("received_at",)),
        "exposures": rows(wh, "exposures"),
        "surveys": rows(wh, "surveys"),
        "users": rows(wh, "users", ("updated_at",)),
        ROLLUP_TABLE: rows(wh, ROLLUP_TABLE),
        ACTIVITY_TABLE: rows(wh, ACTIVITY_TABLE),
        COUNTS_TABLE: rows(wh, COUNTS_TABLE),
    }


def counts(report) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(f.status, f.rows_read, f.rows_loaded, f.rows_duplicate, f.rows_rejected,
             [(p.line, p.field, p.reason) for p in f.rejections]) for f in report.files]  # fmt: skip


message_ids = st.sampled_from([f"m-{i}" for i in range(10)])
users = st.sampled_from(["u1", "u2", "u3", None])
moments = st.sampled_from(
    ["2026-03-01T10:00:00Z", "2026-03-01T10:30:00Z", "2026-03-02T23:59:59Z", "2026-03-09T08:00:00Z",
     "yesterday"]
)  # fmt: skip
properties = st.sampled_from(
    [None, {"plan": "pro"}, {"experiment_id": "exp-1", "variation_id": "b"},
     {"experiment_id": "exp-1"}, {"survey": "nps", "score": 9}, {"survey": "nps", "score": "x"}]
)  # fmt: skip


@st.composite
def messages(draw) -> dict:
    message = {
        "type": "track",
        "messageId": draw(message_ids),
        "timestamp": draw(moments),
        "event": draw(st.sampled_from(["A", "B", "Experiment Viewed", "Survey Responded"])),
    }
    user = draw(users)
    if user is not None:
        message["userId"] = user
    if user is None or draw(st.booleans()):
        message["anonymousId"] = draw(st.sampled_from(["a1", "a2"]))
    props = draw(properties)
    if props is not None:
        message["properties"] = props
    if draw(st.booleans()):
        message["context"] = {"groupId": draw(st.sampled_from(["acct-9", "acct-8"]))}
    return message


def write_users(folder_: Path, links: list[tuple[str, str]]) -> Path:
    folder_.mkdir(parents=True, exist_ok=True)
    path = folder_ / "users.csv"
    path.write_text("user_id,account_id\n" + "".join(f"{u},{a}\n" for u, a in links))
    return path


@SETTINGS
@given(
    before=st.lists(messages(), max_size=5),
    file_rows=st.lists(messages(), min_size=1, max_size=25),
    second=st.lists(messages(), min_size=1, max_size=10),
    links_before=st.lists(st.sampled_from([("u1", "acct-1"), ("u3", "acct-3")]), max_size=2),
    links_after=st.lists(st.sampled_from([("u2", "acct-2"), ("u3", "acct-4")]), max_size=2),
)
def test_a_part_holds_exactly_what_an_insert_holds(
    tmp_path_factory, before, file_rows, second, links_before, links_after
) -> None:
    """Stored ids, copies in the file, rejected rows, accounts from users, a later back-fill."""
    work = tmp_path_factory.mktemp("parts")
    first = write_events(work / "f1", file_rows, "parquet")
    again = write_events(work / "f2", second, "parquet")
    results = {}
    for label, mode in (("parts", as_parts), ("insert", inserted)):
        wh = connect(work / f"{label}.duckdb")
        with mode():
            if links_before:
                import_path(wh, write_users(work / f"ub-{label}", sorted(set(links_before))))
            import_messages(wh, before)
            reports = [counts(import_path(wh, first)), counts(import_path(wh, again))]
            if links_after:
                import_path(wh, write_users(work / f"ua-{label}", sorted(set(links_after))))
            # the server's path after a part exists: copies are still recognised
            api = import_messages(wh, file_rows[:3])
        results[label] = (reports, api.loaded, contents(wh))
        if label == "parts":  # every row has a message_id: a file that loads rows is a part
            assert has_parts(wh) == any(r[0][2] > 0 for r in reports)
        wh.close()
    assert results["parts"] == results["insert"]


def big_file(tmp_path: Path, n: int = 40, *, start: int = 0) -> Path:
    msgs = [
        {"type": "track", "messageId": f"m-{i}", "timestamp": f"2026-03-01T{i % 24:02d}:00:00Z",
         "event": "A", "userId": f"u{i % 4}"}
        for i in range(start, start + n)
    ]  # fmt: skip
    return write_events(tmp_path, msgs, "parquet")


def test_a_big_parquet_file_becomes_a_part_and_events_a_view(tmp_path) -> None:
    wh = connect(tmp_path / "w.duckdb")
    with as_parts(10):
        f = import_path(wh, big_file(tmp_path / "a")).files[0]
    assert (f.status, f.rows_loaded) == ("loaded", 40)
    assert has_parts(wh) and len(part_files(wh)) == 1
    assert (folder(wh) / part_files(wh)[0]).is_file()
    assert wh.count("events") == 40
    types = {t["table_name"]: t["table_type"] for t in wh.backend.con.execute(
        "SELECT table_name, table_type FROM information_schema.tables").fetchdf().to_dict("records")}  # fmt: skip
    assert types["events"] == "VIEW"
    # a small file is still inserted, into the stored rows under the view
    with as_parts(10):
        small = import_path(wh, big_file(tmp_path / "b", 5, start=100)).files[0]
    assert small.rows_loaded == 5 and len(part_files(wh)) == 1 and wh.count("events") == 45


def test_a_file_without_message_ids_is_inserted(tmp_path) -> None:
    msgs = [{"type": "track", "timestamp": "2026-03-01T10:00:00Z", "event": "A", "userId": "u"}] * 3
    wh = connect(tmp_path / "w.duckdb")
    with as_parts(1):
        f = import_path(wh, write_events(tmp_path / "a", msgs, "parquet")).files[0]
    assert f.rows_loaded == 1 and f.rows_duplicate == 2  # hashed ids: identical rows are copies
    assert not has_parts(wh)


def test_a_rolled_back_import_leaves_no_part(tmp_path, monkeypatch) -> None:
    wh = connect(tmp_path / "w.duckdb")

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed after the part was added")

    monkeypatch.setattr("impactlens.ingest.importer._log_import", fail)
    with as_parts(10), pytest.raises(RuntimeError):
        import_path(wh, big_file(tmp_path / "a"))
    assert not has_parts(wh) and wh.count("events") == 0
    assert list(folder(wh).iterdir()) == []
    monkeypatch.undo()
    with as_parts(10):
        assert import_path(wh, big_file(tmp_path / "a")).files[0].rows_loaded == 40
    assert wh.count("events") == 40 and len(part_files(wh)) == 1


def test_a_crash_before_commit_leaves_an_orphan_that_the_next_writer_deletes(tmp_path) -> None:
    wh = connect(tmp_path / "w.duckdb")
    with as_parts(10):
        import_path(wh, big_file(tmp_path / "a"))
    kept = part_files(wh)
    wh.close()
    parts = tmp_path / "w.duckdb.parts"
    orphan, fresh = parts / "dead.parquet", parts / "being-written.parquet"
    orphan.write_bytes(b"half a file")
    fresh.write_bytes(b"an import still writing")
    old = time.time() - ORPHAN_SECONDS - 10
    os.utime(orphan, (old, old))
    read_only = connect(tmp_path / "w.duckdb", read_only=True)
    assert orphan.exists()  # a reader never deletes
    read_only.close()
    wh = connect(tmp_path / "w.duckdb")
    assert not orphan.exists() and fresh.exists()
    assert sorted(p.name for p in parts.iterdir()) == sorted([*kept, fresh.name])
    assert wh.count("events") == 40


def test_a_moved_workspace_reads_its_parts(tmp_path) -> None:
    wh = connect(tmp_path / "a" / "w.duckdb")
    with as_parts(10):
        import_path(wh, big_file(tmp_path / "in"))
    wh.close()
    shutil.move(tmp_path / "a", tmp_path / "b")
    reader = connect(tmp_path / "b" / "w.duckdb", read_only=True)
    assert reader.count("events") == 40
    reader.close()
    writer = connect(tmp_path / "b" / "w.duckdb")
    assert writer.count("events") == 40
    with as_parts(10):
        import_path(writer, big_file(tmp_path / "in2", start=40))
    assert writer.count("events") == 80 and len(part_files(writer)) == 2


def test_a_backfill_rewrites_the_part_and_marks_its_hours(tmp_path) -> None:
    wh = connect(tmp_path / "w.duckdb")
    with as_parts(10):
        import_path(wh, big_file(tmp_path / "a"))
    refresh_pending(wh)
    before = part_files(wh)
    import_path(wh, write_users(tmp_path, [("u1", "acct-1")]))
    after = part_files(wh)
    assert len(after) == 1 and after != before
    assert not (folder(wh) / before[0]).exists()
    events = wh.table("events").to_pyarrow()
    accounts = pc.filter(events.column("account_id"), pc.equal(events.column("user_id"), "u1"))
    assert accounts.to_pylist() == ["acct-1"] * 10
    assert pc.all(pc.is_null(pc.filter(events.column("account_id"),
                                       pc.not_equal(events.column("user_id"), "u1")))).as_py()  # fmt: skip
    hourly = wh.table(ROLLUP_TABLE)
    refresh_pending(wh)
    got = hourly.filter(hourly.actor_id == "u1").to_pyarrow()
    assert set(got.column("account_id").to_pylist()) == {"acct-1"}
    assert pc.sum(got.column("n")).as_py() == 10
    # a back-fill that changes nothing in the part leaves it as it is
    import_path(wh, write_users(tmp_path, [("u1", "acct-1")]))
    assert part_files(wh) == after


def test_plan_drops_stored_and_later_copies_by_position(tmp_path) -> None:
    """The first valid copy wins across batches; a rejected first copy is no copy."""
    wh = connect(tmp_path / "w.duckdb")
    import_messages(wh, [{"type": "track", "messageId": "s", "timestamp": "2026-03-01T00:00:00Z",
                          "event": "A", "userId": "u"}])  # fmt: skip
    msgs = [
        {"type": "track", "messageId": "d", "timestamp": "yesterday", "event": "A", "userId": "u"},
        {"type": "track", "messageId": "d", "timestamp": "2026-03-01T01:00:00Z", "event": "B",
         "userId": "u"},
        {"type": "track", "messageId": "s", "timestamp": "2026-03-01T02:00:00Z", "event": "C",
         "userId": "u"},
        {"type": "track", "messageId": "d", "timestamp": "2026-03-01T03:00:00Z", "event": "D",
         "userId": "u"},
        {"type": "track", "messageId": "x", "timestamp": "2026-03-01T04:00:00Z", "event": "E",
         "userId": "u"},
    ]  # fmt: skip
    path = write_events(tmp_path / "a", msgs, "parquet")
    plan = ingest_parts.plan_part(wh, path, min_rows=1)
    assert plan is not None and plan.positions.tolist() == [0, 1, 2, 3]
    assert plan.stored.tolist() == [False, False, True, False]
    with as_parts(1):
        f = import_path(wh, path).files[0]
    assert (f.rows_loaded, f.rows_duplicate, f.rows_rejected) == (2, 2, 1)
    events = {r["message_id"]: r["event"] for r in wh.table("events").to_pyarrow().to_pylist()}
    assert events == {"s": "A", "d": "B", "x": "E"}


def test_keep_splits_copies_over_batches() -> None:
    """Copies are decided over batches; a row rejected by the reserved checks takes its id."""
    import numpy as np

    plan = ingest_parts.PartPlan(
        positions=np.array([1, 3, 4]), groups=np.array([0, 0, 0]),
        stored=np.array([False, False, False]), accounts={},
    )  # fmt: skip

    def batch(seqs: list[int]) -> pa.Table:
        n = len(seqs)
        text = pa.array(["x"] * n)
        return pa.table({"_seq": pa.array(seqs, pa.int64()), "_line": pa.array(seqs, pa.int64()),
                         "message_id": text, "timestamp": pa.array([None] * n, pa.timestamp("us")),
                         "type": text, "event": text, "user_id": text, "anonymous_id": text,
                         "account_id": text, "properties": text})  # fmt: skip

    from datetime import datetime

    now = datetime(2026, 3, 1)
    # row 1 failed the row checks (absent); row 3 is the first copy, rejected afterwards
    assert plan.keep(batch([0, 2]), [], now).column("_seq").to_pylist() == [0, 2]
    assert plan.keep(batch([3, 4, 5]), [3], now).column("_seq").to_pylist() == [5]
    assert plan.keep(batch([6]), [], now).column("_seq").to_pylist() == [6]
    other = ingest_parts.PartPlan(
        positions=np.array([1, 3, 4]), groups=np.array([0, 0, 0]),
        stored=np.array([False, False, False]), accounts={},
    )  # fmt: skip
    assert other.keep(batch([0, 1, 2]), [], now).column("_seq").to_pylist() == [0, 1, 2]
    assert other.keep(batch([3, 4]), [], now).column("_seq").to_pylist() == []


def test_small_batches_find_copies_in_parts_by_hash_and_confirm_them(tmp_path) -> None:
    """A hash in the index is only a candidate: the id itself decides (a collision is no copy)."""
    from impactlens.warehouse.schema import PART_IDS_TABLE

    wh = connect(tmp_path / "w.duckdb")
    with as_parts(10):
        import_path(wh, big_file(tmp_path / "a"))
    assert wh.count(PART_IDS_TABLE) == 40
    fake = wh.backend.con.execute("SELECT hash('new-1')").fetchone()[0]
    wh.backend.insert(PART_IDS_TABLE, pa.table({"h": pa.array([fake], pa.uint64())}))  # a collision
    sent = [
        {"type": "track", "messageId": mid, "timestamp": "2026-03-02T00:00:00Z", "event": "B",
         "userId": "u9"}
        for mid in ("m-3", "new-1", "m-39", "new-2")
    ]  # fmt: skip
    result = import_messages(wh, sent)
    assert (result.loaded, result.duplicates) == (2, 2)
    events = wh.table("events")
    assert sorted(events.filter(events.event == "B").message_id.to_pyarrow().to_pylist()) == [
        "new-1",
        "new-2",
    ]
    assert wh.count("events") == 42


def test_part_ids_are_hashed_again_when_duckdb_hashes_differently(tmp_path) -> None:
    from impactlens.warehouse.schema import PART_IDS_TABLE

    wh = connect(tmp_path / "w.duckdb")
    with as_parts(10):
        import_path(wh, big_file(tmp_path / "a"))
    assert PART_IDS_TABLE == "_impactlens_event_part_ids"
    wh.backend.con.execute("UPDATE _impactlens_event_part_ids SET h = h + 1")  # another DuckDB
    wh.set_meta("part_ids_hash_probe", "from another DuckDB")
    wh.close()
    wh = connect(tmp_path / "w.duckdb")
    again = import_messages(wh, [{"type": "track", "messageId": "m-7", "event": "A",
                                  "timestamp": "2026-03-01T07:00:00Z", "userId": "u3"}])  # fmt: skip
    assert (again.loaded, again.duplicates) == (0, 1) and wh.count("events") == 40


PART_CHILD = """
import sys
from pathlib import Path
import impactlens.ingest.parts as parts
import impactlens.ingest.importer as importer
from impactlens.ingest import import_path
from impactlens.warehouse import Warehouse

parts.PART_MIN_ROWS = 10
wh = Warehouse.connect("duckdb://" + sys.argv[1]); wh.ensure_schema()
assert import_path(wh, Path(sys.argv[2])).ok

def block(*args, **kwargs):  # the part is written and named; the transaction is open
    print("part added", flush=True)
    sys.stdin.readline()  # wait here until the parent kills us

importer._log_import = block
import_path(wh, Path(sys.argv[3]))
print("finished", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_after_the_part_is_added_loses_and_duplicates_nothing(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    first, second = big_file(tmp_path / "a"), big_file(tmp_path / "b", start=40)
    script = tmp_path / "child.py"
    script.write_text(PART_CHILD)
    kill_9_at(script, [str(db), str(first), str(second)], "part added")
    files = sorted(p.name for p in (tmp_path / "w.duckdb.parts").iterdir())
    assert len(files) == 2  # the second part was written before the kill
    wh = connect(db)
    assert wh.count("events") == 40 and len(part_files(wh)) == 1  # first file whole, second absent
    (orphan,) = set(files) - set(part_files(wh))
    with as_parts(10):
        assert import_path(wh, second).files[0].rows_loaded == 40
    assert wh.count("events") == 80 and len(part_files(wh)) == 2
    assert orphan not in part_files(wh)
    wh.close()
    old = time.time() - ORPHAN_SECONDS - 10
    os.utime(tmp_path / "w.duckdb.parts" / orphan, (old, old))
    wh = connect(db)
    assert not (tmp_path / "w.duckdb.parts" / orphan).exists() and wh.count("events") == 80
