"""What the events table's string compression costs an import: INSERT time vs disk size.

    python bench/import_compression.py --events 2000000

Generates N events as Parquet with bench_import's generator (not timed), then,
for each compression setting, INSERTs them into an empty ``events`` table of a
fresh DuckDB file (with COMMIT and CHECKPOINT, as an import pays) and prints
wall time, CPU time and the file size. docs/benchmarks.md ("Import") records
a run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from bench_import import generate  # noqa: E402

COLUMNS = (
    "message_id VARCHAR, timestamp TIMESTAMP, type VARCHAR, event VARCHAR, user_id VARCHAR, "
    "anonymous_id VARCHAR, actor_id VARCHAR, account_id VARCHAR, properties VARCHAR, "
    "received_at TIMESTAMP"
)
PROPS = "properties VARCHAR"
VARIANTS = {
    "default": ("", COLUMNS),
    "props fsst": ("", COLUMNS.replace(PROPS, PROPS + " USING COMPRESSION fsst")),
    "props uncompressed": ("", COLUMNS.replace(PROPS, PROPS + " USING COMPRESSION uncompressed")),
    "disable dict_fsst": ("SET disabled_compression_methods='dict_fsst'", COLUMNS),
    "all fsst (force)": ("SET force_compression='fsst'", COLUMNS),
    "all uncompressed (force)": ("SET force_compression='uncompressed'", COLUMNS),
}
INSERT = (
    "INSERT INTO events SELECT message_id, timestamp, 'track', event, user_id, NULL, user_id, "
    "account_id, properties, now()::TIMESTAMP FROM read_parquet(?)"
)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = generate(Path(tmp), args.events, ["parquet"])["parquet"]
        print(f"{args.events:,} events, load average {os.getloadavg()[0]:.1f} at the start")
        for name, (setting, columns) in VARIANTS.items():
            db = Path(tmp) / f"{len(name)}-{abs(hash(name))}.duckdb"
            con = duckdb.connect(str(db))
            con.execute("SET preserve_insertion_order = false")
            if setting:
                con.execute(setting)
            con.execute(f"CREATE TABLE events ({columns})")
            con.execute("CHECKPOINT")
            started, cpu_started = time.perf_counter(), cpu()
            con.execute("BEGIN")
            con.execute(INSERT, [str(source)])
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
            wall, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
            con.close()
            size = db.stat().st_size / 2**20
            print(f"| {name} | {wall:.2f} | {cpu_seconds:.2f} | {size:.1f} MB |", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
