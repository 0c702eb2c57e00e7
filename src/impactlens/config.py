"""The workspace: a folder with ``impactlens.yaml``, ``metrics.yaml`` and the warehouse.

``impactlens.yaml`` is validated at the boundary with pydantic (``extra="forbid"``)
so a typo in a key is an error that names the key, not a silent default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from impactlens.errors import Problem, UserError, ValidationError

CONFIG_FILE = "impactlens.yaml"
METRICS_FILE = "metrics.yaml"
STATE_DIR = ".impactlens"
WORKSPACE_ENV = "IMPACTLENS_WORKSPACE"


class ReservedEvents(BaseModel):
    """Event names with a meaning of their own (the contract's defaults)."""

    model_config = ConfigDict(extra="forbid")

    experiment_viewed: str = "Experiment Viewed"
    survey_responded: str = "Survey Responded"


class WorkspaceConfig(BaseModel):
    """The contents of ``impactlens.yaml``."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    name: str = "impactlens workspace"
    warehouse: str = f"duckdb:///{STATE_DIR}/warehouse.duckdb"
    timezone: str = "UTC"
    metrics: str = METRICS_FILE
    reserved_events: ReservedEvents = Field(default_factory=ReservedEvents)
    # Sections owned by later analyses (health, churn, server ...) live here as
    # free-form mappings validated by their own modules.
    health: dict[str, Any] = Field(default_factory=dict)
    churn: dict[str, Any] = Field(default_factory=dict)
    server: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: where it is and what its config says."""

    root: Path
    config: WorkspaceConfig

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def metrics_path(self) -> Path:
        return self.root / self.config.metrics

    @property
    def warehouse_url(self) -> str:
        return self.config.warehouse

    def connect(self, *, read_only: bool = False):  # -> Warehouse (import kept local: layers)
        """Open this workspace's warehouse, creating or migrating its schema."""
        from impactlens.warehouse import Warehouse

        wh = Warehouse.connect(self.warehouse_url, base_dir=self.root, read_only=read_only)
        if not read_only:
            wh.ensure_schema()
        return wh


def starter_metrics_text() -> str:
    """The starter ``metrics.yaml`` shipped with the metrics layer."""
    return resources.files("impactlens.metrics").joinpath("starter_metrics.yaml").read_text()


def default_config_text(root: Path, *, timezone: str = "UTC") -> str:
    db = (root.resolve() / STATE_DIR / "warehouse.duckdb").as_posix()
    return (
        "# impactlens workspace configuration\n"
        "version: 1\n"
        f"name: {root.resolve().name}\n"
        "# Where the data lives. DuckDB (embedded) by default; see docs/engines.md for Spark/ClickHouse.\n"
        f"warehouse: duckdb://{db}\n"
        "# Days and weeks are cut in this time zone (IANA name).\n"
        f"timezone: {timezone}\n"
        "metrics: metrics.yaml\n"
        "# Event names with a special meaning in the data contract.\n"
        "reserved_events:\n"
        "  experiment_viewed: Experiment Viewed\n"
        "  survey_responded: Survey Responded\n"
    )


def init_workspace(root: Path, *, timezone: str = "UTC", force: bool = False) -> Workspace:
    """Write ``impactlens.yaml`` and a starter ``metrics.yaml`` into ``root``.

    Existing files are kept unless ``force``; the warehouse is created empty.
    """
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_FILE
    if force or not config_path.exists():
        config_path.write_text(default_config_text(root, timezone=timezone))
    metrics_path = root / METRICS_FILE
    if force or not metrics_path.exists():
        metrics_path.write_text(starter_metrics_text())
    (root / STATE_DIR).mkdir(exist_ok=True)
    workspace = load_workspace(root)
    workspace.connect().close()
    return workspace


def find_workspace(start: Path | None = None) -> Path:
    """The workspace folder: ``$IMPACTLENS_WORKSPACE``, or the nearest folder up with impactlens.yaml."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).exists():
            return folder
    raise UserError(
        f"no {CONFIG_FILE} found in {here} or above; run `impactlens init` or pass --workspace"
    )


def load_workspace(root: Path | None = None) -> Workspace:
    """Load and validate ``impactlens.yaml``; every problem is reported at once."""
    root = (root or find_workspace()).resolve()
    path = root / CONFIG_FILE
    if not path.exists():
        raise UserError(f"{path} does not exist; run `impactlens init {root}`")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationError(
            [Problem(f"not valid YAML: {exc}", file=str(path), line=line)]
        ) from exc
    if not isinstance(raw, dict):
        raise ValidationError([Problem("expected a mapping of settings", file=str(path))])
    try:
        config = WorkspaceConfig.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [
            Problem(err["msg"], file=str(path), field=".".join(str(p) for p in err["loc"]))
            for err in exc.errors()
        ]
        raise ValidationError(problems, f"{path} has {len(problems)} problem(s)") from exc
    return Workspace(root=root, config=config)
