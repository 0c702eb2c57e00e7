"""Helpers for the server tests (imported by conftest and test modules)."""

from __future__ import annotations

import base64
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 and warns once when only httpx is installed; the
    # client works the same. (httpx2 belongs in the test extras.)
    warnings.filterwarnings("ignore", message=".*install `httpx2` instead")
    from fastapi.testclient import TestClient

from impactlens.config import Workspace, init_workspace
from impactlens.server import ServerSettings, create_app


def basic(key: str) -> dict[str, str]:
    """The Authorization header a Segment SDK sends: the key as username, no password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True)
class Served:
    client: TestClient
    workspace: Workspace
    write_key: str
    read_key: str

    @property
    def runtime(self):
        return self.client.app.state.runtime.get(self.workspace.root)

    def wait_loaded(self) -> None:
        assert self.runtime.loader.wait_loaded(timeout=30), "the loader did not catch up"

    def count(self, table: str) -> int:
        return self.runtime.read(lambda wh: wh.count(table))


def make_workspace(root: Path, metrics: str | None = None) -> Workspace:
    ws = init_workspace(root)
    if metrics is not None:
        (root / "metrics.yaml").write_text(metrics)
    return ws


def serve(settings: ServerSettings, **client_options) -> TestClient:
    return TestClient(create_app(settings), **client_options)
