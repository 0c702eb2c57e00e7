"""A/A scan of the release counterfactual on a built workspace: how often it reads a change
where nothing was shipped.

For each metric, the daily series of the actors outside the holdout (the treated side of
a release shipped to everyone) and of the holdout (the control) over the last 180 days
are read once; then every ship day with the review's 56 pre-period and 28 post-period
days inside the series (every ``--step`` days from ``--first``) gets the counterfactual
with each trend, with and without the control, and the share of intervals that exclude
zero is printed. Planted releases inside a window make those dates not A/A: choose
``--first``/``--last`` (day offsets from the series' first day) around them.

    flock /tmp/il-bench.lock .venv/bin/python bench/counterfactual_aa.py \\
        /tmp/il-large-new/ws invites_per_account --step 3

Used for the invite-flow investigation in docs/release-impact.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from impactlens.config import load_workspace
from impactlens.metrics import load_metrics
from impactlens.service import release_data as data
from impactlens.service.releases import (
    MAX_POST_DAYS,
    PRE_DAYS,
    everyone_filters,
    holdout_filters,
)
from impactlens.stats.counterfactual import estimate_counterfactual


def daily_series(root: Path, metric: str, days: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(treated, control) daily values over the last ``days`` whole days of the data."""
    workspace = load_workspace(root)
    warehouse = workspace.connect(read_only=True)
    try:
        catalog = load_metrics(workspace.metrics_path, warehouse)
        end = data.data_end(warehouse)
        holdout = data.holdout_accounts(warehouse)
        span = {"start": (end - timedelta(days=days - 1)).date(), "end": end.date() + timedelta(1)}

        def values(filters: list[dict]) -> np.ndarray:
            frame = data.metric_series(
                warehouse, catalog.get(metric), grain="day", timezone=workspace.config.timezone,
                filters=filters, catalog=catalog, **span,
            )  # fmt: skip
            return np.array([np.nan if v is None else v for v in frame.column("value")], float)

        control = holdout_filters(holdout)
        return values(everyone_filters(holdout)), None if control is None else values(control)
    finally:
        warehouse.close()


def scan(y: np.ndarray, x: np.ndarray | None, first: int, last: int, step: int) -> None:
    n_pre, n_post = PRE_DAYS, MAX_POST_DAYS
    ships = range(max(first, n_pre), min(last, len(y) - n_post) + 1, step)
    for trend in ("local_level", "local_linear"):
        for use_control in (True, False) if x is not None else (False,):
            rows = []
            for s in ships:
                window = slice(s - n_pre, s + n_post)
                controls = x[window].reshape(-1, 1) if use_control else None
                r = estimate_counterfactual(y[window], n_pre, controls=controls, trend=trend)
                if r.error is None and np.isfinite(r.relative_lower):
                    rows.append((r.relative, r.relative_lower, r.relative_upper))
            if not rows:
                print(f"  {trend:12s} control={use_control!s:5s} no estimate")
                continue
            a = np.asarray(rows)
            excludes = (a[:, 1] > 0) | (a[:, 2] < 0)
            print(
                f"  {trend:12s} control={use_control!s:5s} ship days {len(a)}: interval excludes 0 "
                f"at {excludes.sum()} ({excludes.mean():.0%}); mean relative {a[:, 0].mean():+.3f} "
                f"(sd {a[:, 0].std():.3f}); mean width {np.mean(a[:, 2] - a[:, 1]):.3f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("metrics", nargs="+")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--first", type=int, default=0, help="first ship day (offset)")
    parser.add_argument("--last", type=int, default=10**6, help="last ship day (offset)")
    args = parser.parse_args()
    for metric in args.metrics:
        t0 = time.perf_counter()
        y, x = daily_series(args.workspace, metric, args.days)
        print(f"{metric}: {len(y)} days read in {time.perf_counter() - t0:.1f} s", flush=True)
        scan(y, x, args.first, args.last, args.step)


if __name__ == "__main__":
    main()
