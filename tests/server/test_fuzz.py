"""Schemathesis against /openapi.json: whatever the spec allows, the server never answers 5xx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from server_helpers import basic, bearer, make_workspace

from impactlens.server import create_app, settings_for_workspace
from impactlens.server.keys import create_key

schemathesis = pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow
EXAMPLES = 12


def test_no_operation_answers_5xx(tmp_path) -> None:
    ws = make_workspace(tmp_path / "acme")
    read, write = create_key(ws, "read").key, create_key(ws, "write").key
    app = create_app(settings_for_workspace(ws))
    failures: list[tuple[str, int, str]] = []
    with TestClient(app):  # runs the lifespan: warehouse, spool, loader
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            fuzz(operation, basic(write) if operation.path.startswith("/v1/") else bearer(read),
                 failures)  # fmt: skip
    assert failures == []


def fuzz(operation, headers: dict[str, str], failures: list) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append((operation.label, response.status_code, response.text[:200]))

    check()
