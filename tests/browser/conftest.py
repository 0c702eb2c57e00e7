"""The real server on the demo company, and Debian's Chromium driven by Playwright.

The demo workspace (size tiny) is built once per session; the server runs as
`impactlens serve` in a subprocess on 127.0.0.1 and a free port. Playwright
never downloads a browser: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from impactlens.server.keys import create_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@dataclass(frozen=True)
class LiveServer:
    url: str
    read_key: str
    write_key: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    from impactlens.service.demo import build_demo

    root = tmp_path_factory.mktemp("demo")
    run = build_demo(root, size="tiny", seed=7)
    read_key = create_key(run.workspace, "read", "browser tests").key
    write_key = create_key(run.workspace, "write", "browser tests").key
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    cmd = [sys.executable, "-c", "from impactlens.cli import main; main()", "serve",
           "--workspace", str(run.workspace.root), "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None and not _healthy(url):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)  # polling for startup, bounded by the deadline
        assert proc.poll() is None, log.read_text()
        yield LiveServer(url, read_key, write_key, run.workspace.root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A logged-in laptop-sized page; fails the test on any console error."""
    context = browser.new_context(viewport={"width": 1366, "height": 820})
    page = context.new_page()
    errors: list[str] = []
    expected = "status of 401"  # the wrong key typed on purpose in the login test

    def on_console(message) -> None:
        if message.type == "error" and expected not in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))
    yield page
    context.close()
    assert errors == [], errors


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def clean_screenshots() -> None:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
