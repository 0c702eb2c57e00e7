"""Benchmark: every metric of the demo's metrics.yaml, daily over 180 days, on synthetic events.

    python bench/bench_metrics.py --events 50000000        # default: $IMPACTLENS_BENCH_EVENTS or 50M

1. Generates sessions of events (bench/metrics_data.py), writes Parquet and a
   DuckDB warehouse, builds the hourly rollup (timed: that is its import cost)
   and times an incremental refresh for one day of new events.
2. In a fresh process per contender (so peak RSS is its own): impactlens (all
   metrics; revenue by month), hand-written DuckDB SQL, polars over Parquet and
   plain pandas (data already loaded) for the heavy metrics. Each query runs
   ``--repeat`` times; "repeat" is the best of the runs after the first.
3. Prints Markdown tables for docs/benchmarks.md ("Metrics").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO = HERE.parent
DEMO_METRICS = REPO / "src" / "impactlens" / "demo" / "metrics.yaml"


class PeakRss:
    """Samples this process's resident set every 20 ms (the kernel's high-water marks
    here can carry the parent's peak across exec, so they are not used)."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.peak = 0
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self._proc.memory_info().rss) / 2**20


def timed(fn, repeat: int, values=None) -> dict:
    """First and best-of-the-rest seconds; with ``values``, also the last answer as {day: value}
    (converted after the clock stops), so the report can check the contenders agree."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    out = {"first": times[0], "repeat": min(times[1:]) if len(times) > 1 else times[0]}
    if values is not None:
        out["values"] = values(result)
    return out


def frame_values(frame) -> dict:
    rows = frame.table.select(["period_start", "value"]).to_pylist()
    return {r["period_start"].isoformat(): r["value"] for r in rows}


def prepare(folder: Path, events: int) -> dict:
    import metrics_data
    import pyarrow.parquet as pq

    from impactlens.metrics import load_metrics
    from impactlens.metrics.planner import keep_pairs
    from impactlens.warehouse import Warehouse
    from impactlens.warehouse.rollups import rebuild_rollups, refresh_after_import

    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("target") == events:
        info = json.loads(manifest.read_text())
        upgraded = upgrade(folder)
        if upgraded:
            info.update(upgraded)
            manifest.write_text(json.dumps(info))
        return info
    t = time.perf_counter()
    tables = metrics_data.generate(events)
    metrics_data.write(tables, folder)
    generated = time.perf_counter() - t
    db = folder / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    wh = Warehouse.connect(f"duckdb://{db}")
    wh.ensure_schema()
    t = time.perf_counter()
    for name in tables:
        wh.backend.insert(name, wh.backend.read_parquet(str(folder / f"{name}.parquet")))
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    rebuild_rollups(wh)
    keep_pairs(wh, load_metrics(DEMO_METRICS))
    full = time.perf_counter() - t
    # An import of one more day of events: the rollup refresh for that day alone.
    last = pq.read_table(folder / "events.parquet", columns=["timestamp"]).column(0)
    hi = max(last.to_pylist()[-1000:])
    t = time.perf_counter()
    refresh_after_import(wh, hi - timedelta(days=1), hi)
    incremental = time.perf_counter() - t
    info = {
        "target": events,
        "events": wh.count("events"),
        "rollup_rows": wh.count("_impactlens_event_hourly"),
        "generate_s": generated,
        "load_s": loaded,
        "rollup_full_s": full,
        "rollup_one_day_s": incremental,
    }
    wh.close()
    manifest.write_text(json.dumps(info))
    return info


def upgrade(folder: Path) -> dict:
    """Bring a reused warehouse to this code's schema (its migrations rebuild the rollups)
    and register the demo's pair tables; {} when nothing was to do."""
    from impactlens.metrics import load_metrics
    from impactlens.metrics.planner import keep_pairs
    from impactlens.warehouse import SCHEMA_VERSION, Warehouse
    from impactlens.warehouse.rollups import pair_definitions

    wh = Warehouse.connect(f"duckdb://{folder / 'warehouse.duckdb'}")
    try:
        before = wh.schema_version()
        t = time.perf_counter()
        wh.ensure_schema()
        migrated = time.perf_counter() - t
        known = {d["pair_key"] for d in pair_definitions(wh)}
        t = time.perf_counter()
        keys = keep_pairs(wh, load_metrics(DEMO_METRICS))
        paired = time.perf_counter() - t
    finally:
        wh.close()
    out = {}
    if before != SCHEMA_VERSION:
        out[f"migrated_from_{before}_s"] = migrated
    if set(keys) - known:
        out["pairs_registered_s"] = paired
    return out


