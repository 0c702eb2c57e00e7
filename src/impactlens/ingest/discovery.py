"""Which files to import, as which entity and form, in which order.

A file is recognised by its stem (``events``, ``accounts``, ...; ``events-2026-03``
and ``events_part1`` count as ``events``) and by its suffix (``.csv``,
``.parquet``, ``.ndjson``/``.jsonl``, ``.json``, YAML where the contract allows
it, each optionally ``.gz``). Inside a folder named after an entity
(``events/``), every file belongs to that entity whatever its name.

Import order: accounts and users first, so events resolve their account at
import; then events; then everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from impactlens.warehouse.schema import TABLES

# exposures are derived from events, never imported as a file.
IMPORT_ORDER: tuple[str, ...] = (
    "accounts",
    "users",
    "events",
    "releases",
    "experiments",
    "surveys",
    "tickets",
    "revenue",
    "deployments",
    "incidents",
    "backlog",
)
assert set(IMPORT_ORDER) <= set(TABLES)

YAML_ENTITIES = frozenset({"releases", "experiments", "backlog"})

_FORMS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
}


@dataclass(frozen=True)
class FileTask:
    """One file to import: where it is, what it holds and how it is encoded."""

    path: Path
    entity: str | None
    form: str | None
    gzip: bool = False
    problem: str | None = None  # why the file cannot be imported, if it cannot

    @property
    def label(self) -> str:
        """The form as reported, e.g. ``ndjson`` or ``csv.gz``."""
        return f"{self.form}.gz" if self.gzip and self.form else (self.form or "")


def split_name(path: Path) -> tuple[str, str | None, bool]:
    """``events-2026.ndjson.gz`` -> (``events-2026``, ``ndjson``, True)."""
    name = path.name
    gzip = name.lower().endswith(".gz")
    if gzip:
        name = name[:-3]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return name, None, gzip
    return stem, _FORMS.get("." + suffix.lower()), gzip


def entity_for_stem(stem: str) -> str | None:
    """The entity a file stem names: exact, or the entity name followed by - _ or ."""
    lowered = stem.lower()
    for entity in IMPORT_ORDER:
        if lowered == entity or (lowered.startswith(entity) and lowered[len(entity)] in "-_."):
            return entity
    return None


def classify(path: Path, folder_entity: str | None = None) -> FileTask:
    """Decide entity and form of one file; ``problem`` says why it cannot be imported."""
    stem, form, gzip = split_name(path)
    entity = folder_entity or entity_for_stem(stem)
    if entity is None:
        known = ", ".join(IMPORT_ORDER)
        return FileTask(
            path, None, form, gzip, f"not a contract file: name it after one of {known}"
        )
    if form is None:
        return FileTask(
            path,
            entity,
            None,
            gzip,
            "unknown file type: use .csv, .parquet, .ndjson, .jsonl or .json",
        )
    if form == "yaml" and entity not in YAML_ENTITIES:
        return FileTask(
            path, entity, form, gzip, "YAML is accepted for releases, experiments and backlog only"
        )
    return FileTask(path, entity, form, gzip)


def discover(path: Path) -> list[FileTask]:
    """Every file under ``path`` (a file or a folder), in import order.

    Hidden files are ignored. Files that are not contract files come last with
    their ``problem`` set; the importer reports them as skipped.
    """
    if path.is_file():
        return [classify(path)]
    tasks: list[FileTask] = []
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = item.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        folder_entity = None
        for part in relative.parts[:-1]:
            if part.lower() in IMPORT_ORDER:
                folder_entity = part.lower()
        tasks.append(classify(item, folder_entity))
    rank = {entity: i for i, entity in enumerate(IMPORT_ORDER)}
    return sorted(tasks, key=lambda t: (rank.get(t.entity or "", len(rank)), str(t.path)))
