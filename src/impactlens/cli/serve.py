"""`impactlens serve` and `impactlens keys`: run the server, manage its API keys."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from impactlens.cli.app import JsonOption, WorkspaceOption, app, console, open_workspace, print_json
from impactlens.errors import UserError

keys_app = typer.Typer(help="Create, list and revoke API keys (stored hashed, shown once).")
app.add_typer(keys_app, name="keys")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workspace: WorkspaceOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A server.yaml listing several workspace folders (instead of --workspace).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    open_access: Annotated[
        bool,
        typer.Option(
            "--open",
            help="Read API and dashboard without a key (local single-user use; loopback only). "
            "Ingest still needs a write key.",
        ),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the Segment-compatible ingest API, the read API and the dashboard."""
    from impactlens.server import settings_for_workspace, settings_from_file
    from impactlens.server.app import run_server
    from impactlens.server.keys import load_keys

    if open_access and not _is_loopback(host):
        raise UserError(f"--open serves data without a key; listen on 127.0.0.1, not {host}")
    if config is not None:
        settings = settings_from_file(config, open_access=open_access)
    else:
        settings = settings_for_workspace(open_workspace(workspace), open_access=open_access)
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"impactlens serving on [bold]http://{shown_host}:{port}/[/bold]")
    for ws in settings.workspaces:
        kinds = {r.kind for r in load_keys(ws) if r.active}
        missing = [k for k in ("write", "read") if k not in kinds]
        console.print(f"  workspace {ws.root}")
        for kind in missing:
            if kind == "read" and open_access:
                continue
            console.print(
                f"    no {kind} key yet: impactlens keys create --kind {kind} --workspace {ws.root}"
            )
    run_server(settings, host=host, port=port, log_level=log_level, access_log=access_log)


@keys_app.command("create")
def keys_create(
    kind: Annotated[str, typer.Option("--kind", help="write (ingest only) or read (read only).")],
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key bound to the workspace; it is printed once and stored only hashed."""
    from impactlens.server.keys import create_key

    new = create_key(open_workspace(workspace), kind, label)
    if as_json:
        print_json({**new.record.public(), "key": new.key})
        return
    console.print(f"New {kind} key (id {new.record.key_id}). Copy it now; it is not shown again:")
    typer.echo(new.key)
    if kind == "write":
        console.print("Point a Segment SDK at this server with it as the write key.")


@keys_app.command("list")
def keys_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Keys of the workspace (ids, kinds, labels; never the keys)."""
    from impactlens.server.keys import load_keys

    records = load_keys(open_workspace(workspace))
    if as_json:
        print_json([r.public() for r in records])
        return
    table = Table(title="API keys", title_justify="left")
    for col in ("id", "kind", "label", "created", "revoked"):
        table.add_column(col)
    for r in records:
        table.add_row(r.key_id, r.kind, r.label, r.created_at, r.revoked_at or "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key; a running server refuses it within a second."""
    from impactlens.server.keys import revoke_key

    record = revoke_key(open_workspace(workspace), key_id)
    console.print(f"Revoked {record.kind} key {record.key_id}.")
