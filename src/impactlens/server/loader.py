"""The loader: one thread per workspace moving spooled messages into the warehouse.

It reads the spool from its checkpoint, hands a batch of lines to the importer
as they are (DuckDB parses them, off the interpreter lock; the importer dedupes
on messageId, so loading a batch twice changes nothing), and only then advances
the checkpoint. A crash between the two replays the batch on the next
start: every acknowledged message ends up in the warehouse exactly once.

A batch the importer keeps failing on (a bug, not bad input: input was
validated before it was acknowledged) is set aside in ``quarantine/`` after a
few attempts, so one bad batch cannot stop the workspace's ingest; nothing
acknowledged is ever deleted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from impactlens.server.spool import Spool, SpoolPosition, _fsync_dir

log = logging.getLogger("impactlens.server")

CHECKPOINT_FILE = "checkpoint.json"
_ATTEMPTS_BEFORE_QUARANTINE = 3


@dataclass(frozen=True)
class LoadOutcome:
    """What the importer did with one batch."""

    loaded: int
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class LoaderStats:
    """Counters since the server started, for /api/v1/status."""

    pending_bytes: int
    loaded: int
    duplicates: int
    rejected: int
    batches: int
    quarantined_batches: int
    failing: bool
    last_load_at: float | None


def read_checkpoint(directory: Path) -> SpoolPosition:
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return SpoolPosition(1, 0)
    raw = json.loads(path.read_text())
    return SpoolPosition(int(raw["segment"]), int(raw["offset"]))


def write_checkpoint(directory: Path, position: SpoolPosition) -> None:
    """Replace the checkpoint atomically and durably (tmp, fsync, rename, fsync dir)."""
    tmp = directory / (CHECKPOINT_FILE + ".tmp")
    with tmp.open("w") as handle:
        json.dump({"segment": position.segment, "offset": position.offset}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, directory / CHECKPOINT_FILE)
    _fsync_dir(directory)


class Loader:
    """Moves spooled messages into the warehouse in batches, from the checkpoint on."""

    def __init__(
        self,
        spool: Spool,
        load: Callable[[list[bytes]], LoadOutcome],
        *,
        batch_messages: int = 20_000,
        batch_bytes: int = 32 * 1024 * 1024,
        idle_wait: float = 0.5,
        retry_wait: float = 0.5,
    ) -> None:
        self.spool = spool
        self._load = load
        self._batch_messages = batch_messages
        self._batch_bytes = batch_bytes
        self._idle_wait = idle_wait
        self._retry_wait = retry_wait
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._position = read_checkpoint(spool.directory)
        spool.remove_before(self._position.segment)
        self._loaded = self._duplicates = self._rejected = self._batches = 0
        self._quarantined = 0
        self._failures = 0
        self._last_load_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="impactlens-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def position(self) -> SpoolPosition:
        with self._progress:
            return self._position

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until everything durable right now is loaded; False on timeout."""
        target = self.spool.durable()
        deadline = time.monotonic() + timeout
        with self._progress:
            while not self._caught_up(target):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return self._caught_up(target)
                self._progress.wait(min(remaining, 0.2))
        return True

    def _caught_up(self, target: SpoolPosition) -> bool:
        return self._position >= target

    def stats(self) -> LoaderStats:
        with self._progress:
            position = self._position
            return LoaderStats(
                pending_bytes=self.spool.pending_bytes(position),
                loaded=self._loaded,
                duplicates=self._duplicates,
                rejected=self._rejected,
                batches=self._batches,
                quarantined_batches=self._quarantined,
                failing=self._failures > 0,
                last_load_at=self._last_load_at,
            )

    # -- the loop -------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            position = self.position
            lines, end = self.spool.read(position, self._batch_bytes)
            lines = lines[: self._batch_messages]
            if lines and len(lines) == self._batch_messages:
                end = SpoolPosition(position.segment, position.offset + _span(lines))
            if not lines:
                if end != position:  # a closed segment is done: move on and drop it
                    self._advance(end, LoadOutcome(0))
                    self.spool.remove_before(end.segment)
                    continue
                self.spool.wait_beyond(position, self._idle_wait)
                continue
            self._load_batch(lines, end)

    def _load_batch(self, lines: list[bytes], end: SpoolPosition) -> None:
        try:
            outcome = self._load(lines)
        except Exception:
            self._failures += 1
            log.exception(
                "loading %d spooled messages failed (attempt %d)", len(lines), self._failures
            )
            if self._failures < _ATTEMPTS_BEFORE_QUARANTINE:
                self._stop.wait(self._retry_wait * 2**self._failures)
                return
            self._quarantine(lines)
            outcome = LoadOutcome(0)
        self._failures = 0
        self._advance(end, outcome)

    def _advance(self, end: SpoolPosition, outcome: LoadOutcome) -> None:
        write_checkpoint(self.spool.directory, end)
        with self._progress:
            self._position = end
            self._loaded += outcome.loaded
            self._duplicates += outcome.duplicates
            self._rejected += outcome.rejected
            if outcome.loaded or outcome.duplicates or outcome.rejected:
                self._batches += 1
                self._last_load_at = time.time()
            self._progress.notify_all()

    def _quarantine(self, lines: list[bytes]) -> None:
        folder = self.spool.directory / "quarantine"
        folder.mkdir(exist_ok=True)
        path = folder / f"batch-{time.time_ns()}.ndjson"
        with path.open("wb") as handle:
            handle.write(b"\n".join(lines) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(folder)
        with self._progress:
            self._quarantined += 1
        log.error("set aside %d messages the importer kept failing on: %s", len(lines), path)


def _span(lines: list[bytes]) -> int:
    """Bytes the lines took in the file (each ended by one newline)."""
    return sum(len(line) + 1 for line in lines)
