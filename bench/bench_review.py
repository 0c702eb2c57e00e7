"""Benchmark: the impact review on the demo company (large by default), end to end.

    python bench/bench_review.py                        # large demo (~50M events) + the small one to compare
    python bench/bench_review.py --size small           # quick run
    python bench/bench_review.py --dir /data/il-large   # build there and keep it (for --reuse)
    python bench/bench_review.py --reuse /data/il-large # review an existing demo workspace again
    python bench/bench_review.py --no-compare           # only --size

Each size runs in its own child process, which

1. builds the demo company with ``impactlens.service.demo.build_demo`` (the
   generator writes the contract files, Parquet for events, then the real
   importer loads them into the workspace's DuckDB warehouse), timing the
   generation and the import separately, or reuses a workspace built before
   (``--reuse DIR``; the build's figures are read back from
   ``DIR/bench_review_build.json`` when this script built it);
2. runs ``impactlens.service.review.build_review(..., last_days=180)`` on a
   read-only connection, timing every ``review_release`` call (method of its
   hypothesis metric: difference-in-differences or counterfactual) and the
   pieces below it (metric queries, estimators, reach, delivery, indicators);
3. compares every planted release of ``truth.json`` (win / null / harm /
   confounded) with its verdict and interval.

Peak memory is the process's resident set: ``ru_maxrss`` (exact, whole
process) and, per phase, the maximum of ``psutil`` samples taken every 0.2 s
in a background thread. DuckDB runs in-process, so both include it.

Environment: ``IMPACTLENS_BENCH_REVIEW_SIZE`` sets the default ``--size``
(``make bench`` runs this script without arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BUILD_RECORD = "bench_review_build.json"
PLANTED = ("win", "null", "harm", "confounded")


# ---------------------------------------------------------------------------
# Measurement helpers (child process)


class RssSampler:
    """Peak RSS per phase, sampled in a background thread (psutil), plus ru_maxrss."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._phase = "start"
        self.peaks: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = self._proc.memory_info().rss
        if rss > self.peaks[self._phase]:
            self.peaks[self._phase] = rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._sample()
        previous, self._phase = self._phase, name
        try:
            yield
        finally:
            self._sample()
            self._phase = previous

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Timers:
    """Wall time and call count of named functions, by patching module attributes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, module: Any, name: str, label: str | None = None) -> None:
        original = getattr(module, name)
        key = label or f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.calls[key] += 1

        setattr(module, name, timed)


def _method_kind(method: str | None) -> str:
    if not method:
        return "none"
    if method.startswith("difference"):
        return "did"
    return "counterfactual"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _instrument(timers: Timers, per_release: list[dict], per_metric: list[dict]) -> None:
    """Patch the review's call graph so every piece is timed (inclusive times)."""
    from impactlens.service import release_data, releases, review

    original_release = releases.review_release
    original_metric = releases._metric_impact

    @functools.wraps(original_release)
    def timed_release(warehouse: Any, workspace: Any, release_id: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = original_release(warehouse, workspace, release_id, **kwargs)
        method = out.primary.method if out.primary is not None else None
        per_release.append(
            {
                "release_id": release_id,
                "seconds": time.perf_counter() - started,
                "method": method,
                "kind": _method_kind(method) if out.verdict != "no_hypothesis" else "none",
                "verdict": out.verdict,
                "metrics": (1 if out.primary else 0) + len(out.guardrails),
            }
        )
        return out

    @functools.wraps(original_metric)
    def timed_metric(warehouse: Any, catalog: Any, release: Any, metric_name: str, role: str, *a: Any) -> Any:  # fmt: skip
        started = time.perf_counter()
        out = original_metric(warehouse, catalog, release, metric_name, role, *a)
        per_metric.append(
            {
                "release_id": release.release_id,
                "metric": metric_name,
                "role": role,
                "kind": _method_kind(out.method),
                "seconds": time.perf_counter() - started,
            }
        )
        return out

    releases.review_release = timed_release
    releases._metric_impact = timed_metric
    for name in ("flag_arm_sets", "account_actors", "actor_panels", "_actor_accounts",
                 "daily_values", "flag_chart", "reach", "holdout_accounts", "data_end",
                 "metric_per_actor", "metric_series"):  # fmt: skip
        timers.wrap(release_data, name)
    for name in ("estimate_did", "estimate_counterfactual", "list_releases", "get_release",
                 "load_metrics"):  # fmt: skip
        timers.wrap(releases, name)
    for name in ("review_releases", "release_delivery", "_indicators", "_experiments",
                 "portfolio", "load_metrics"):  # fmt: skip
        timers.wrap(review, name, f"review.{name}")


def _truth_rows(truth: dict, impacts: dict[str, Any]) -> list[dict]:
    """Each planted release (win / null / harm / confounded): verdict and interval vs the truth."""
    combined = {r: g for g in truth.get("confounded", []) for r in g["releases"]}
    rows = []
    for planted in truth["releases"]:
        if planted["label"] not in PLANTED:
            continue
        got = impacts.get(planted["id"])
        hyp = planted.get("hypothesis") or {}
        metric = hyp.get("metric")
        effect = next((e for e in planted["true_effects"] if e["metric"] == metric), None)
        true_rel = effect["relative"] if effect else None
        if planted["id"] in combined:
            true_rel = combined[planted["id"]]["combined_relative"]
        row: dict[str, Any] = {
            "id": planted["id"],
            "label": planted["label"],
            "metric": metric,
            "truth": true_rel,
            "verdict": got.verdict if got else "missing",
            "method": _method_kind(got.primary.method) if got and got.primary else "none",
        }
        if got is not None and got.primary is not None:
            p = got.primary
            row.update(relative=p.relative, lower=p.lower, upper=p.upper, error=p.error,
                       validity=p.validity_problem)  # fmt: skip
            row["covers"] = true_rel is not None and p.lower <= true_rel <= p.upper
        if got is not None:
            row["confounded_with"] = list(got.confounded_with)
            row["reason"] = got.reason
            row["all_guardrails"] = [
                {
                    "metric": g.metric,
                    "relative": g.relative,
                    "lower": g.lower,
                    "upper": g.upper,
                    "error": g.error,
                    "validity": g.validity_problem,
                }  # fmt: skip
                for g in got.guardrails
            ]
        # Guardrails with a planted non-zero effect (the harm), and the expectation check.
        row["guardrails"] = []
        for e in planted["true_effects"]:
            if e["metric"] == metric or not e.get("relative") or got is None:
                continue
            guard = next((g for g in got.guardrails if g.metric == e["metric"]), None)
            if guard is None:
                continue
            row["guardrails"].append(
                {
                    "metric": e["metric"],
                    "truth": e["relative"],
                    "relative": guard.relative,
                    "lower": guard.lower,
                    "upper": guard.upper,
                    "covers": guard.lower <= e["relative"] <= guard.upper,
                }  # fmt: skip
            )
        label, verdict = planted["label"], row["verdict"]
        audience = planted.get("audience")
        if label == "win" and isinstance(audience, dict) and audience.get("flag"):
            # As tests/service/test_releases_demo.py: met and a positive interval (the test
            # also matches a brute-force DiD; "covers" says whether the nominal lift is inside).
            row["as_expected"] = verdict == "met" and row.get("lower", 0) > 0
        elif label == "win":
            row["as_expected"] = verdict == "met" and bool(row.get("covers"))
        elif label == "null":
            row["as_expected"] = verdict not in ("met", "harmful")
        elif label == "harm":
            row["as_expected"] = verdict == "harmful" and all(
                g["covers"] for g in row["guardrails"]
            )
        else:  # confounded: flagged with its partner(s), and the reason says so
            partners = set(combined.get(planted["id"], {}).get("releases", [])) - {planted["id"]}
            row["as_expected"] = partners <= set(row.get("confounded_with", [])) and "Confounded" in row.get("reason", "")  # fmt: skip
        rows.append(row)
    return rows


def measure(size: str, seed: int, root: Path, reuse: bool, last_days: int) -> dict:
    """Build (or reuse) the demo at ``root``, review it, and return every figure."""
    import impactlens.demo
    import impactlens.ingest
    from impactlens.config import load_workspace
    from impactlens.service.demo import build_demo
    from impactlens.service.review import build_review

    sampler = RssSampler().start()
    result: dict[str, Any] = {"size": size, "seed": seed, "root": str(root), "reused": reuse,
                              "load_start": os.getloadavg()}  # fmt: skip
    record = root / BUILD_RECORD
    if not reuse:
        phase_times: dict[str, float] = {}

        def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def inner(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                with sampler.phase(name):
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        phase_times[name] = time.perf_counter() - started
                        phase_times[f"{name}_load"] = os.getloadavg()[0]

            return inner

        # build_demo imports both names from their packages at call time.
        impactlens.demo.generate_company = timed("generate", impactlens.demo.generate_company)
        impactlens.ingest.import_path = timed("import", impactlens.ingest.import_path)
        started = time.perf_counter()
        run = build_demo(root, size=size, seed=seed)
        build = {
            "build_seconds": time.perf_counter() - started,
            "generate_seconds": phase_times["generate"],
            "generate_load": phase_times["generate_load"],
            "import_seconds": phase_times["import"],
            "import_load": phase_times["import_load"],
            "events": int(run.manifest.counts.get("track_events", 0)),
            "rows_read": run.import_report.rows_read,
            "rows_loaded": run.import_report.rows_loaded,
            "rows_rejected": run.import_report.rows_rejected,
            "import_ok": run.import_report.ok,
            "data_bytes": _dir_size(run.data_dir),
            "rss_generate": sampler.peaks["generate"],
            "rss_import": sampler.peaks["import"],
        }
        record.write_text(json.dumps(build, indent=2))
    else:
        build = json.loads(record.read_text()) if record.exists() else {}
    result.update(build)
    workspace = load_workspace(root)
    state = root / ".impactlens"
    result["warehouse_bytes"] = _dir_size(state) if state.exists() else None

    per_release: list[dict] = []
    per_metric: list[dict] = []
    timers = Timers()
    _instrument(timers, per_release, per_metric)
    warehouse = workspace.connect(read_only=True)
    try:
        events = warehouse.table("events")
        result["warehouse_events"] = int(events.count().to_pyarrow().as_py())
        result["warehouse_actors"] = int(events.actor_id.nunique().to_pyarrow().as_py())
        result["load_review"] = os.getloadavg()[0]
        started = time.perf_counter()
        cpu_started = time.process_time()
        with sampler.phase("review"):
            review = build_review(warehouse, workspace, last_days=last_days)
        result["review_seconds"] = time.perf_counter() - started
        result["review_cpu_seconds"] = time.process_time() - cpu_started
        result["load_review_end"] = os.getloadavg()[0]
    finally:
        warehouse.close()
    sampler.stop()
    result["rss_review"] = sampler.peaks["review"]
    result["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result["releases_reviewed"] = review.shipped
    result["releases_measured"] = review.measured
    result["per_release"] = per_release
    result["per_metric"] = per_metric
    result["pieces"] = {k: {"seconds": timers.seconds[k], "calls": timers.calls[k]}
                        for k in sorted(timers.seconds, key=lambda k: -timers.seconds[k])}  # fmt: skip
    truth = json.loads((root / "data" / "truth.json").read_text())
    impacts = {r.release.release_id: r for r in review.releases}
    result["truth"] = _truth_rows(truth, impacts)
    return result


# ---------------------------------------------------------------------------
# Reporting (parent process)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb

    return (f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, duckdb {duckdb.__version__}")  # fmt: skip


def _gb(n: float | None) -> str:
    return "—" if not n else f"{n / 2**30:.2f} GB"


def _s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.1f} s" if x >= 1 else f"{x * 1000:,.0f} ms"


def _per_method(r: dict) -> dict[str, tuple[int, float, float]]:
    out = {}
    for kind in ("did", "counterfactual", "none"):
        times = [x["seconds"] for x in r["per_release"] if x["kind"] == kind]
        if times:
            out[kind] = (len(times), sum(times) / len(times), max(times))
    return out


def _per_metric(r: dict) -> dict[str, tuple[int, float]]:
    out = {}
    for kind in ("did", "counterfactual"):
        times = [x["seconds"] for x in r["per_metric"] if x["kind"] == kind]
        if times:
            out[kind] = (len(times), sum(times) / len(times))
    return out


def summary_table(results: list[dict]) -> str:
    sizes = [r["size"] for r in results]
    two = len(results) == 2
    head = "| | " + " | ".join(sizes) + " |" + (f" {sizes[0]} / {sizes[1]} |" if two else "")
    lines = [head, "|---|" + "---:|" * (len(results) + two)]

    def row(label: str, cells: list[str], nums: list[float | None] | None = None) -> None:
        line = f"| {label} | " + " | ".join(cells) + " |"
        if two:
            a, b = nums or (None, None)
            line += f" {a / b:,.1f}× |" if a is not None and b else " |"
        lines.append(line)

    def timed(key: str, load: str) -> tuple[list[str], list[float | None]]:
        vals = [r.get(key) for r in results]
        cells = ["—" if v is None else f"{_s(v)} (load {r.get(load, 0):.1f})" for v, r in zip(vals, results, strict=True)]  # fmt: skip
        return cells, vals

    def count(key: str) -> tuple[list[str], list[float | None]]:
        vals = [r.get(key) for r in results]
        return ["—" if v is None else f"{v:,}" for v in vals], vals

    def gb(key: str) -> tuple[list[str], list[float | None]]:
        vals = [r.get(key) for r in results]
        return [_gb(v) for v in vals], vals

    row("track events generated", *count("events"))
    row("events in the warehouse", *count("warehouse_events"))
    row("actors", *count("warehouse_actors"))
    row("generation (`generate_company`)", *timed("generate_seconds", "generate_load"))
    row("import (`import_path`, all files)", *timed("import_seconds", "import_load"))
    rates = [r["rows_read"] / r["import_seconds"] if r.get("import_seconds") else None for r in results]  # fmt: skip
    row("import rate (rows read / s)", ["—" if v is None else f"{v:,.0f}" for v in rates], rates)
    row("demo data files on disk", *gb("data_bytes"))
    row("warehouse on disk", *gb("warehouse_bytes"))
    row("impact review (`build_review`, last 180 days)", *timed("review_seconds", "load_review"))
    row("  its process CPU time", *timed("review_cpu_seconds", "load_review"))
    rel = [r["releases_reviewed"] for r in results]
    row("releases reviewed (measured)", [f"{r['releases_reviewed']} ({r['releases_measured']})" for r in results], rel)  # fmt: skip
    names = {"did": "difference-in-differences", "counterfactual": "counterfactual", "none": "no hypothesis"}  # fmt: skip
    methods = [_per_method(r) for r in results]
    for kind in ("did", "counterfactual", "none"):
        vals = [m.get(kind) for m in methods]
        cells = ["—" if v is None else f"{v[0]} × {_s(v[1])} (max {_s(v[2])})" for v in vals]
        row(f"per release, {names[kind]}: n × mean", cells, [v[1] if v else None for v in vals])
    metrics = [_per_metric(r) for r in results]
    for kind in ("did", "counterfactual"):
        pairs = [m.get(kind) for m in metrics]
        cells = ["—" if p is None else f"{p[0]} × {_s(p[1])}" for p in pairs]
        row(f"per metric estimate, {names[kind]}: n × mean", cells, [p[1] if p else None for p in pairs])  # fmt: skip
    row("peak RSS, generation", *gb("rss_generate"))
    row("peak RSS, import", *gb("rss_import"))
    row("peak RSS, review", *gb("rss_review"))
    row("peak RSS, whole process (ru_maxrss)", *gb("ru_maxrss"))
    return "\n".join(lines)


def pieces_table(results: list[dict], top: int = 16) -> str:
    keys = list(results[-1]["pieces"])[:top]
    sizes = [r["size"] for r in results]
    lines = ["| piece (inclusive wall time, calls) | " + " | ".join(sizes) + " |",
             "|---|" + "---:|" * len(results)]  # fmt: skip
    for k in keys:
        cells = []
        for r in results:
            p = r["pieces"].get(k)
            cells.append("—" if p is None else f"{_s(p['seconds'])} ({p['calls']})")
        lines.append(f"| `{k}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def releases_table(result: dict) -> str:
    lines = [f"| release ({result['size']}) | method | metrics | verdict | seconds |",
             "|---|---|---:|---|---:|"]  # fmt: skip
    for x in sorted(result["per_release"], key=lambda x: -x["seconds"]):
        lines.append(f"| {x['release_id']} | {x['kind']} | {x['metrics']} | {x['verdict']} | {x['seconds']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def truth_table(results: list[dict]) -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:+.1f}%"

    lines = ["| release | label | metric (truth) | size | method | verdict | estimate [95% CI] | covers truth | as expected |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ids = [t["id"] for t in results[0]["truth"]]
    for rid in ids:
        for r in results:
            t = next((t for t in r["truth"] if t["id"] == rid), None)
            if t is None:
                continue
            est = "—" if "relative" not in t else f"{pct(t['relative'])} [{pct(t['lower'])}, {pct(t['upper'])}]"  # fmt: skip
            planted = {g["metric"]: g["truth"] for g in t["guardrails"]}
            for g in t.get("all_guardrails", []):
                truth = f" (truth {pct(planted[g['metric']])})" if g["metric"] in planted else ""
                est += f"; guardrail {g['metric']} {pct(g['relative'])} [{pct(g['lower'])}, {pct(g['upper'])}]{truth}"  # fmt: skip
            lines.append(
                f"| {rid} | {t['label']} | {t['metric']} ({pct(t['truth'])}) | {r['size']} | {t['method']} | "
                f"{t['verdict']} | {est} | {'yes' if t.get('covers') else 'no'} | {'yes' if t['as_expected'] else '**no**'} |"
            )  # fmt: skip
    return "\n".join(lines)


def run_child(size: str, seed: int, root: Path, reuse: bool, last_days: int, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", "--size", size, "--seed", str(seed),
           "--root", str(root), "--last-days", str(last_days), "--json", str(out)]  # fmt: skip
    if reuse:
        cmd.append("--reused")
    print(f"[bench_review] {size}: {'reusing' if reuse else 'building'} {root} "
          f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)  # fmt: skip
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=os.environ.get("IMPACTLENS_BENCH_REVIEW_SIZE", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse", type=Path, help="an existing demo workspace (built by build_demo)"
    )
    parser.add_argument("--dir", type=Path, help="build the demo here and keep it (default: temp)")
    parser.add_argument("--last-days", type=int, default=180)
    parser.add_argument("--no-compare", action="store_true", help="skip the small-demo comparison")
    parser.add_argument("--json", type=Path, help="write every figure as JSON here")
    # Internal: one measurement in this process.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reused", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = measure(args.size, args.seed, args.root.resolve(), args.reused, args.last_days)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        return 0

    load0 = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        tmpdir = Path(tmp)
        plan = []
        if args.size != "small" and not args.no_compare:
            plan.append(("small", tmpdir / "small", False))
        if args.reuse:
            plan.append((args.size, args.reuse, True))
        else:
            plan.append((args.size, args.dir or tmpdir / args.size, False))
        for size, root, reuse in plan:
            root.mkdir(parents=True, exist_ok=True)
            results.append(run_child(size, args.seed, root, reuse, args.last_days,
                                     tmpdir / f"result-{size}.json"))  # fmt: skip
    results.sort(key=lambda r: r["size"] != args.size)  # the requested size first
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    load1 = os.getloadavg()
    tree = subprocess.run(["git", "-C", str(Path(__file__).parent), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    print(f"Machine: {machine()}; load average (1/5/15 min) {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f} "
          f"at the start, {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} at the end. Seed {args.seed}. Tree {tree or '?'}.")  # fmt: skip
    print()
    print(summary_table(results), "\n")
    print(pieces_table(results), "\n")
    print(releases_table(results[0]), "\n")
    print(truth_table(results))
    bad = [t["id"] for r in results for t in r["truth"] if not t["as_expected"]]
    if bad:
        print(f"\nplanted truths not recovered as on small: {', '.join(bad)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