def measure_rollup(folder: Path) -> dict:
    """The import-time cost of each derived table, measured again on a copy of the warehouse.

    Full: each rollup rebuilt from scratch in the order an import writes them (hourly from
    events; activity and counts from the hourly rollup; the registered pair tables from
    events). One day: what an import of a day of events pays (``refresh_after_import``
    over the last day's hours: delete, recompute from events in that range, the pair
    tables from the day before it on, then the freshness check), and the pair tables'
    share of it timed alone.
    """
    import shutil

    import sqlglot as sg

    from impactlens.warehouse import Warehouse
    from impactlens.warehouse.rollups import _build, refresh_after_import, refresh_pairs

    copy = folder / "rollup-cost.duckdb"
    shutil.copyfile(folder / "warehouse.duckdb", copy)
    try:
        wh = Warehouse.connect(f"duckdb://{copy}")
        wh.ensure_schema()  # a warehouse built before a rollup existed gets it (not timed)
        load = os.getloadavg()[0]
        full = {}
        for table, build in _build(wh, None, None):
            t = time.perf_counter()
            wh.execute_statement(sg.delete(sg.table(table, quoted=True)))
            wh.backend.insert(table, build())
            full[table] = time.perf_counter() - t
        t = time.perf_counter()
        refresh_pairs(wh, None, None)
        full["pairs"] = time.perf_counter() - t
        events = wh.table("events")
        hi = events.timestamp.max().to_pyarrow().as_py()
        t = time.perf_counter()
        refresh_after_import(wh, hi - timedelta(days=1), hi)
        one_day = time.perf_counter() - t
        lo_hour = (hi - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        t = time.perf_counter()
        refresh_pairs(
            wh, lo_hour, hi.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        )
        pairs_one_day = time.perf_counter() - t
        wh.close()
    finally:
        copy.unlink(missing_ok=True)
    return {
        "rollup_full_s": sum(full.values()),
        "rollup_full_parts_s": full,
        "rollup_one_day_s": one_day,
        "pairs_one_day_s": pairs_one_day,
        "rollup_measured": f"again on a copy, load average {load:.2f} at the start",
    }


def run_impactlens(folder: Path, repeat: int, start: date, end: date) -> dict:
    from metrics_contenders import HEAVY, TZ

    from impactlens.metrics import load_metrics, metric_series
    from impactlens.warehouse import Warehouse

    wh = Warehouse.connect(f"duckdb://{folder / 'warehouse.duckdb'}", read_only=True)
    catalog = load_metrics(DEMO_METRICS)
    out = {}
    for metric in catalog:
        grain = "month" if metric.kind == "revenue" else "day"
        s, e = (date(2026, 1, 1), date(2026, 7, 1)) if grain == "month" else (start, end)

        def query(metric=metric, grain=grain, s=s, e=e, source="auto"):
            return metric_series(
                wh, metric, grain=grain, start=s, end=e, timezone=TZ, catalog=catalog, source=source
            )

        heavy = metric.name in HEAVY
        out[metric.name] = timed(query, repeat, frame_values if heavy else None)
        if heavy:
            out[metric.name + " (raw events)"] = timed(lambda q=query: q(source="events"), repeat)
    return out


def run_duckdb_sql(folder: Path, repeat: int, start: date, end: date) -> dict:
    import duckdb
    from metrics_contenders import HEAVY, as_values, duckdb_sql

    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    return {
        m: timed(lambda m=m: con.sql(duckdb_sql(m, start, end)).fetchall(), repeat, as_values)
        for m in HEAVY
    }


def run_polars(folder: Path, repeat: int, start: date, end: date) -> dict:
    from metrics_contenders import HEAVY, as_values, polars_query

    path = str(folder / "events.parquet")
    return {
        m: timed(lambda m=m: polars_query(m, path, start, end).collect(), repeat, as_values)
        for m in HEAVY
    }


def run_pandas(folder: Path, repeat: int, start: date, end: date) -> dict:
    import pandas as pd
    from metrics_contenders import HEAVY, as_values, pandas_query

    t = time.perf_counter()
    # account_id (search_adoption only) as a categorical: 50M Python strings would not fit.
    df = pd.read_parquet(
        folder / "events.parquet",
        columns=["timestamp", "event", "actor_id", "account_id"],
        read_dictionary=["account_id"],
    )
    out = {"(load parquet)": {"first": time.perf_counter() - t, "repeat": time.perf_counter() - t}}
    for m in HEAVY:
        out[m] = timed(lambda m=m: pandas_query(m, df, start, end), min(repeat, 2), as_values)
    return out


CONTENDERS = {
    "impactlens": run_impactlens,
    "duckdb_sql": run_duckdb_sql,
    "polars": run_polars,
    "pandas": run_pandas,
}


def child(name: str, folder: Path, repeat: int) -> None:
    import metrics_data

    end = metrics_data.end_date()
    start = end - timedelta(days=180)
    rss = PeakRss()
    t = time.perf_counter()
    result = CONTENDERS[name](folder, repeat, start, end)
    wall = time.perf_counter() - t
    print(json.dumps({"name": name, "times": result, "wall_s": wall, "peak_rss_mb": rss.stop_mb()}))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=int(os.environ.get("IMPACTLENS_BENCH_EVENTS", 50_000_000))
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("IMPACTLENS_BENCH_DIR", "/tmp/il-bench"))
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(CONTENDERS))
    parser.add_argument(
        "--remeasure-rollup",
        action="store_true",
        help="when reusing generated data, time the rollup build and one-day refresh again",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.dir / f"events-{args.events}"
    if args.child:
        child(args.child, folder, args.repeat)
        return 0
    info = prepare(folder, args.events)
    if args.remeasure_rollup:
        info = {**info, **measure_rollup(folder)}
    results = {}
    for name in args.only:
        load_before = os.getloadavg()[0]
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--events",
                str(args.events),
                "--dir",
                str(args.dir),
                "--repeat",
                str(args.repeat),
                "--child",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name]["load"] = (load_before, os.getloadavg()[0])
    report(info, results)
    return 0


