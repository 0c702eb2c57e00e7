"""What the server holds open per workspace: the warehouse, the spool and the loader.

DuckDB lets one process write a database file. While the server runs it owns
each served warehouse: the loader thread writes through one connection, and
the read API reads through a second connection of the same process (DuckDB
MVCC: readers see committed loads, never half of one). ``impactlens import``
from another process is refused by DuckDB's file lock meanwhile; send data
through the API or stop the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from impactlens.config import Workspace
from impactlens.errors import UserError
from impactlens.server.auth import KeyRing
from impactlens.server.loader import Loader, LoadOutcome
from impactlens.server.settings import ServerSettings
from impactlens.server.spool import Spool

log = logging.getLogger("impactlens.server")

T = TypeVar("T")
SPOOL_DIR = "spool"


def metrics_version(workspace: Workspace) -> int:
    """The metrics.yaml version that results and pair tables follow (0: no file)."""
    try:
        return workspace.metrics_path.stat().st_mtime_ns
    except OSError:
        return 0


def import_loader(workspace: Workspace, warehouse: Any) -> Callable[[list[bytes]], LoadOutcome]:
    """The loader's load step: impactlens.ingest.import_lines, deduping on messageId; after
    the first batch and after a batch that follows a change of metrics.yaml, the pair tables
    of its duration metrics are kept (service.imports.keep_workspace_pairs)."""
    from impactlens.ingest import import_lines
    from impactlens.service.imports import keep_workspace_pairs

    kept_for: int | None = None  # the metrics.yaml version the pair tables follow

    def keep_pairs() -> None:
        nonlocal kept_for
        version = metrics_version(workspace)
        if version == kept_for:
            return
        try:  # the batch is committed: a failure here must not make the loader retry it
            pairs = keep_workspace_pairs(warehouse, workspace)
        except Exception:
            log.exception("%s: keeping the pair tables of metrics.yaml failed", workspace.root)
            return
        kept_for = version
        if pairs.problem is not None:
            log.warning("%s: %s", workspace.root, pairs.problem)

    def load(lines: list[bytes]) -> LoadOutcome:
        result = import_lines(
            warehouse, lines, source="http", reserved=workspace.config.reserved_events
        )
        if result.rejected:  # validated before it was acknowledged: should not happen
            log.error("the importer rejected %d spooled message problem(s): %s",
                      len(result.rejected), result.rejected[:5])  # fmt: skip
        keep_pairs()
        return LoadOutcome(
            loaded=result.loaded,
            duplicates=result.duplicates,
            rejected=len({p.index for p in result.rejected}),
        )

    return load


@dataclass
class WorkspaceRuntime:
    """One served workspace."""

    workspace: Workspace
    spool: Spool
    loader: Loader
    writer: Any
    reader: Any
    read_lock: threading.Lock
    cache: dict = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.workspace.config.name

    @classmethod
    def open(cls, workspace: Workspace, settings: ServerSettings) -> WorkspaceRuntime:
        try:
            writer = workspace.connect()
        except UserError as exc:
            raise UserError(
                f"{exc}\nIs another impactlens process (an import, another server) using this "
                "workspace? The server needs to own the warehouse while it runs."
            ) from exc
        reader = workspace.connect()
        spool = Spool(workspace.state_dir / SPOOL_DIR, segment_bytes=settings.spool_segment_bytes)
        loader = Loader(
            spool,
            import_loader(workspace, writer),
            batch_messages=settings.loader_batch_messages,
        )
        return cls(workspace, spool, loader, writer, reader, threading.Lock())

    def start(self) -> None:
        self.loader.start()  # replays the spool from the checkpoint first

    def read(self, call: Callable[[Any], T]) -> T:
        """Run one library call on the read connection (one caller at a time)."""
        with self.read_lock:
            return call(self.reader)

    def cached(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` once per state of the data: the loader is the only writer, so its
        checkpoint (plus the metrics.yaml version) says whether a result is still current."""
        full = (self.loader.position, metrics_version(self.workspace), *key)
        with self.cache_lock:
            if full in self.cache:
                return self.cache[full]
        value = compute()
        with self.cache_lock:
            if len(self.cache) >= 256:
                self.cache.clear()
            self.cache[full] = value
        return value

    def stop(self, *, drain_seconds: float = 30.0) -> None:
        """Finish queued appends, load what is spooled (bounded), release the warehouse."""
        self.spool.close()
        if not self.loader.wait_loaded(drain_seconds):
            log.warning(
                "%s: stopping with spooled messages not loaded yet; they load on next start",
                self.workspace.root,
            )
        self.loader.stop()
        with self.read_lock:
            self.reader.close()
        self.writer.close()


class Runtime:
    """Every served workspace plus the key ring that maps keys to them."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.keys = KeyRing(settings.workspaces)
        self.workspaces: dict[Path, WorkspaceRuntime] = {}
        try:
            for ws in settings.workspaces:
                self.workspaces[ws.root] = WorkspaceRuntime.open(ws, settings)
        except BaseException:
            self.stop()
            raise

    def start(self) -> None:
        for runtime in self.workspaces.values():
            runtime.start()

    def stop(self) -> None:
        for runtime in self.workspaces.values():
            try:
                runtime.stop()
            except Exception:
                log.exception("stopping %s failed", runtime.workspace.root)

    def get(self, root: Path) -> WorkspaceRuntime:
        return self.workspaces[root]

    @property
    def only(self) -> WorkspaceRuntime:
        """The single workspace of an --open server."""
        return next(iter(self.workspaces.values()))
