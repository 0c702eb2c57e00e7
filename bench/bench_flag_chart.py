"""Time a flag release's chart and arms, the old way and the current way, on a built workspace.

    flock /tmp/il-bench.lock .venv/bin/python bench/bench_flag_chart.py DIR [--release search-v2]

``DIR`` is a demo workspace (``impactlens demo DIR --size small|large``, or
``bench/bench_review.py --dir``). Old chart: the metric segmented by
``flag.<name>`` (every actor's latest flag value over all events, raw events);
current: ``release_data.flag_chart`` (the arms from the post window's events,
the metric on the rollup when it can). Old arms: ``flag_actors`` for ``true``
and for ``false``; current: ``flag_arm_sets`` (one scan). Each is run
``--repeat`` times in turn, wall time and the 1-minute load average printed as
JSON. The first of each is cold for the compiled-plan cache only; DuckDB's
buffer pool is warm after the first query either way.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import duckdb

from impactlens.config import load_workspace
from impactlens.metrics import load_metrics, metric_series
from impactlens.service import release_data as data
from impactlens.service.catalog import get_release
from impactlens.service.releases import MAX_POST_DAYS, PRE_DAYS


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--release", default="search-v2")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    workspace = load_workspace(args.dir)
    wh = workspace.connect(read_only=True)
    catalog = load_metrics(workspace.metrics_path, wh)
    release = get_release(wh, args.release)
    flag, metric = release.audience.flag, release.hypothesis.metric
    windows = data.windows_for(
        release.shipped_at, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=MAX_POST_DAYS
    )
    holdout = tuple(data.holdout_accounts(wh))
    tz = workspace.config.timezone
    events = wh.table("events").count().to_pyarrow().as_py()

    def old_chart():
        return metric_series(
            wh, metric, grain="day", start=windows.pre_start.date(), end=windows.post_end.date(),
            timezone=tz, segment=f"flag.{flag}", catalog=catalog,
        )  # fmt: skip

    def new_chart():
        return data.flag_chart(wh, catalog, metric, windows, flag, tz, exclude_accounts=holdout)

    def old_arms():
        on = data.flag_actors(wh, flag, windows.ship, windows.post_end)
        off = data.flag_actors(wh, flag, windows.ship, windows.post_end, value="false")
        return on, off - on

    def new_arms():
        return data.flag_arm_sets(wh, flag, windows.ship, windows.post_end)

    runs: dict[str, list[dict]] = {k: [] for k in ("old_chart", "chart", "old_arms", "arms")}
    results = {}
    for _ in range(args.repeat):
        for name, fn in (
            ("old_chart", old_chart), ("chart", new_chart),
            ("old_arms", old_arms), ("arms", new_arms),
        ):  # fmt: skip
            seconds, results[name] = _timed(fn)
            runs[name].append({"seconds": round(seconds, 2), "load1": os.getloadavg()[0]})
    assert results["old_arms"] == results["arms"], "the arms differ"
    chart = results["chart"]
    print(
        json.dumps(
            {
                "workspace": str(args.dir),
                "release": args.release,
                "metric": metric,
                "events": events,
                "days": len(chart.days),
                "holdout_accounts": len(holdout),
                "arms": [len(a) for a in results["arms"]],
                "duckdb": duckdb.__version__,
                "cores": os.cpu_count(),
                "runs": runs,
            },
            indent=1,
        )  # fmt: skip
    )
    wh.close()


if __name__ == "__main__":
    main()
