"""The ingest spool: an append-only NDJSON log, fsynced before a request is acknowledged.

Request handlers hand complete lines to ``append``; one committer thread takes
everything queued, writes it with one ``write`` and makes it durable with one
``fdatasync``, then resolves every waiting request. Concurrent requests so share
one disk flush (group commit): the more clients, the more lines per flush.

The log is a series of segment files ``spool-00000001.ndjson``, ... A segment is
closed (and never written again) once the next one exists, so a reader may read
a closed segment to its end; in the open segment it reads only up to the
durable position. A crash can leave a torn last line, never acknowledged; it is
cut off when the spool is opened again. See docs/design/ingest-durability.md.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("impactlens.server")

_GROUP_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, order=True)
class SpoolPosition:
    """A place in the log: segment number and byte offset in it."""

    segment: int
    offset: int


class SpoolUnavailable(Exception):
    """The spool cannot take writes (a disk error left it in an unknown state)."""


def segment_name(number: int) -> str:
    return f"spool-{number:08d}.ndjson"


def list_segments(directory: Path) -> list[int]:
    numbers = []
    for path in directory.glob("spool-*.ndjson"):
        stem = path.name[len("spool-") : -len(".ndjson")]
        if stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cut_torn_tail(path: Path) -> int:
    """Truncate ``path`` after its last newline; return the new size."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("r+b") as handle:
        keep = size
        step = 64 * 1024
        while keep > 0:
            start = max(0, keep - step)
            handle.seek(start)
            chunk = handle.read(keep - start)
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            keep = start
        if keep != size:
            log.warning("spool %s: cut a torn last line (%d bytes)", path.name, size - keep)
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return keep


class Spool:
    """Append-only, group-committed log of accepted messages for one workspace."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.segment_bytes = segment_bytes
        segments = list_segments(directory)
        self._segment = segments[-1] if segments else 1
        path = directory / segment_name(self._segment)
        if not path.exists():
            path.touch()
            _fsync_dir(directory)
        # Closed segments: only a torn tail could be wrong. Their sizes are kept so the
        # backlog (asked on every ingest request) is counted without touching the disk.
        self._closed = {n: _cut_torn_tail(directory / segment_name(n)) for n in segments[:-1]}
        self._offset = _cut_torn_tail(path)
        self._file = path.open("ab")
        self._durable = SpoolPosition(self._segment, self._offset)
        self._changed = threading.Condition()
        self._queue: queue.SimpleQueue[tuple[bytes, Future[SpoolPosition]] | None] = (
            queue.SimpleQueue()
        )
        self._broken = False
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="impactlens-spool", daemon=True)
        self._thread.start()

    # -- writing --------------------------------------------------------------------
    def append(self, lines: bytes) -> Future[SpoolPosition]:
        """Queue complete NDJSON lines; the future resolves once they are on disk."""
        future: Future[SpoolPosition] = Future()
        if self._broken:
            future.set_exception(SpoolUnavailable("the spool is unavailable after a disk error"))
        elif not lines:
            future.set_result(self.durable())
        else:
            self._queue.put((lines, future))
        return future

    def close(self) -> None:
        """Let queued appends finish, then stop the committer."""
        self._queue.put(None)
        self._thread.join()
        self._file.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            group = [item]
            size = len(item[0])
            while size < _GROUP_MAX_BYTES:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                size += len(nxt[0])
            self._commit(group, size)

    def _commit(self, group: list[tuple[bytes, Future[SpoolPosition]]], size: int) -> None:
        if self._broken:
            for _, future in group:
                future.set_exception(SpoolUnavailable("the spool is unavailable"))
            return
        try:
            if self._offset > 0 and self._offset + size > self.segment_bytes:
                self._rotate()
            self._file.write(b"".join(lines for lines, _ in group))
            self._file.flush()
            os.fdatasync(self._file.fileno())
        except OSError as exc:
            log.error("spool write failed: %s", exc)
            self._recover_after_failure()
            for _, future in group:
                future.set_exception(SpoolUnavailable(f"spool write failed: {exc}"))
            return
        self._offset += size
        position = SpoolPosition(self._segment, self._offset)
        with self._changed:
            self._durable = position
            self.commits += 1
            self._changed.notify_all()
        for _, future in group:
            future.set_result(position)

    def _rotate(self) -> None:
        """Close the current segment and start the next; the old one is complete."""
        self._file.close()
        closed = self._segment
        self._segment += 1
        self._offset = 0
        self._file = (self.directory / segment_name(self._segment)).open("ab")
        _fsync_dir(self.directory)
        with self._changed:
            self._closed[closed] = os.path.getsize(self.directory / segment_name(closed))
            self._durable = SpoolPosition(self._segment, 0)
            self._changed.notify_all()

    def _recover_after_failure(self) -> None:
        """Drop a partial write so the next line does not glue onto a torn one."""
        try:
            self._file.close()
            path = self.directory / segment_name(self._segment)
            os.truncate(path, self._offset)
            self._file = path.open("ab")
        except OSError as exc:
            log.error("spool cannot recover (%s); refusing further writes", exc)
            self._broken = True

    # -- reading --------------------------------------------------------------------
    def durable(self) -> SpoolPosition:
        with self._changed:
            return self._durable

    def wait_beyond(self, position: SpoolPosition, timeout: float) -> bool:
        """Wait until the durable position is past ``position``; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._durable > position, timeout=timeout)

    def read(self, start: SpoolPosition, max_bytes: int) -> tuple[list[bytes], SpoolPosition]:
        """Complete lines from ``start`` (at most about ``max_bytes``) and where they end.

        At the end of a closed segment the returned position is the start of the next.
        """
        durable = self.durable()
        path = self.directory / segment_name(start.segment)
        if start.segment < durable.segment:
            end = path.stat().st_size if path.exists() else start.offset
        else:
            end = durable.offset
        if start.offset >= end:
            if start.segment < durable.segment:
                return [], SpoolPosition(start.segment + 1, 0)
            return [], start
        with path.open("rb") as handle:
            handle.seek(start.offset)
            chunk = handle.read(min(max_bytes, end - start.offset))
            cut = chunk.rfind(b"\n") + 1
            while cut == 0 and start.offset + len(chunk) < end:  # one line longer than max_bytes
                chunk += handle.read(min(max_bytes, end - start.offset - len(chunk)))
                cut = chunk.rfind(b"\n") + 1
        lines = chunk[:cut].split(b"\n")[:-1]
        return lines, SpoolPosition(start.segment, start.offset + cut)

    def pending_bytes(self, since: SpoolPosition) -> int:
        """Bytes durable in the log after ``since`` (what the loader still has to load)."""
        with self._changed:
            durable = self._durable
            if since.segment == durable.segment:
                return max(0, durable.offset - since.offset)
            total = durable.offset
            for number, size in self._closed.items():
                if number == since.segment:
                    total += max(0, size - since.offset)
                elif since.segment < number < durable.segment:
                    total += size
            return total

    def remove_before(self, segment: int) -> None:
        """Delete closed segments older than ``segment`` (already loaded)."""
        for number in list_segments(self.directory):
            if number < segment:
                (self.directory / segment_name(number)).unlink(missing_ok=True)
                with self._changed:
                    self._closed.pop(number, None)
