"""The real server on a real socket: the Segment SDK unchanged, and a kill -9 mid-load."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from segment.analytics import Client

from impactlens.config import load_workspace
from impactlens.server import create_app, settings_for_workspace
from impactlens.server.keys import create_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling interval, bounded by the deadline above


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_segment_python_sdk_sends_to_the_server_unchanged(workspace) -> None:
    write_key = create_key(workspace, "write").key
    port = free_port()
    app = create_app(settings_for_workspace(workspace))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    errors: list[Exception] = []
    try:
        wait_until(lambda: server.started, 30, "uvicorn to start")
        client = Client(write_key, host=f"http://127.0.0.1:{port}", on_error=lambda e, _: errors.append(e),
                        max_retries=1)  # fmt: skip
        client.identify("u1", {"plan": "pro", "email": "u1@example.com"})
        client.group("u1", "acct-1", {"name": "Acme"})
        for i in range(250):
            client.track("u1", "Report Created", {"n": i}, context={"groupId": "acct-1"})
        client.page("u1", "Docs", "Getting started")
        client.flush()
        client.shutdown()
        assert errors == []
        runtime = app.state.runtime.get(workspace.root)
        assert runtime.loader.wait_loaded(30)
        events = runtime.read(lambda wh: wh.table("events").to_pyarrow()).to_pylist()
        tracked = [e for e in events if e["event"] == "Report Created"]
        assert len(tracked) == 250 and len({e["message_id"] for e in tracked}) == 250
        assert {e["account_id"] for e in tracked} == {"acct-1"}
        assert any(e["type"] == "page" for e in events)
    finally:
        server.should_exit = True
        thread.join(30)


def start_server(root: Path, port: int, log: Path) -> subprocess.Popen:
    # The server module directly: the same app as `impactlens serve`, a faster start.
    cmd = [sys.executable, "-m", "impactlens.server", "--workspace", str(root),
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or healthy(url), 60, "the server to start")
    finally:
        if not healthy(url):
            proc.kill()
            proc.wait()
    assert proc.poll() is None, log.read_text()
    return proc


@pytest.mark.slow
def test_kill_9_mid_load_loses_and_duplicates_no_acknowledged_event(workspace, tmp_path) -> None:
    write_key = create_key(workspace, "write").key
    read_key = create_key(workspace, "read").key
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start_server(workspace.root, port, log)
    acked: list[str] = []
    stop = threading.Event()

    def sender(tag: str) -> None:
        with httpx.Client(base_url=url, auth=(write_key, ""), timeout=10) as client:
            seq = 0
            while not stop.is_set():
                rid = f"{tag}-{seq}"
                seq += 1
                batch = [{"type": "track", "event": "E", "userId": f"u{i}", "messageId": f"{rid}-{i}",
                          "timestamp": "2026-01-05T10:00:00Z"} for i in range(100)]  # fmt: skip
                try:
                    response = client.post("/v1/batch", json={"batch": batch})
                except httpx.HTTPError:
                    continue  # the server is gone: this request was not acknowledged
                if response.status_code == 200:
                    acked.append(rid)

    threads = [threading.Thread(target=sender, args=(f"c{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        started = time.monotonic()
        wait_until(lambda: len(acked) >= 20, 60, "some acknowledged batches")
        print(f"load ran {time.monotonic() - started:.1f} s before the kill")
        server.send_signal(signal.SIGKILL)
        server.wait()
    finally:
        stop.set()
        for t in threads:
            t.join()

    restarted = time.monotonic()
    server = start_server(workspace.root, port, log)  # replays the spool from the checkpoint
    try:

        def drained() -> bool:
            status = httpx.get(f"{url}/api/v1/status", auth=(read_key, ""), timeout=10).json()
            return status["ingest"]["pending_bytes"] == 0

        wait_until(drained, 120, "the loader to drain the spool")
        print(f"restart and replay took {time.monotonic() - restarted:.1f} s")
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0

    warehouse = load_workspace(workspace.root).connect()
    events = warehouse.table("events")
    counts = events.group_by("message_id").agg(n=events.count()).to_pyarrow().to_pylist()
    warehouse.close()
    stored = {row["message_id"]: row["n"] for row in counts}
    expected = {f"{rid}-{i}" for rid in acked for i in range(100)}
    assert not [m for m in expected if m not in stored], "an acknowledged event was lost"
    assert max(stored.values()) == 1, "an event was stored twice"
