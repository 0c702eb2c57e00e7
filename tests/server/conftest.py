"""In-process server fixtures: a fresh workspace, its keys, FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from server_helpers import Served, make_workspace, serve

from impactlens.config import Workspace
from impactlens.server import settings_for_workspace
from impactlens.server.keys import create_key


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "acme")


@pytest.fixture
def served(workspace: Workspace) -> Iterator[Served]:
    write = create_key(workspace, "write", "test").key
    read = create_key(workspace, "read", "test").key
    with serve(settings_for_workspace(workspace)) as client:
        yield Served(client, workspace, write, read)


@pytest.fixture
def small_limits(workspace: Workspace) -> Iterator[Served]:
    """A server with 2 KB per message and 8 KB per batch."""
    write = create_key(workspace, "write").key
    read = create_key(workspace, "read").key
    settings = settings_for_workspace(workspace)
    settings = replace(
        settings,
        limits=replace(settings.limits, max_message_bytes=2048, max_batch_bytes=8192),
    )
    with serve(settings) as client:
        yield Served(client, workspace, write, read)
