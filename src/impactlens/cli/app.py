"""The Typer application, shared options and the one error handler of the CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from impactlens.config import WORKSPACE_ENV, Workspace, find_workspace, load_workspace
from impactlens.errors import ImpactlensError, UserError, ValidationError

app = typer.Typer(
    name="impactlens",
    help=(
        "Measure the customer impact of engineering work: import product and business data, "
        "define metrics, read experiments and releases, review what moved."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

console = Console()
err_console = Console(stderr=True)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $IMPACTLENS_WORKSPACE or the nearest folder with impactlens.yaml).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]


def open_workspace(path: Path | None) -> Workspace:
    """Load the workspace named on the command line, or find it."""
    return load_workspace(path if path is not None else find_workspace())


def print_json(payload: Any) -> None:
    """JSON to stdout: dates and paths as strings, NaN as null."""
    sys.stdout.write(json.dumps(_jsonable(payload), indent=2, default=str) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def run(argv: list[str] | None = None) -> int:
    """Run the app; map impactlens errors to messages and exit codes (user errors exit 2)."""
    try:
        app(args=argv, prog_name="impactlens", standalone_mode=True)
    except SystemExit as exc:  # click's standalone mode ends every run with SystemExit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ValidationError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except ImpactlensError as exc:
        err_console.print(
            f"[red]internal error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 1
    return 0


@app.callback()
def _global_options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder for every command (default: $IMPACTLENS_WORKSPACE "
            "or the nearest folder up with impactlens.yaml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Measure the customer impact of engineering work."""
    if workspace is not None:
        os.environ[WORKSPACE_ENV] = str(workspace.resolve())
