"""Experiment readout at scale: N exposed users x M metrics on DuckDB.

    python bench/bench_experiments.py                       # 1,000,000 users, 20 metrics
    python bench/bench_experiments.py --users 100000 --events-per-user 6

A synthetic warehouse is generated first (not timed) with DuckDB SQL into a
temporary folder: one two-arm experiment, every user exposed once (20% log a
repeat), ``--events-per-user`` events each over eight event names, half of them
before exposure (the CUPED pre-period). The metrics are a mix of every kind the
readout treats differently: counts, uniques, ratios (delta method), conversions
(entry grace, maturity) and retentions (maturity).

Each configuration then runs ``analyze_experiment`` in a child process, which
reports its wall time, the readout's own split of that time (warehouse queries
vs statistics in Python) and its peak RSS (the kernel's ``ru_maxrss``). The
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

EVENTS = (
    "Session Started",
    "Search Performed",
    "Search Result Clicked",
    "Report Created",
    "Report Exported",
    "Dashboard Viewed",
    "Error Shown",
    "User Invited",
)
DAY = 86_400


def metrics_yaml(count: int) -> tuple[str, list[str]]:
    """``count`` metrics cycling through the kinds; returns the YAML and the names."""
    templates = [
        ("count", lambda i, e: f"{{name: m{i:02d}_count, kind: count, event: {e}, higher_is_better: true}}"),
        ("unique", lambda i, e: f"{{name: m{i:02d}_unique, kind: unique, event: {e}, higher_is_better: true}}"),
        ("ratio", lambda i, e: (
            f"{{name: m{i:02d}_ratio, kind: ratio, numerator: {{event: {e}}}, "
            "denominator: {event: Session Started}, higher_is_better: true}")),
        ("conversion", lambda i, e: (
            f"{{name: m{i:02d}_conversion, kind: conversion, steps: [Session Started, {e}], "
            "within: 1d, higher_is_better: true}")),
        ("retention", lambda i, e: (
            f"{{name: m{i:02d}_retention, kind: retention, cohort_event: Session Started, "
            f"return_event: {e}, period: day, n: 1, higher_is_better: true}}")),
    ]  # fmt: skip
    lines, names = ["metrics:"], []
    for i in range(count):
        kind, make = templates[i % len(templates)]
        event = EVENTS[1 + i % (len(EVENTS) - 1)]
        text = make(i, event)
        lines.append(f"  - {text}")
        names.append(text.split(",")[0].split(":")[1].strip())
    return "\n".join(lines) + "\n", names


def generate(root: Path, users: int, per_user: int, metric_names: list[str]) -> int:
    """Write the synthetic warehouse with DuckDB SQL; returns the number of events."""
    import duckdb

    from impactlens.warehouse import Warehouse

    db = root / "warehouse.duckdb"
    wh = Warehouse.connect(f"duckdb://{db}")
    wh.ensure_schema()
    wh.close()
    con = duckdb.connect(str(db))
    secondary = json.dumps(metric_names[1:-2])
    guardrails = json.dumps(metric_names[-2:])
    con.execute(
        "INSERT INTO experiments (experiment_id, name, primary_metric, secondary_metrics, "
        "guardrails, variations, unit, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
        "TIMESTAMP '2026-03-01', TIMESTAMP '2026-03-28')",
        ["bench", "Bench", metric_names[0], secondary, guardrails,
         '["control", "treatment"]', "user"],
    )  # fmt: skip
    # The generated SQL below holds only this script's own integers and event names.
    exposed = f"TIMESTAMP '2026-03-01' + to_seconds(CAST((u * 7919) % {14 * DAY} AS BIGINT))"
    con.execute(
        f"""
        INSERT INTO exposures (message_id, experiment_id, variation_id, actor_id, user_id, timestamp)
        SELECT 'x' || u, 'bench', CASE WHEN u % 2 = 0 THEN 'control' ELSE 'treatment' END,
               'u' || u, 'u' || u, {exposed}
        FROM range({users}) t(u)
        UNION ALL
        SELECT 'r' || u, 'bench', CASE WHEN u % 2 = 0 THEN 'control' ELSE 'treatment' END,
               'u' || u, 'u' || u, {exposed} + INTERVAL 2 HOUR
        FROM range({users}) t(u) WHERE u % 5 = 0
        """  # noqa: S608
    )
    names = "[" + ", ".join(f"'{e}'" for e in EVENTS) + "]"
    n_events = users * per_user
    # Users have habits (a skewed share of the events, the same before and after exposure,
    # which is what CUPED exploits); half the events fall in the 14 days before exposure,
    # half in the 14 after; the control arm loses 5% of its events after exposure.
    con.execute(
        f"""
        INSERT INTO events (message_id, timestamp, type, event, user_id, actor_id)
        SELECT 'e' || i, ts, 'track', ev, 'u' || u, 'u' || u FROM (
          SELECT i, u,
                 {names}[1 + CAST(hash(i * 3 + 1) % {len(EVENTS)} AS BIGINT)] AS ev,
                 {exposed} + to_seconds(
                   CAST(hash(i * 5 + 2) % {28 * DAY} AS BIGINT) - {14 * DAY}) AS ts
          FROM (SELECT i, CAST({users} * pow((hash(i) % 1000003) / 1000003.0, 1.6) AS BIGINT) AS u
                FROM range({n_events}) t(i))
        ) WHERE NOT (u % 2 = 0 AND ts >= {exposed} AND hash(i * 7 + 3) % 20 = 0)
        """  # noqa: S608
    )
    count = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    return int(count)


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from impactlens.metrics import parse_metrics
    from impactlens.service.experiments import analyze_experiment
    from impactlens.warehouse import Warehouse

    db, metrics, cuped = sys.argv[1], Path(sys.argv[2]).read_text(), sys.argv[3] == "1"
    catalog = parse_metrics(metrics)
    wh = Warehouse.connect("duckdb://" + db, read_only=True)
    started = time.perf_counter()
    readout = analyze_experiment(wh, catalog, "bench", cuped=cuped)
    wall = time.perf_counter() - started
    wh.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    comps = [c for m in readout.metrics for c in m.comparisons]
    print(json.dumps({
        "wall": wall, "query": readout.timings.query_seconds,
        "stats": readout.timings.statistics_seconds, "peak_rss_mb": peak_kb / 1024,
        "units": readout.exposure.total_units, "metrics": len(readout.metrics),
        "errors": sum(1 for c in comps if c.error), "cuped": sum(1 for c in comps if c.cuped),
        "decision": readout.recommendation.decision,
    }))
    """
)


def run_child(db: Path, metrics: Path, cuped: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), str(metrics), "1" if cuped else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events-per-user", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=20)
    args = parser.parse_args()
    text, names = metrics_yaml(args.metrics)
    with tempfile.TemporaryDirectory(prefix="bench-experiments-") as tmp:
        root = Path(tmp)
        (root / "metrics.yaml").write_text(text)
        started = time.perf_counter()
        events = generate(root, args.users, args.events_per_user, names)
        print(f"generated {events:,} events for {args.users:,} users in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
        rows = []
        for cuped in (True, False):
            r = run_child(root / "warehouse.duckdb", root / "metrics.yaml", cuped)
            rows.append((cuped, r))
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}\n")  # fmt: skip
    print(
        "| exposed users | events | metrics | CUPED | wall s | queries s | statistics s | peak RSS MB |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    for cuped, r in rows:
        print(
            f"| {r['units']:,} | {events:,} | {r['metrics']} | "
            f"{'on (' + str(r['cuped']) + ' adjusted)' if cuped else 'off'} | {r['wall']:.1f} | "
            f"{r['query']:.1f} | {r['stats']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
