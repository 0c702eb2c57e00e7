"""Benchmark `impactlens serve`: sustained ingest throughput, then a kill -9 mid-load.

Loopback only, bounded in time, stops by itself. It

1. makes a fresh workspace with a write key, starts `impactlens serve` on a free port;
2. runs client processes (threads inside) sending `/v1/batch` requests of 100 track
   events for IMPACTLENS_BENCH_SECONDS (default 20) and reports acknowledged events/s
   and request latency p50/p99;
3. loads again and kills the server with SIGKILL in the middle, restarts it, waits
   until the loader has drained the spool, stops it and counts every acknowledged
   messageId in the warehouse: each must be there exactly once;
4. runs the schemathesis test (tests/server/test_fuzz.py: every operation, no 5xx).

Prints a Markdown table (recorded in docs/benchmarks.md, section "Server").

Environment: IMPACTLENS_BENCH_SECONDS (20), IMPACTLENS_BENCH_CLIENTS (2 processes),
IMPACTLENS_BENCH_THREADS (8 per process), IMPACTLENS_BENCH_BATCH (100).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

SECONDS = float(os.environ.get("IMPACTLENS_BENCH_SECONDS", "20"))
CLIENTS = int(os.environ.get("IMPACTLENS_BENCH_CLIENTS", "2"))
THREADS = int(os.environ.get("IMPACTLENS_BENCH_THREADS", "8"))
BATCH = int(os.environ.get("IMPACTLENS_BENCH_BATCH", "100"))

_EVENT = (
    '{{"type":"track","event":"{event}","userId":"u{user}","messageId":"{mid}",'
    '"timestamp":"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z",'
    '"properties":{{"plan":"pro","seats":{seats},"source":"bench"}},'
    '"context":{{"groupId":"acct{account}","library":{{"name":"bench","version":"1"}}}}}}'
)
_EVENTS = ("Report Created", "Dashboard Viewed", "Search Performed", "Export Downloaded")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batch_body(request_id: str) -> bytes:
    events = []
    for i in range(BATCH):
        n = hash((request_id, i)) & 0xFFFFFF
        events.append(
            _EVENT.format(
                event=_EVENTS[n % 4],
                user=n % 5000,
                mid=f"{request_id}-{i}",
                day=1 + n % 28,
                hour=n % 24,
                minute=n % 60,
                seats=n % 50,
                account=n % 400,
            )  # fmt: skip
        )
    return ('{"batch":[' + ",".join(events) + "]}").encode()


def _client_thread(url: str, key: str, tag: str, stop_at: float, out: list) -> None:
    acked, latencies, failures = [], [], 0
    seq = 0
    with httpx.Client(base_url=url, auth=(key, ""), timeout=30.0) as client:
        while time.monotonic() < stop_at:
            request_id = f"{tag}-{seq}"
            seq += 1
            body = batch_body(request_id)
            started = time.perf_counter()
            try:
                response = client.post(
                    "/v1/batch", content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError:
                failures += 1
                if failures > 50:
                    break
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
                acked.append(request_id)
            else:
                failures += 1
    out.append((acked, latencies, failures))


def client_process(url: str, key: str, tag: str, seconds: float, queue) -> None:
    stop_at = time.monotonic() + seconds
    out: list = []
    threads = [
        threading.Thread(target=_client_thread, args=(url, key, f"{tag}t{k}", stop_at, out))
        for k in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acked = [r for a, _, _ in out for r in a]
    latencies = [x for _, lat, _ in out for x in lat]
    queue.put((acked, latencies, sum(f for _, _, f in out), time.process_time()))


def run_load(url: str, key: str, tag: str, seconds: float, during=None):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=client_process, args=(url, key, f"{tag}p{k}", seconds, queue))
        for k in range(CLIENTS)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    if during is not None:
        during()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    acked = [r for a, _, _, _ in results for r in a]
    latencies = sorted(x for _, lat, _, _ in results for x in lat)
    run_load.client_cpu = sum(c for _, _, _, c in results)  # type: ignore[attr-defined]
    return acked, latencies, sum(f for _, _, f, _ in results), elapsed


def start_server(workspace: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from impactlens.cli import main; main()", "serve",
           "--workspace", str(workspace), "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling for startup, bounded by the deadline
    proc.kill()
    raise SystemExit("server did not start within 60 s")


def wait_idle(pid: int, timeout: float = 180) -> float:
    """Wait until the server's start-up work (the dashboard's warm-up) is done: under 5% CPU."""
    import psutil

    process, started = psutil.Process(pid), time.monotonic()
    while time.monotonic() - started < timeout:
        if process.cpu_percent(interval=1.0) < 5:
            return time.monotonic() - started
    return time.monotonic() - started


def wait_drained(url: str, read_key: str, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status = httpx.get(f"{url}/api/v1/status", auth=(read_key, ""), timeout=30).json()
        if status["ingest"]["pending_bytes"] == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit("the loader did not drain the spool in time")


def count_ids(workspace: Path) -> dict[str, int]:
    from impactlens.config import load_workspace

    warehouse = load_workspace(workspace).connect()
    try:
        events = warehouse.table("events")
        counts = events.group_by("message_id").agg(n=events.count()).to_pyarrow()
    finally:
        warehouse.close()
    return dict(zip(counts["message_id"].to_pylist(), counts["n"].to_pylist(), strict=True))


def schemathesis_run() -> str:
    """The schemathesis test of the suite (every operation of /openapi.json, no 5xx)."""
    test = Path(__file__).resolve().parents[1] / "tests" / "server" / "test_fuzz.py"
    cmd = [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return ("passed" if result.returncode == 0 else "FAILED") + f" ({lines[-1] if lines else ''})"


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def spool_bytes(folder: Path) -> int:
    total = 0
    for path in folder.glob("spool-*.ndjson"):
        with contextlib.suppress(FileNotFoundError):  # a loaded segment removed meanwhile
            total += path.stat().st_size
    return total


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> int:
    from impactlens.config import init_workspace
    from impactlens.server.keys import create_key

    root = Path(tempfile.mkdtemp(prefix="impactlens-bench-server-"))
    ws = init_workspace(root / "ws")
    write_key = create_key(ws, "write", "bench").key
    read_key = create_key(ws, "read", "bench").key
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    rows = []

    server = start_server(ws.root, port, log)
    warm = wait_idle(server.pid)
    cpu_before = cpu_seconds(server.pid)
    acked, latencies, failures, elapsed = run_load(url, write_key, "a", SECONDS)
    events = len(acked) * BATCH
    cpu_load = cpu_seconds(server.pid) - cpu_before
    drain = wait_drained(url, read_key)
    cpu_us = (cpu_seconds(server.pid) - cpu_before) / max(events, 1) * 1e6
    client_us = run_load.client_cpu / max(events, 1) * 1e6  # type: ignore[attr-defined]
    rows.append(("sustained load", f"{SECONDS:.0f} s, {CLIENTS}x{THREADS} clients",
                 f"{events:,}", f"{events / elapsed:,.0f}", f"{pct(latencies, 0.5):.1f}",
                 f"{pct(latencies, 0.99):.1f}", f"{failures}",
                 f"server CPU {cpu_us:.0f} µs/event incl. loading ({cpu_load / elapsed:.2f} cores "
                 f"during the load); clients {client_us:.0f} µs/event; drained {drain:.1f} s "
                 f"after; start-up work done {warm:.0f} s before the load"))  # fmt: skip
    spool = ws.root / ".impactlens" / "spool"

    def kill_midway() -> None:
        # Pull the plug once a few MB more have been acknowledged (spooled), whatever the load.
        start = spool_bytes(spool)
        deadline = time.monotonic() + 120
        while spool_bytes(spool) < start + 2_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)

    crash_acked, crash_lat, crash_fail, crash_elapsed = run_load(
        url, write_key, "b", min(15.0, SECONDS), during=kill_midway
    )
    server.wait()
    restart_started = time.perf_counter()
    server = start_server(ws.root, port, log)
    replay = wait_drained(url, read_key)
    restart = time.perf_counter() - restart_started
    server.send_signal(signal.SIGINT)
    server.wait(timeout=120)

    counts = count_ids(ws.root)
    fuzz = schemathesis_run()
    expected = {f"{r}-{i}" for r in acked + crash_acked for i in range(BATCH)}
    missing = sum(1 for m in expected if m not in counts)
    duplicated = sum(1 for n in counts.values() if n > 1)
    extra = len(counts) - len(expected & counts.keys())
    crash_events = len(crash_acked) * BATCH
    rows.append(("kill -9 mid-load", f"acked {crash_events:,} before the kill",
                 f"{crash_events:,}", f"{crash_events / crash_elapsed:,.0f}",
                 f"{pct(crash_lat, 0.5):.1f}", f"{pct(crash_lat, 0.99):.1f}", f"{crash_fail}",
                 f"restart+replay {restart:.1f} s (drain {replay:.1f} s)"))  # fmt: skip

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")  # fmt: skip
    print("| phase | load | events acked | events/s | p50 ms | p99 ms | failed requests* | note |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    ok = missing == 0 and duplicated == 0
    print(f"\nExactly once after kill -9: {len(expected):,} acknowledged messageIds, "
          f"{missing} missing, {duplicated} duplicated, {extra} unacknowledged but stored "
          f"(sent before the kill, answer lost) -> {'OK' if ok else 'FAILED'}")  # fmt: skip
    print(
        "\n*failed requests: in the kill phase, the clients' requests refused once the server is gone."
    )
    print(f"schemathesis on /openapi.json: {fuzz}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
