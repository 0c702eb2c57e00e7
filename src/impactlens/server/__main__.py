"""``python -m impactlens.server --workspace W [--port P]``: the server without the whole CLI.

For process managers and tests that start many servers; ``impactlens serve``
is the documented way and takes the same settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from impactlens.config import load_workspace
from impactlens.server.app import run_server
from impactlens.server.settings import settings_for_workspace, settings_from_file


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m impactlens.server")
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.config is not None:
        settings = settings_from_file(args.config)
    else:
        settings = settings_for_workspace(load_workspace(args.workspace))
    run_server(settings, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
