"""Shared fixtures: an empty warehouse per test, the shared examples folder, the demo company.

``demo_small`` builds the small demo company (about 1M events) once per test
run and shares it between pytest-xdist workers: the first worker to arrive
builds it under a lock, the others wait for the lock and reuse it. Tests must
treat it as read-only (open it with ``read_only=True`` or copy it).
"""

from __future__ import annotations

import fcntl
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


# A copy of ../shared/spec/examples, so a clone that has no ../shared beside it
# (a CI checkout) still runs the conformance tests; refresh it when the contract grows.
VENDORED_EXAMPLES = REPO / "tests" / "conformance" / "examples"


@pytest.fixture(scope="session")
def shared_examples() -> Path:
    """The contract's examples: $IMPACTLENS_SHARED, else ../shared beside the repo, else the copy."""
    if "IMPACTLENS_SHARED" in os.environ:
        root = Path(os.environ["IMPACTLENS_SHARED"]) / "spec" / "examples"
        if not root.exists():
            pytest.fail(f"IMPACTLENS_SHARED has no spec/examples: {root}")
        return root
    beside = REPO.parent / "shared" / "spec" / "examples"
    return beside if beside.exists() else VENDORED_EXAMPLES


def _shared_demo(tmp_path_factory, size: str, seed: int = 7):
    from impactlens.config import load_workspace
    from impactlens.service.demo import build_demo

    # Under xdist getbasetemp() is per worker and its parent is this run's; without
    # xdist the base itself is this run's (its parent would be shared across runs).
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root = base / f"impactlens-demo-{size}-{seed}"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / ".built"
        if not done.exists():
            build_demo(root, size=size, seed=seed)
            done.write_text("ok")
    return load_workspace(root)


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory):
    """The small demo company's workspace (read-only for tests)."""
    return _shared_demo(tmp_path_factory, "small")


@pytest.fixture(scope="session")
def demo_tiny(tmp_path_factory):
    """The tiny demo company's workspace (read-only for tests)."""
    return _shared_demo(tmp_path_factory, "tiny")
