"""Import into a workspace: the files, then the pair tables its metrics.yaml needs.

A duration metric with ``within`` reads a pair table (warehouse/rollups.py) once
its definition is kept. ``import_workspace`` keeps exactly the definitions of the
workspace's current metrics.yaml: it drops the others before the files (so this
import refreshes none of them) and builds the missing ones after (from all
events, on the connection that imports). A metrics.yaml that cannot be read never
fails the import: an invalid one leaves the pair tables as they were, a missing
one means no metric (every definition is dropped); the report says which.

>>> result = import_workspace(warehouse, workspace, Path("data/"))  # doctest: +SKIP
>>> result.pair_tables.kept  # doctest: +SKIP
('["Report Created", "Report Exported", "user", 86400]',)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from impactlens.config import Workspace
from impactlens.errors import UserError
from impactlens.ingest import ImportReport, import_path
from impactlens.metrics import MetricCatalog, load_metrics
from impactlens.metrics.planner import catalog_pairs, forget_unused_pairs, keep_pairs
from impactlens.warehouse.rollups import pairs_kept

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class PairTablesReport:
    """What keeping the pair tables of metrics.yaml did.

    ``kept``: the definitions metrics.yaml's duration metrics use (now built and
    kept); ``built``: those of them built by this call; ``dropped``: definitions
    no metric uses, deleted with their pairs; ``problem``: why metrics.yaml was
    not read (then ``kept`` and ``built`` are empty, and ``dropped`` too unless
    the file is missing).
    """

    kept: tuple[str, ...] = ()
    built: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    seconds: float = 0.0
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "kept": list(self.kept),
            "built": list(self.built),
            "dropped": list(self.dropped),
            "seconds": round(self.seconds, 3),
            "problem": self.problem,
        }


@dataclass(frozen=True)
class WorkspaceImport:
    """The import report of the files and what happened to the pair tables."""

    report: ImportReport
    pair_tables: PairTablesReport

    @property
    def ok(self) -> bool:
        return self.report.ok

    def to_dict(self) -> dict[str, object]:
        return {**self.report.to_dict(), "pair_tables": self.pair_tables.to_dict()}


def current_metrics(workspace: Workspace) -> tuple[MetricCatalog | None, str | None]:
    """The workspace's metrics.yaml (None and the reason when it is invalid); a missing
    file is an empty catalog, with a note."""
    path = workspace.metrics_path
    if not path.exists():
        return MetricCatalog(()), f"{path} does not exist: no metric keeps a pair table"
    try:
        return load_metrics(path), None
    except (UserError, OSError, UnicodeDecodeError) as exc:  # invalid, unreadable, not text
        return None, f"{path} was not read, the pair tables are left as they were: {exc}"


def import_workspace(
    warehouse: Any,
    workspace: Workspace,
    path: Path,
    *,
    on_error: Literal["skip", "fail"] | None = None,
    progress: Progress | None = None,
) -> WorkspaceImport:
    """Import ``path`` (``import_path``), then keep the pair tables of metrics.yaml."""
    catalog, problem = current_metrics(workspace)
    started = time.perf_counter()
    dropped = () if catalog is None else tuple(forget_unused_pairs(warehouse, catalog))
    spent = time.perf_counter() - started
    report = import_path(
        warehouse,
        path,
        on_error=on_error,
        reserved=workspace.config.reserved_events,
        progress=progress,
    )
    return WorkspaceImport(report, _keep(warehouse, catalog, problem, dropped, spent))


def keep_workspace_pairs(warehouse: Any, workspace: Workspace) -> PairTablesReport:
    """Keep exactly the pair tables of the workspace's metrics.yaml, in one transaction
    (the server's loader calls it after a batch when metrics.yaml changed)."""
    catalog, problem = current_metrics(workspace)
    started = time.perf_counter()
    with warehouse.transaction():
        dropped = () if catalog is None else tuple(forget_unused_pairs(warehouse, catalog))
        done = _keep(warehouse, catalog, problem, dropped, 0.0)
    return replace(done, seconds=time.perf_counter() - started)


def _keep(
    warehouse: Any,
    catalog: MetricCatalog | None,
    problem: str | None,
    dropped: tuple[str, ...],
    spent: float,
) -> PairTablesReport:
    """Build the definitions of ``catalog`` not kept yet (``spent``: seconds already taken)."""
    if catalog is None:
        return PairTablesReport(dropped=dropped, seconds=spent, problem=problem)
    started = time.perf_counter()
    built = tuple(key for key in catalog_pairs(catalog) if not pairs_kept(warehouse, key))
    kept = tuple(keep_pairs(warehouse, catalog))
    return PairTablesReport(kept, built, dropped, spent + time.perf_counter() - started, problem)
