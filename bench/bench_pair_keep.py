"""Benchmark: what keeping the pair tables of metrics.yaml adds to an import (issue #3).

    flock /tmp/il-bench.lock python bench/bench_pair_keep.py --size small

1. Builds the demo company (``build_demo``, no review): its import now ends by
   building the pairs of the demo's duration metric (time_to_export); prints that
   step's seconds next to the import's.
2. On that warehouse, ``keep_workspace_pairs`` when nothing changed (what every
   later import pays), best of 5; after time_to_export leaves metrics.yaml (drops
   its definition and pairs); after it comes back (a full build from all events).
3. ``import_workspace`` of one more day of events (a new file): the pair step's
   seconds beside the files' and the rollup refresh's.

Prints the machine, the DuckDB version and the 1-minute load average with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["tiny", "small", "large"])
    parser.add_argument("--root", type=Path, default=Path("/tmp/il-bench-pair-keep"))
    args = parser.parse_args()

    import duckdb

    from impactlens.service.demo import build_demo
    from impactlens.service.imports import import_workspace, keep_workspace_pairs
    from impactlens.warehouse.schema import PAIRS_TABLE

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"DuckDB {duckdb.__version__}")  # fmt: skip
    t = time.perf_counter()
    load_before = load()
    run = build_demo(args.root, size=args.size, seed=7)
    demo_s = time.perf_counter() - t
    pairs = run.pair_tables
    report = run.import_report
    print(f"demo {args.size}: {report.rows_loaded:,} rows in {demo_s:.1f} s (load {load_before:.2f}"
          f" before, {load():.2f} after); rollup refresh {report.rollup_seconds:.2f} s; pair "
          f"tables: {len(pairs.built)} built in {pairs.seconds:.2f} s")  # fmt: skip

    ws = run.workspace
    metrics = ws.metrics_path.read_text()
    wh = ws.connect()
    try:
        rows = wh.count(PAIRS_TABLE)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            keep_workspace_pairs(wh, ws)
            times.append(time.perf_counter() - t)
        print(f"nothing changed: best {min(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms "
              f"of 5 (load {load():.2f}); {rows:,} pairs kept")  # fmt: skip

        cut = metrics.index("  - name: time_to_export")
        rest = metrics[cut + 1 :]
        nxt = rest.find("\n  - name:")
        ws.metrics_path.write_text(metrics[:cut] + (rest[nxt + 1 :] if nxt >= 0 else ""))
        t = time.perf_counter()
        gone = keep_workspace_pairs(wh, ws)
        print(f"time_to_export removed: {len(gone.dropped)} dropped in "
              f"{time.perf_counter() - t:.2f} s (load {load():.2f}); "
              f"{wh.count(PAIRS_TABLE):,} pairs left")  # fmt: skip
        ws.metrics_path.write_text(metrics)
        t = time.perf_counter()
        back = keep_workspace_pairs(wh, ws)
        print(f"time_to_export back: {len(back.built)} built in {time.perf_counter() - t:.2f} s "
              f"(load {load():.2f}); {wh.count(PAIRS_TABLE):,} pairs")  # fmt: skip

        last = wh.table("events").timestamp.max().to_pyarrow().as_py()
        day = datetime(last.year, last.month, last.day) + timedelta(days=1)
        actors = wh.table("events").actor_id.to_pyarrow().to_pylist()[:500]
        path = args.root / "extra" / "events-extra.ndjson"
        path.parent.mkdir(exist_ok=True)
        lines = []
        for i, actor in enumerate(actors):
            event = ["Report Created", "Report Exported", "Session Started"][i % 3]
            ts = day + timedelta(seconds=170 * i)
            lines.append(json.dumps({"type": "track", "event": event, "userId": actor,
                                     "messageId": f"extra-{i}", "timestamp": ts.isoformat() + "Z"}))  # fmt: skip
        path.write_text("\n".join(lines) + "\n")
        t = time.perf_counter()
        result = import_workspace(wh, ws, path)
        total = time.perf_counter() - t
        r, p = result.report, result.pair_tables
        print(f"import of {r.rows_loaded} events of one more day: {total:.2f} s, of which rollup "
              f"refresh {r.rollup_seconds:.2f} s, pair tables {p.seconds * 1000:.1f} ms "
              f"(load {load():.2f})")  # fmt: skip
    finally:
        wh.close()


if __name__ == "__main__":
    sys.exit(main())
