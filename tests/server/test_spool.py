"""The spool and the loader on their own: durability, group commit, replay, quarantine."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from impactlens.server.loader import Loader, LoadOutcome, read_checkpoint, write_checkpoint
from impactlens.server.spool import Spool, SpoolPosition, list_segments, segment_name


def _line(i: int) -> bytes:
    return orjson.dumps({"messageId": f"m{i}", "event": "E", "n": i}) + b"\n"


class Store:
    """A stand-in warehouse keyed by messageId, as the importer dedupes."""

    def __init__(self, fail_times: int = 0) -> None:
        self.rows: dict[str, dict] = {}
        self.calls = 0
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def load(self, lines: list[bytes]) -> LoadOutcome:
        messages = [orjson.loads(line) for line in lines]
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_times:
                raise RuntimeError("simulated importer bug")
            new = 0
            for m in messages:
                if m["messageId"] not in self.rows:
                    self.rows[m["messageId"]] = m
                    new += 1
            return LoadOutcome(loaded=new, duplicates=len(messages) - new)


def _read_all(spool: Spool) -> list[bytes]:
    out, pos = [], SpoolPosition(1, 0)
    while True:
        lines, nxt = spool.read(pos, 1 << 20)
        if not lines and nxt == pos:
            return out
        out += lines
        pos = nxt


def test_append_is_durable_and_readable(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    position = spool.append(_line(1) + _line(2)).result(timeout=10)
    assert position == SpoolPosition(1, len(_line(1) + _line(2)))
    assert _read_all(spool) == [_line(1)[:-1], _line(2)[:-1]]
    assert spool.pending_bytes(SpoolPosition(1, 0)) == position.offset
    spool.close()
    # What is on disk after close is exactly what was acknowledged.
    assert (tmp_path / segment_name(1)).read_bytes() == _line(1) + _line(2)


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    n = 400
    futures = []
    start = threading.Barrier(8)

    def client(offset: int) -> None:
        start.wait()
        for i in range(offset, n, 8):
            futures.append(spool.append(_line(i)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for f in futures:
        f.result(timeout=30)
    spool.close()
    lines = _read_all(spool)
    assert sorted(orjson.loads(x)["n"] for x in lines) == list(range(n))
    assert spool.commits < n  # group commit: fewer disk flushes than requests


def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(_line(1)).result(timeout=10)
    spool.close()
    with (tmp_path / segment_name(1)).open("ab") as f:  # a crash mid-write
        f.write(b'{"messageId": "torn", "ev')
    spool = Spool(tmp_path)
    spool.append(_line(2)).result(timeout=10)
    assert [orjson.loads(x)["n"] for x in _read_all(spool)] == [1, 2]
    spool.close()


def test_segments_rotate_and_are_read_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=64 * 1024)
    for start in range(0, 3000, 100):  # 100 lines per append: about 3 KB
        spool.append(b"".join(_line(i) for i in range(start, start + 100))).result(timeout=10)
    assert len(list_segments(tmp_path)) > 1
    assert [orjson.loads(x)["n"] for x in _read_all(spool)] == list(range(3000))
    sizes = {n: (tmp_path / segment_name(n)).stat().st_size for n in list_segments(tmp_path)}
    second = SpoolPosition(2, 100)
    assert spool.pending_bytes(SpoolPosition(1, 0)) == sum(sizes.values())
    assert spool.pending_bytes(second) == sum(v for n, v in sizes.items() if n >= 2) - 100
    spool.close()
    spool = Spool(tmp_path, segment_bytes=64 * 1024)  # reopened: closed sizes from the files
    assert spool.pending_bytes(second) == sum(v for n, v in sizes.items() if n >= 2) - 100
    spool.remove_before(spool.durable().segment)
    assert list_segments(tmp_path) == [spool.durable().segment]
    assert spool.pending_bytes(SpoolPosition(1, 0)) == spool.durable().offset
    spool.close()


def test_loader_loads_everything_once_and_replays_after_a_lost_checkpoint(tmp_path: Path) -> None:
    store = Store()
    spool = Spool(tmp_path, segment_bytes=64 * 1024)
    loader = Loader(spool, store.load, batch_messages=500)
    loader.start()
    for i in range(5000):
        spool.append(_line(i))
    spool.append(_line(4999)).result(timeout=10)  # a client retry: same messageId
    assert loader.wait_loaded(timeout=30)
    assert len(store.rows) == 5000
    assert read_checkpoint(tmp_path) == spool.durable()
    assert list_segments(tmp_path) == [spool.durable().segment]  # loaded segments are gone
    loader.stop()
    spool.close()

    # A crash after the import but before the checkpoint: replay must not duplicate.
    write_checkpoint(tmp_path, SpoolPosition(spool.durable().segment, 0))
    calls_before = store.calls
    spool = Spool(tmp_path, segment_bytes=64 * 1024)
    loader = Loader(spool, store.load, batch_messages=500)
    loader.start()
    assert loader.wait_loaded(timeout=30)
    assert store.calls > calls_before  # it did replay
    assert len(store.rows) == 5000
    assert loader.stats().duplicates > 0 and loader.stats().loaded == 0
    loader.stop()
    spool.close()


def test_a_batch_the_importer_keeps_failing_on_is_set_aside(tmp_path: Path) -> None:
    store = Store(fail_times=3)
    spool = Spool(tmp_path)
    loader = Loader(spool, store.load, retry_wait=0.01)
    loader.start()
    spool.append(_line(1)).result(timeout=10)
    assert loader.wait_loaded(timeout=30)
    quarantined = list((tmp_path / "quarantine").glob("*.ndjson"))
    assert len(quarantined) == 1
    assert orjson.loads(quarantined[0].read_bytes().splitlines()[0])["n"] == 1
    assert loader.stats().quarantined_batches == 1
    spool.append(_line(2)).result(timeout=10)  # and ingest goes on
    assert loader.wait_loaded(timeout=30)
    assert set(store.rows) == {"m2"}
    loader.stop()
    spool.close()


@pytest.mark.parametrize("batch", [1, 7])
def test_loader_batches_respect_the_message_limit(tmp_path: Path, batch: int) -> None:
    sizes: list[int] = []

    def load(lines: list[bytes]) -> LoadOutcome:
        sizes.append(len(lines))
        return LoadOutcome(len(lines))

    spool = Spool(tmp_path)
    spool.append(b"".join(_line(i) for i in range(20))).result(timeout=10)
    loader = Loader(spool, load, batch_messages=batch)
    loader.start()
    assert loader.wait_loaded(timeout=30)
    assert sum(sizes) == 20 and max(sizes) <= batch
    loader.stop()
    spool.close()
