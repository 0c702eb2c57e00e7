"""Time `impactlens demo` (small) and its pieces: generation, import, review.

    python bench/demo_pieces.py

Runs the CLI's ``demo`` command in process (Typer's runner, ``--json``) into a
temporary folder, with generation, import and the review wrapped by timers.
Wall and CPU seconds per piece (CPU: this process and its children), the whole
command, and the peak RSS. The issue's bar: the whole small demo under 60 s on
two cores.
"""

from __future__ import annotations

import functools
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import impactlens.demo as demo_pkg
import impactlens.ingest as ingest_pkg
import impactlens.service.review as review_mod

TIMES: dict[str, tuple[float, float]] = {}


def cpu() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, used = time.perf_counter(), cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            before = TIMES.get(name, (0.0, 0.0))
            TIMES[name] = (before[0] + time.perf_counter() - wall, before[1] + cpu() - used)

    return wrapper


def main() -> None:
    # Patched where the demo looks them up, before the CLI imports them.
    demo_pkg.generate_company = timed("generation", demo_pkg.generate_company)
    ingest_pkg.import_path = timed("import", ingest_pkg.import_path)
    review_mod.build_review = timed("review (build)", review_mod.build_review)
    from typer.testing import CliRunner

    from impactlens.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        wall, used = time.perf_counter(), cpu()
        result = CliRunner().invoke(app, ["demo", str(Path(tmp) / "ws"), "--json"])
        total = time.perf_counter() - wall
        assert result.exit_code == 0, result.output
        for name, (w, c) in TIMES.items():
            print(f"{name:16s} wall {w:6.1f}s cpu {c:6.1f}s")
        print(
            f"{'whole demo':16s} wall {total:6.1f}s cpu {cpu() - used:6.1f}s (in process, --json)"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
