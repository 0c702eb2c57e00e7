"""A file is imported all or nothing: Ctrl-C mid-file and kill -9 mid-file leave no half of it."""

from __future__ import annotations

import sys
import textwrap

import pytest
from ingest_helpers import kill_9_at, write_events

from impactlens.ingest import import_path
from impactlens.warehouse import TABLES, Warehouse

TS = "2026-03-02T10:00:00Z"


def messages(prefix: str, n: int) -> list[dict]:
    out = [{"type": "identify", "userId": f"{prefix}-u0", "timestamp": TS, "traits": {"plan": "x"}},
           {"type": "group", "userId": f"{prefix}-u0", "groupId": f"{prefix}-acme", "timestamp": TS}]  # fmt: skip
    out += [{"type": "track", "event": "E", "userId": f"{prefix}-u{i % 5}", "timestamp": TS,
             "messageId": f"{prefix}-{i}"} for i in range(n)]  # fmt: skip
    return out


def snapshot(warehouse: Warehouse) -> dict:
    names = [*TABLES, "_impactlens_imports"]
    return {n: sorted(map(str, warehouse.table(n).to_pyarrow().to_pylist())) for n in names}


def test_ctrl_c_mid_file_leaves_the_warehouse_unchanged(warehouse, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("impactlens.ingest.sources.LINE_CHUNK_BYTES", 2048)
    assert import_path(warehouse, write_events(tmp_path / "a", messages("a", 50), "ndjson")).ok
    before = snapshot(warehouse)
    calls = []

    def interrupt(description: str, done: int, total: int | None) -> None:
        calls.append(done)
        if len(calls) == 4:  # a few chunks in: identify/group applied, events staged
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_path(
            warehouse,
            write_events(tmp_path / "b", messages("b", 500), "ndjson"),
            progress=interrupt,
        )
    assert 0 < calls[-1] < (tmp_path / "b" / "events.ndjson").stat().st_size
    assert snapshot(warehouse) == before
    setting = warehouse.backend.con.execute("SELECT current_setting('preserve_insertion_order')")
    assert setting.fetchone()[0] is True  # bulk settings restored
    # the warehouse is usable and the file imports cleanly afterwards
    again = import_path(warehouse, tmp_path / "b" / "events.ndjson")
    assert again.ok and again.files[0].rows_loaded == 502


def test_ctrl_c_in_a_reference_file_leaves_nothing(warehouse, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("impactlens.ingest.reference_load.BATCH", 10)
    lines = "".join(f"t{i},2026-03-0{1 + i % 9}T10:00:00Z\n" for i in range(100))
    (tmp_path / "tickets.csv").write_text("ticket_id,created_at\n" + lines)
    import impactlens.ingest.reference_load as ref

    real = ref._write
    written = []

    def write_then_interrupt(*args, **kwargs):
        written.append(real(*args, **kwargs))
        if len(written) == 3:
            raise KeyboardInterrupt
        return written[-1]

    monkeypatch.setattr(ref, "_write", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_path(warehouse, tmp_path / "tickets.csv")
    assert warehouse.count("tickets") == 0 and warehouse.count("_impactlens_imports") == 0


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import impactlens.ingest.sources as sources
    from impactlens.ingest import import_path
    from impactlens.warehouse import Warehouse

    sources.LINE_CHUNK_BYTES = 4096
    wh = Warehouse.connect("duckdb://" + sys.argv[1]); wh.ensure_schema()
    assert import_path(wh, Path(sys.argv[2])).ok
    calls = []

    def block(description, done, total):
        calls.append(done)
        if len(calls) == 3:
            print("mid-file", flush=True)
            sys.stdin.readline()  # wait here until the parent kills us

    import_path(wh, Path(sys.argv[3]), progress=block)
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_file_then_reopen_gives_all_or_nothing(tmp_path) -> None:
    db = tmp_path / "wh.duckdb"
    first = write_events(tmp_path / "a", messages("a", 200), "ndjson")
    second = write_events(tmp_path / "b", messages("b", 2000), "ndjson")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    kill_9_at(script, [str(db), str(first), str(second)], "mid-file")
    wh = Warehouse.connect(f"duckdb://{db}")
    try:
        events = wh.table("events")
        ids = set(events.message_id.to_pyarrow().to_pylist())
        assert len(ids) == 200 and all(
            i.startswith("a-") for i in ids
        )  # first file whole, second absent
        assert wh.table("users").user_id.to_pyarrow().to_pylist() == ["a-u0"]  # b-u0 rolled back
        assert wh.count("_impactlens_imports") == 1
        assert import_path(wh, second).files[0].rows_loaded == 2002
    finally:
        wh.close()
