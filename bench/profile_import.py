"""Where one import's time goes: each step of the import path timed (wall and CPU).

    python bench/profile_import.py WAREHOUSE.duckdb FILE [REPEAT]

Imports FILE (e.g. one written by bench_import.py's generator) into a fresh
DuckDB warehouse REPEAT times (default 1; the second run is a re-import) with
the importer's steps wrapped by timers: checking, staging, every warehouse
statement, the rollup refresh (after the file's transaction, as in
``impactlens import``). CPU is the whole process's during a step, so
steps that overlap with the checking threads include their CPU.
"""

from __future__ import annotations

import collections
import functools
import resource
import sys
import time
from pathlib import Path
from typing import Any

import impactlens.ingest.event_load as event_load
import impactlens.ingest.importer as importer
from impactlens.ingest import import_path
from impactlens.warehouse import Warehouse

TIMES: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str | None, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        label = name or f"{fn.__name__}: {args[1].sql('duckdb')[:60]}"
        started, cpu_started = time.perf_counter(), cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            row = TIMES[label]
            row[0] += time.perf_counter() - started
            row[1] += cpu() - cpu_started
            row[2] += 1

    return wrapper


def instrument() -> None:
    Warehouse.query_arrow = timed(None, Warehouse.query_arrow)
    Warehouse.execute_statement = timed(None, Warehouse.execute_statement)
    importer.check_flat = timed("check_flat (threads)", importer.check_flat)
    importer.extract_lines = timed("extract_lines (threads)", importer.extract_lines)
    event_load.check_messages = timed("check_messages", event_load.check_messages)
    event_load.EventLoad._stage = timed("_stage (spool)", event_load.EventLoad._stage)
    event_load.mark_pending = timed("mark_pending", event_load.mark_pending)
    importer.refresh_pending = timed("refresh_pending (after the file)", importer.refresh_pending)


def main() -> None:
    db, path = Path(sys.argv[1]), Path(sys.argv[2])
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    db.unlink(missing_ok=True)
    instrument()
    warehouse = Warehouse.connect(f"duckdb://{db}")
    warehouse.ensure_schema()
    for run in range(repeat):
        TIMES.clear()
        started, cpu_started = time.perf_counter(), cpu()
        f = import_path(warehouse, path).files[0]
        print(f"run {run}: wall {time.perf_counter() - started:.2f}s cpu {cpu() - cpu_started:.2f}s "
              f"read {f.rows_read:,} loaded {f.rows_loaded:,} duplicate {f.rows_duplicate:,}")  # fmt: skip
        for label, (wall, cpu_s, n) in sorted(TIMES.items(), key=lambda kv: -kv[1][0]):
            print(f"  {wall:7.2f}s wall {cpu_s:7.2f}s cpu x{n:<4} {label}")
    warehouse.close()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
