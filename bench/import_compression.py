"""What the events table's string compression costs an import: INSERT time vs disk size.

    python bench/import_compression.py --events 2000000
    python bench/import_compression.py --events 2000000 --what columns,order,dedupe

Generates N events as Parquet with bench_import's generator (not timed), then,
for each variant, INSERTs them into a table of a fresh DuckDB file (with
COMMIT and CHECKPOINT, as an import pays) and prints wall time, CPU time and
the file size. ``--what``:

- ``compression``: the whole ``events`` table under each compression setting;
- ``columns``: one column at a time into a one-column table (which column the
  write cost comes from);
- ``order``: rows inserted as read vs sorted by (event, timestamp);
- ``dedupe``: the importer's anti-join against stored ``message_id``s, into an
  empty table and into one already holding N other events, vs a plain INSERT,
  and the same keyed on a 128-bit hash (``md5_number``) in a key table.

docs/benchmarks.md ("Import") records the runs.
"""

# ruff: noqa: S608  (SQL built from this script's constants and its own temp file)
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


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# The events as the importer stages them (actor and received_at added).
STAGED = (
    "SELECT message_id, timestamp, 'track' AS type, event, user_id, NULL::VARCHAR AS anonymous_id, "
    "user_id AS actor_id, account_id, properties, now()::TIMESTAMP AS received_at "
    "FROM read_parquet('{source}')"
)
# Other events with other message_ids, to fill a table before a dedupe run.
OTHERS = STAGED.replace("SELECT message_id,", "SELECT 'old-' || message_id AS message_id,")
NEW = "SELECT s.* FROM ({staged}) AS s"
ANTI = NEW + " WHERE NOT EXISTS (SELECT 1 FROM events AS e WHERE e.message_id = s.message_id)"
ANTI_KEYS = (
    NEW + " WHERE NOT EXISTS (SELECT 1 FROM _keys AS k WHERE k.h = md5_number(s.message_id))"
)


def variants(what: str, staged: str, others: str) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (setup statements, timed statements)."""
    if what == "compression":
        return {
            name: (([setting] if setting else []) + [f"CREATE TABLE events ({columns})"],
                   [f"INSERT INTO events {NEW.format(staged=staged)}"])
            for name, (setting, columns) in VARIANTS.items()
        }  # fmt: skip
    if what == "columns":
        out = {}
        for column in COLUMNS.split(", "):
            name, kind = column.split(" ")
            out[name] = (
                [f"CREATE TABLE events ({column})"],
                [f"INSERT INTO events SELECT {name} FROM ({staged})"],
            )
        out["all columns"] = (
            [f"CREATE TABLE events ({COLUMNS})"],
            [f"INSERT INTO events {NEW.format(staged=staged)}"],
        )
        return out
    if what == "order":
        return {
            "as read": (
                [f"CREATE TABLE events ({COLUMNS})"],
                [f"INSERT INTO events {NEW.format(staged=staged)}"],
            ),
            "sorted by (event, timestamp)": (
                [f"CREATE TABLE events ({COLUMNS})"],
                [f"INSERT INTO events {NEW.format(staged=staged)} ORDER BY event, timestamp"],
            ),
        }
    create = f"CREATE TABLE events ({COLUMNS})"
    fill = f"INSERT INTO events {others}"
    keys = "CREATE TABLE _keys (h UHUGEINT)"
    fill_keys = "INSERT INTO _keys SELECT md5_number(message_id) FROM events"
    insert_keys = f"INSERT INTO _keys SELECT md5_number(message_id) FROM ({staged})"
    return {
        "empty table, plain INSERT": (
            [create],
            [f"INSERT INTO events {NEW.format(staged=staged)}"],
        ),
        "empty table, anti-join": ([create], [f"INSERT INTO events {ANTI.format(staged=staged)}"]),
        "N stored, plain INSERT": (
            [create, fill],
            [f"INSERT INTO events {NEW.format(staged=staged)}"],
        ),
        "N stored, anti-join on message_id": (
            [create, fill],
            [f"INSERT INTO events {ANTI.format(staged=staged)}"],
        ),
        "N stored, anti-join on a 128-bit hash key table": (
            [create, fill, keys, fill_keys],
            [f"INSERT INTO events {ANTI_KEYS.format(staged=staged)}", insert_keys],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--what", default="compression")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = generate(Path(tmp), args.events, ["parquet"])["parquet"]
        staged, others = STAGED.format(source=source), OTHERS.format(source=source)
        print(f"{args.events:,} events, load average {os.getloadavg()[0]:.1f} at the start")
        for what in args.what.split(","):
            print(f"| {what} | wall s | CPU s | file |")
            for name, (setup, timed) in variants(what, staged, others).items():
                db = Path(tmp) / f"{len(name)}-{abs(hash(name))}.duckdb"
                con = duckdb.connect(str(db))
                con.execute("SET preserve_insertion_order = false")
                for statement in setup:
                    con.execute(statement)
                con.execute("CHECKPOINT")
                started, cpu_started = time.perf_counter(), cpu()
                con.execute("BEGIN")
                for statement in timed:
                    con.execute(statement)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
                wall, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
                con.close()
                size = db.stat().st_size / 2**20
                print(f"| {name} | {wall:.2f} | {cpu_seconds:.2f} | {size:.1f} MB |", flush=True)
                db.unlink()
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
