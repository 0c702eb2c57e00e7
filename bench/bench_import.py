"""Import throughput and memory: N synthetic events as Parquet and as NDJSON.

    python bench/bench_import.py --events 10000000
    python bench/bench_import.py --events 200000 --forms ndjson

Files are generated first (not timed) with DuckDB's COPY into a temporary
folder. Each form is then imported into a fresh DuckDB warehouse file by a
child process, which reports its wall time and its peak RSS (the kernel's
``ru_maxrss``, exact, no sampling) and CPU time (user + system, all
threads: on a shared machine it says what the import costs whatever else
runs). The import runs with ``refresh_rollups=False`` and the rollup refresh
(``refresh_rollups_after_import``, what ``import_path`` runs after its
files) is timed right after it as its own step: the "import"
columns end when the events are durable, the "refresh" columns are the rest
of what ``impactlens import`` takes, and "total events/s" covers both. The
result is a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

# One synthetic Segment track event per row; ~5% have no context.groupId and
# resolve their account from users, 1% are duplicates of an earlier messageId.
_ROWS = """
SELECT
  'm-' || CAST(CASE WHEN i % 100 = 99 THEN i - 50 ELSE i END AS VARCHAR) AS message_id,
  TIMESTAMP '2026-01-01' + to_microseconds(CAST(i AS BIGINT) * 250000) AS ts,
  ['Search Performed', 'Report Created', 'Export Finished', 'Page Loaded', 'Dashboard Viewed'][1 + i % 5] AS event,
  'u' || CAST(i % 50000 AS VARCHAR) AS user_id,
  CASE WHEN i % 20 = 0 THEN NULL ELSE 'acct-' || CAST(i % 50000 // 25 AS VARCHAR) END AS account_id,
  i % 97 AS n,
  ['free', 'pro', 'enterprise'][1 + i % 3] AS plan
FROM range({n}) AS t(i)
"""

_PARQUET = """
COPY (SELECT message_id, ts AS timestamp, event, user_id, account_id,
             CAST(to_json({{'n': n, 'plan': plan}}) AS VARCHAR) AS properties FROM ({rows}))
TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
"""

_NDJSON = """
COPY (SELECT 'track' AS type, event, user_id AS userId,
             strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp, message_id AS messageId,
             CASE WHEN account_id IS NULL THEN NULL ELSE {{'groupId': account_id}} END AS context,
             {{'n': n, 'plan': plan}} AS properties FROM ({rows}))
TO '{path}' (FORMAT json)
"""

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from impactlens.ingest import import_path
    from impactlens.warehouse import Warehouse
    from impactlens.ingest.importer import refresh_rollups_after_import

    db, path, repeat = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    wh = Warehouse.connect("duckdb://" + db)
    wh.ensure_schema()
    results = []
    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), cpu()
        report = import_path(wh, path, refresh_rollups=False)
        elapsed, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
        started, cpu_started = time.perf_counter(), cpu()
        refresh_rollups_after_import(wh)
        refresh, refresh_cpu = time.perf_counter() - started, cpu() - cpu_started
        f = report.files[0]
        assert f.status == "loaded", f.to_dict()
        results.append({"seconds": elapsed, "cpu": cpu_seconds, "read": f.rows_read, "loaded": f.rows_loaded,
                        "duplicate": f.rows_duplicate, "rejected": f.rows_rejected,
                        "refresh": refresh, "refresh_cpu": refresh_cpu})
    wh.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"runs": results, "peak_rss_mb": peak_kb / 1024}))
    """
)


def generate(folder: Path, n: int, forms: list[str]) -> dict[str, Path]:
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    rows = _ROWS.format(n=n)
    paths = {}
    for form in forms:
        path = folder / f"events.{form}"
        template = _PARQUET if form == "parquet" else _NDJSON
        con.execute(template.format(rows=rows, path=path))
        paths[form] = path
    con.close()
    return paths


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, duckdb {duckdb.__version__}; "
            f"load average {load:.1f} at the start")  # fmt: skip


def run_child(workdir: Path, form: str, path: Path, repeat: int) -> dict:
    script = workdir / "child.py"
    script.write_text(_CHILD)
    db = workdir / f"bench-{form}.duckdb"
    out = subprocess.run([sys.executable, str(script), str(db), str(path), str(repeat)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--forms", default="parquet,ndjson")
    parser.add_argument("--reimport", action="store_true", help="import each file a second time")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        paths = generate(workdir, args.events, forms)
        print(f"generated {args.events:,} events in {time.perf_counter() - started:.1f}s (not timed)",
              file=sys.stderr)  # fmt: skip
        lines = [f"Machine: {machine()}", "",
                 "| form | events | file | run | import wall s | import events/s | import CPU s "
                 "| refresh wall s | refresh CPU s | total events/s | loaded | duplicate | peak RSS |",
                 "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for form in forms:
            result = run_child(workdir, form, paths[form], 2 if args.reimport else 1)
            size = paths[form].stat().st_size / 2**20
            for i, run in enumerate(result["runs"]):
                rate = run["read"] / run["seconds"]
                label = "first import" if i == 0 else "re-import (all duplicates)"
                total = run["read"] / (run["seconds"] + run["refresh"])
                lines.append(
                    f"| {form} | {run['read']:,} | {size:,.0f} MB | {label} | {run['seconds']:.1f} | "
                    f"{rate:,.0f} | {run['cpu']:.1f} | {run['refresh']:.2f} | {run['refresh_cpu']:.2f} | "
                    f"{total:,.0f} | {run['loaded']:,} | {run['duplicate']:,} | "
                    f"{result['peak_rss_mb']:,.0f} MB |"
                )
            print(lines[-1], file=sys.stderr)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
