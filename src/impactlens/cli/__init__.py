"""The `impactlens` command: a thin shell over the library.

Each command module (`cli/data.py`, `cli/metrics.py`, ...) defines its commands
on the shared ``app`` and holds no SQL and no statistics: parse, one library
call, render. Every command that reports data has ``--json``.
"""

from __future__ import annotations

import importlib
import sys

from impactlens.cli.app import app, run

# Command modules register themselves on import. A module that is not there yet
# (an analysis still being built) is skipped, never half-registered.
COMMAND_MODULES = (
    "impactlens.cli.data",
    "impactlens.cli.metrics",
    "impactlens.cli.experiments",
    "impactlens.cli.releases",
    "impactlens.cli.accounts",
    "impactlens.cli.backlog",
    "impactlens.cli.serve",
)

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise


def main() -> None:
    """Console entry point."""
    sys.exit(run())


__all__ = ["app", "main"]
