"""`impactlens keys ...` and `impactlens serve` argument checks, as a user runs them."""

from __future__ import annotations

import json

from impactlens.cli.app import run
from impactlens.config import load_workspace
from impactlens.server import settings_for_workspace
from impactlens.server.keys import keys_path, load_keys, parse_key


def test_keys_create_prints_the_key_once_and_list_never_shows_it(tmp_path, capsys) -> None:
    ws = tmp_path / "acme"
    assert run(["init", str(ws)]) == 0
    capsys.readouterr()
    assert (
        run(["keys", "create", "--kind", "write", "--label", "web", "-w", str(ws), "--json"]) == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert parse_key(created["key"]) is not None and created["kind"] == "write"
    assert created["key"] not in keys_path(load_workspace(ws)).read_text()

    assert run(["keys", "list", "-w", str(ws), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{k: created[k] for k in listed[0]}]
    assert "key" not in listed[0] and "sha256" not in listed[0]

    assert run(["keys", "revoke", created["key_id"], "-w", str(ws)]) == 0
    assert load_keys(load_workspace(ws))[0].revoked_at is not None
    assert run(["keys", "revoke", "nope", "-w", str(ws)]) == 2
    assert run(["keys", "create", "--kind", "admin", "-w", str(ws)]) == 2


def test_open_is_refused_off_loopback_and_bad_server_settings_are_named(tmp_path, capsys) -> None:
    ws = tmp_path / "acme"
    run(["init", str(ws)])
    capsys.readouterr()
    assert run(["serve", "--open", "--host", "0.0.0.0", "-w", str(ws)]) == 2
    assert "127.0.0.1" in capsys.readouterr().err
    config = ws / "impactlens.yaml"
    config.write_text(config.read_text() + "server:\n  max_batch_bytes: 1024000\n  max_btach: 1\n")
    assert run(["serve", "-w", str(ws)]) == 2
    assert "max_btach" in capsys.readouterr().err
    config.write_text(config.read_text().replace("  max_btach: 1\n", ""))
    assert settings_for_workspace(load_workspace(ws)).limits.max_batch_bytes == 1024000
