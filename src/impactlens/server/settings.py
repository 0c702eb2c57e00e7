"""What a running server serves and with which limits.

Two ways to say it:

- one workspace (``impactlens serve --workspace W``): limits come from the
  ``server:`` section of ``W/impactlens.yaml``;
- several workspaces (``impactlens serve --config server.yaml``): the file
  lists the workspace folders and the limits for all of them::

      workspaces: [../acme, ../globex]
      max_batch_bytes: 512000

Both are validated with pydantic (``extra="forbid"``) so a mistyped setting is
an error that names it, never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from impactlens.config import Workspace, load_workspace
from impactlens.errors import Problem, UserError, ValidationError

KB = 1024
MB = 1024 * KB


class ServerOptions(BaseModel):
    """Settings of the ``server:`` section (and of server.yaml)."""

    model_config = ConfigDict(extra="forbid")

    # Segment's own limits: 32 KB per message, 500 KB per batch request.
    max_message_bytes: int = Field(32 * KB, ge=1 * KB, le=16 * MB)
    max_batch_bytes: int = Field(500 * KB, ge=1 * KB, le=256 * MB)
    # Accepted but not yet loaded bytes beyond which ingest answers 429 (retry later).
    max_backlog_bytes: int = Field(2048 * MB, ge=1 * MB)
    spool_segment_bytes: int = Field(64 * MB, ge=64 * KB)
    loader_batch_messages: int = Field(20_000, ge=1, le=1_000_000)


class ServerFile(ServerOptions):
    """A server.yaml: several workspaces behind one server."""

    workspaces: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class IngestLimits:
    """Size limits of the Segment-compatible ingest API, in bytes."""

    max_message_bytes: int = 32 * KB
    max_batch_bytes: int = 500 * KB
    max_backlog_bytes: int = 2048 * MB


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``create_app`` needs: the workspaces, the limits, the access mode."""

    workspaces: tuple[Workspace, ...]
    limits: IngestLimits = IngestLimits()
    open_access: bool = False
    spool_segment_bytes: int = 64 * MB
    loader_batch_messages: int = 20_000

    @classmethod
    def from_options(
        cls, workspaces: tuple[Workspace, ...], options: ServerOptions, *, open_access: bool
    ) -> ServerSettings:
        if open_access and len(workspaces) != 1:
            raise UserError("--open serves one workspace only; drop --open or --config")
        names = [ws.root for ws in workspaces]
        if len(set(names)) != len(names):
            raise UserError("a workspace is listed twice in the server configuration")
        return cls(
            workspaces=workspaces,
            limits=IngestLimits(
                max_message_bytes=options.max_message_bytes,
                max_batch_bytes=options.max_batch_bytes,
                max_backlog_bytes=options.max_backlog_bytes,
            ),
            open_access=open_access,
            spool_segment_bytes=options.spool_segment_bytes,
            loader_batch_messages=options.loader_batch_messages,
        )


def _validated(model: type[BaseModel], raw: object, source: str) -> BaseModel:
    try:
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [
            Problem(err["msg"], file=source, field=".".join(str(p) for p in err["loc"]))
            for err in exc.errors()
        ]
        raise ValidationError(problems, f"{source} has {len(problems)} problem(s)") from exc


def settings_for_workspace(workspace: Workspace, *, open_access: bool = False) -> ServerSettings:
    """Settings for serving one workspace, from its ``server:`` section."""
    source = str(workspace.root / "impactlens.yaml")
    options = _validated(ServerOptions, workspace.config.server, source)
    assert isinstance(options, ServerOptions)
    return ServerSettings.from_options((workspace,), options, open_access=open_access)


def settings_from_file(path: Path, *, open_access: bool = False) -> ServerSettings:
    """Settings from a server.yaml; workspace folders are relative to the file."""
    path = path.resolve()
    if not path.exists():
        raise UserError(f"{path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValidationError([Problem(f"not valid YAML: {exc}", file=str(path))]) from exc
    options = _validated(ServerFile, raw, str(path))
    assert isinstance(options, ServerFile)
    workspaces = tuple(load_workspace((path.parent / p).resolve()) for p in options.workspaces)
    return ServerSettings.from_options(workspaces, options, open_access=open_access)
