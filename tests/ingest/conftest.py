"""Fixtures for the importer tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def disk_warehouse(tmp_path):
    """A warehouse in a DuckDB file (for tests that reopen it)."""
    from impactlens.warehouse import Warehouse

    wh = Warehouse.connect(f"duckdb://{tmp_path / 'wh.duckdb'}")
    wh.ensure_schema()
    yield wh
    wh.close()
