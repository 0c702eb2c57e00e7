"""Benchmark: health scores and the churn back-test on a large customer base.

    python bench/bench_health.py                      # synthetic world, 15,000 accounts x 52 weeks
    python bench/bench_health.py --workspace DIR      # an existing workspace (e.g. `impactlens demo DIR --size large`)
    python bench/bench_health.py --accounts 3000 --weeks 40

The synthetic world (impactlens.service.accounts.synthetic) is written into a
DuckDB file by a child process, so the numbers below are the analysis's own:
wall time and CPU time per step (CPU time does not depend on what else runs on
the machine) and the peak RSS of the analysing process. Prints a
Markdown table (recorded in docs/benchmarks.md, "Health and churn").
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path


def _generate(path: str, accounts: int, weeks: int, seed: int, events_per_user: float) -> None:
    from impactlens.service.accounts.synthetic import make_world
    from impactlens.warehouse import Warehouse

    wh = Warehouse.connect(f"duckdb://{path}")
    wh.ensure_schema()
    truth = make_world(
        wh, n_accounts=accounts, weeks=weeks, seed=seed, events_per_user=events_per_user
    )
    wh.close()
    print(
        f"generated {truth.n_accounts:,} accounts, {truth.n_events:,} events, "
        f"{truth.n_churned:,} churned",
        file=sys.stderr,
    )


def _cpu() -> float:
    """CPU seconds of this process, every thread (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="use this workspace's warehouse")
    parser.add_argument("--accounts", type=int, default=15_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--events-per-user", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--boosting", action="store_true", help="also time gradient boosting")
    args = parser.parse_args()

    from impactlens.service.accounts import ChurnConfig, HealthConfig, fit_churn_model
    from impactlens.service.accounts.health import score_health
    from impactlens.service.accounts.panel import build_panel
    from impactlens.service.accounts.portfolio import build_account_book
    from impactlens.warehouse import Warehouse

    tmp = None
    if args.workspace:
        from impactlens.config import load_workspace

        ws = load_workspace(args.workspace)
        wh = ws.connect(read_only=True)
        source = f"workspace {args.workspace}"
    else:
        tmp = tempfile.TemporaryDirectory()
        path = os.path.join(tmp.name, "bench.duckdb")
        t = time.perf_counter()
        child = mp.get_context("spawn").Process(
            target=_generate,
            args=(path, args.accounts, args.weeks, args.seed, args.events_per_user),
        )
        child.start()
        child.join()
        if child.exitcode:
            return child.exitcode
        print(f"generation: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        wh = Warehouse.connect(f"duckdb://{path}", read_only=True)
        source = f"synthetic world ({args.accounts:,} accounts x {args.weeks} weeks)"

    events = wh.count("events")
    baseline = _peak_rss_mb()
    rows: list[tuple[str, float, float, str]] = []

    def step(name, call):
        t, cpu = time.perf_counter(), _cpu()
        out = call()
        rows.append((name, time.perf_counter() - t, _cpu() - cpu, f"{_peak_rss_mb():,.0f}"))
        return out

    health_config = HealthConfig()
    panel = step(
        "weekly account panel (warehouse aggregation)", lambda: build_panel(wh, health_config)
    )
    health = step("health scores, every account x week", lambda: score_health(panel, health_config))
    churn = step(
        "churn model: logistic, back-test + null check + scoring",
        lambda: fit_churn_model(
            wh, ChurnConfig(), health_config, panel=panel, health_scores=health.scores
        ),
    )
    if args.boosting:
        step(
            "churn model: gradient boosting, back-test + null check + scoring",
            lambda: fit_churn_model(
                wh,
                ChurnConfig(model="gradient_boosting"),
                health_config,
                panel=panel,
                health_scores=health.scores,
            ),
        )
    step(
        "account list end to end (panel + health + churn + ranking)",
        lambda: build_account_book(wh).listing(),
    )
    wh.close()

    bt = churn.backtest
    print(
        f"source: {source}; {panel.n_accounts:,} accounts, {panel.n_weeks} weeks, {events:,} events"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| step | wall s | CPU s | peak RSS so far (MB) |")
    print("|---|---:|---:|---:|")
    print(f"| (imports and connection, before any query) | | | {baseline:,.0f} |")
    for name, seconds, cpu, rss in rows:
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {rss} |")
    if bt is not None and bt.auc_mean is not None:
        print(
            f"\nchurn: {churn.message}; shuffled-label AUC {bt.null_auc_mean:.2f}; "
            f"precision at top 10% {bt.precision_at_k_mean:.2f} (base rate {bt.base_rate:.3f})"
        )
    else:
        print(f"\nchurn: {churn.message}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
