"""Build the demo company end to end: generate contract files, make a workspace, import them.

The import goes through the real import path (the same call as
``impactlens import``, pair tables of the demo's metrics.yaml included), so the
demo exercises what a user's data would.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from impactlens.config import Workspace, init_workspace

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class DemoRun:
    """Where the demo workspace is and what went into it."""

    workspace: Workspace
    data_dir: Path
    truth_path: Path
    manifest: Any
    import_report: Any
    pair_tables: Any = None  # service.imports.PairTablesReport


def build_demo(
    root: Path, *, size: str = "small", seed: int = 7, progress: Progress | None = None
) -> DemoRun:
    """Generate the demo company into ``root/data`` and import it into a workspace at ``root``.

    An existing demo warehouse at ``root`` is replaced, so running the demo
    twice gives the same workspace.
    """
    from impactlens.demo import generate_company
    from impactlens.service.imports import import_workspace

    root = root.resolve()
    data_dir = root / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    state = root / ".impactlens"
    if state.exists():
        shutil.rmtree(state)

    def generation_progress(step: str, fraction: float) -> None:
        if progress is not None:
            progress(f"generating: {step}", int(fraction * 1000), 1000)

    manifest = generate_company(data_dir, size=size, seed=seed, progress=generation_progress)  # type: ignore[arg-type]
    workspace = init_workspace(root, force=True)
    demo_metrics = resources.files("impactlens.demo").joinpath("metrics.yaml")
    if demo_metrics.is_file():
        (root / "metrics.yaml").write_text(demo_metrics.read_text())
    warehouse = workspace.connect()
    try:
        result = import_workspace(warehouse, workspace, data_dir, progress=progress)
    finally:
        warehouse.close()
    return DemoRun(
        workspace, data_dir, data_dir / "truth.json", manifest, result.report, result.pair_tables
    )