def report(info: dict, results: dict) -> None:
    import duckdb
    import ibis
    import pandas
    import polars
    from metrics_contenders import HEAVY

    cpu = platform.processor() or platform.machine()
    print(
        f"Machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; DuckDB {duckdb.__version__}, Ibis "
        f"{ibis.__version__}, polars {polars.__version__}, pandas {pandas.__version__}"
    )
    print(
        f"\nEvents: {info['events']:,}; hourly rollup rows: {info['rollup_rows']:,} "
        f"({info['events'] / max(info['rollup_rows'], 1):.1f} events per row)"
    )
    print(
        f"Load into DuckDB: {info['load_s']:.1f} s; rollup build (full): {info['rollup_full_s']:.1f} s; "
        f"rollup refresh for one day of new events: {info['rollup_one_day_s']:.2f} s "
        f"({info.get('rollup_measured', 'when the data was built')})"
    )
    parts = info.get("rollup_full_parts_s", {})
    if parts:
        print(
            "Full build per table: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items())
            + f"; pair tables' share of the one-day refresh: {info['pairs_one_day_s']:.2f} s"
        )
    print()
    print(
        "| contender | wall (s) | peak RSS (MB) | 1-min load average before / after |\n"
        "|---|---:|---:|---|"
    )
    for name, r in results.items():
        before, after = r.get("load", (float("nan"), float("nan")))
        print(
            f"| {name} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {before:.2f} / {after:.2f} |"
        )
    if "impactlens" in results:
        il = results["impactlens"]["times"]
        print("\n| metric (daily, 180 days) | first (s) | repeat (s) |\n|---|---:|---:|")
        for name, t in il.items():
            print(f"| {name} | {t['first']:.2f} | {t['repeat']:.2f} |")
        ranked = sorted(HEAVY, key=lambda m: -il[m + " (raw events)"]["repeat"])
        others = [n for n in results if n != "impactlens"]
        print(
            "\nRepeat-query seconds for the heavy metrics, heaviest first (by impactlens on raw "
            "events; * = the three heaviest). ratio = impactlens / the faster of DuckDB SQL and "
            "polars (target <= 1.5); pandas x = pandas / impactlens (target >= 10); "
            "agreement = largest |difference| from impactlens's daily values over the days both "
            "have, and days only one of them has.\n"
        )
        print(
            "| metric | impactlens | impactlens (raw events) | "
            + " | ".join(others)
            + " | ratio | <= 1.5x | pandas x | >= 10x | agreement |"
        )
        print("|---|---:|---:|" + "---:|" * len(others) + "---:|---|---:|---|---|")
        for m in ranked:
            cells = [results[o]["times"][m]["repeat"] for o in others]
            best = min(
                results[o]["times"][m]["repeat"] for o in ("duckdb_sql", "polars") if o in results
            )
            ratio = il[m]["repeat"] / best
            speedup = (
                results["pandas"]["times"][m]["repeat"] / il[m]["repeat"]
                if "pandas" in results
                else float("nan")
            )
            agreement = "; ".join(
                f"{o} {_agreement(il[m].get('values', {}), results[o]['times'][m].get('values', {}))}"
                for o in others
            )
            print(
                f"| {m}{' *' if m in ranked[:3] else ''} | {il[m]['repeat']:.2f} | "
                f"{il[m + ' (raw events)']['repeat']:.2f} | "
                + " | ".join(f"{c:.2f}" for c in cells)
                + f" | {ratio:.2f}x | {'met' if ratio <= 1.5 else 'MISSED'} | {speedup:.1f}x | "
                f"{'met' if speedup >= 10 else 'MISSED'} | {agreement} |"
            )


def _agreement(ours: dict, theirs: dict) -> str:
    both = [d for d in ours if d in theirs and ours[d] is not None and theirs[d] is not None]
    diff = max((abs(ours[d] - theirs[d]) for d in both), default=float("nan"))
    only = len(set(ours) ^ set(theirs))
    return f"{diff:.2g}" + (f", {only} days apart" if only else "")


if __name__ == "__main__":
    raise SystemExit(main())
