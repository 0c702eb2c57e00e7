"""Keys: stored hashed, bound to one workspace, one kind; every failure looks the same."""

from __future__ import annotations

import time

import pytest
from server_helpers import basic, bearer, make_workspace, serve

from impactlens.server import settings_for_workspace, settings_from_file
from impactlens.server.keys import create_key, keys_path, load_keys, revoke_key

TRACK = {"userId": "u1", "event": "Signed Up", "timestamp": "2026-01-05T10:00:00Z"}


def test_keys_are_stored_hashed_with_a_salt(workspace) -> None:
    a = create_key(workspace, "write")
    b = create_key(workspace, "read", "dashboard")
    text = keys_path(workspace).read_text()
    for new in (a, b):
        secret = new.key.rsplit("_", 1)[1]
        assert secret not in text and new.key not in text
    records = load_keys(workspace)
    assert len({r.salt for r in records}) == 2
    assert all(r.matches(n.key.rsplit("_", 1)[1]) for r, n in zip(records, (a, b), strict=True))
    assert oct(keys_path(workspace).stat().st_mode)[-3:] == "600"


def _probes(served, other_key: str) -> dict[str, dict[str, str]]:
    revoked = create_key(served.workspace, "read")
    revoke_key(served.workspace, revoked.record.key_id)
    made_up = "ilr_" + "0" * 12 + "_" + "1" * 48
    wrong_secret = served.read_key[: -len("0" * 48)] + "2" * 48
    return {
        "none": {},
        "garbage": bearer("not-a-key"),
        "unknown": bearer(made_up),
        "wrong secret": bearer(wrong_secret),
        "write key on read API": bearer(served.write_key),
        "revoked": bearer(revoked.key),
        "other workspace's key": bearer(other_key),
        "bad basic": {"Authorization": "Basic %%%"},
    }


def test_every_failed_read_gets_the_same_401(served, tmp_path) -> None:
    other = make_workspace(tmp_path / "other")
    bodies = set()
    for name, headers in _probes(served, create_key(other, "read").key).items():
        response = served.client.get("/api/v1/status", headers=headers)
        assert response.status_code == 401, name
        bodies.add(response.content)
    assert len(bodies) == 1
    assert b"workspace" not in next(iter(bodies))
    assert served.client.get("/api/v1/status", headers=bearer(served.read_key)).status_code == 200
    assert served.client.get("/api/v1/status", headers=basic(served.read_key)).status_code == 200


def test_every_failed_write_gets_the_same_401(served, tmp_path) -> None:
    other = make_workspace(tmp_path / "other")
    probes = _probes(served, create_key(other, "write").key)
    del probes["write key on read API"]
    probes["read key on ingest"] = basic(served.read_key)
    bodies = set()
    for name, headers in probes.items():
        response = served.client.post("/v1/track", json=TRACK, headers=headers)
        assert response.status_code == 401, name
        bodies.add(response.content)
    # A write key in the body (Segment's older form) that is not valid: the same answer.
    response = served.client.post("/v1/track", json={**TRACK, "writeKey": served.read_key})
    bodies.add(response.content)
    response = served.client.post("/v1/track", content=b"{not json")
    bodies.add(response.content)
    assert len(bodies) == 1


def test_a_key_created_or_revoked_while_serving_takes_effect(served) -> None:
    new = create_key(served.workspace, "read")
    deadline = time.monotonic() + 10
    while served.client.get("/api/v1/status", headers=bearer(new.key)).status_code != 200:
        assert time.monotonic() < deadline, "a new key was not picked up"
    revoke_key(served.workspace, new.record.key_id)
    while served.client.get("/api/v1/status", headers=bearer(new.key)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key still works"


def test_workspaces_behind_one_server_are_isolated(tmp_path) -> None:
    a, b = make_workspace(tmp_path / "a"), make_workspace(tmp_path / "b")
    for ws, name in ((a, "alpha"), (b, "beta")):
        path = ws.root / "impactlens.yaml"
        path.write_text(path.read_text().replace(f"name: {ws.root.name}", f"name: {name}"))
    config = tmp_path / "server.yaml"
    config.write_text("workspaces: [a, b]\nmax_batch_bytes: 100000\n")
    keys = {name: (create_key(ws, "write").key, create_key(ws, "read").key) for name, ws in
            (("alpha", a), ("beta", b))}  # fmt: skip
    settings = settings_from_file(config)
    assert settings.limits.max_batch_bytes == 100000
    with serve(settings) as client:
        for name, (_, read) in keys.items():
            status = client.get("/api/v1/status", headers=bearer(read)).json()
            assert status["workspace"] == name
        # Workspace a's write key writes into a only; b's read key sees nothing of it.
        response = client.post("/v1/track", json=TRACK, headers=basic(keys["alpha"][0]))
        assert response.status_code == 200, response.text
        runtime = client.app.state.runtime
        assert runtime.get(a.root).loader.wait_loaded(30)
        counts = {
            name: client.get("/api/v1/status", headers=bearer(keys[name][1])).json()
            for name in keys
        }
        rows = {n: {e["entity"]: e["rows"] for e in c["status"]["entities"]} for n, c in
                counts.items()}  # fmt: skip
        assert rows["alpha"]["events"] == 1 and rows["beta"]["events"] == 0


def test_a_keys_file_copied_into_another_workspace_is_refused(tmp_path) -> None:
    a, b = make_workspace(tmp_path / "a"), make_workspace(tmp_path / "b")
    create_key(a, "write")
    keys_path(b).write_text(keys_path(a).read_text())
    (tmp_path / "server.yaml").write_text("workspaces: [a, b]\n")
    client = serve(settings_from_file(tmp_path / "server.yaml"))
    with pytest.raises(Exception, match="more than one workspace"), client:
        pass


def test_open_mode_reads_without_a_key_but_ingest_still_needs_one(workspace) -> None:
    with serve(settings_for_workspace(workspace, open_access=True)) as client:
        assert client.get("/api/v1/status").status_code == 200
        assert client.get("/").status_code == 200
        assert client.post("/v1/track", json=TRACK).status_code == 401


def test_server_yaml_typos_are_named(tmp_path) -> None:
    make_workspace(tmp_path / "a")
    (tmp_path / "server.yaml").write_text("workspaces: [a]\nmax_batch_byte: 1\n")
    with pytest.raises(Exception, match="max_batch_byte"):
        settings_from_file(tmp_path / "server.yaml")
