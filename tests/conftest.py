"""Shared fixtures: an empty warehouse per test, the shared examples folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from impactlens.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def warehouse() -> Warehouse:
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def shared_examples() -> Path:
    root = Path(os.environ.get("IMPACTLENS_SHARED", REPO.parent / "shared")) / "spec" / "examples"
    if not root.exists():
        pytest.skip(f"shared examples not found at {root} (set IMPACTLENS_SHARED)")
    return root
