"""What an import did: per file, per message batch, and in total.

These are the results the CLI renders (and prints with ``--json``) and the
HTTP ingest API returns; they carry every rejected row with its place and
reason, so a user fixes a file in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from impactlens.errors import Problem

FileStatus = Literal["loaded", "failed", "skipped"]


@dataclass(frozen=True)
class FileReport:
    """One file's outcome.

    ``rows_read = rows_loaded + rows_duplicate + rows_rejected`` always holds.
    ``rows_duplicate`` counts rows that changed nothing: an event whose
    ``messageId`` was already stored (or seen earlier in the file), a reference
    row identical to the stored one. ``messages`` counts the valid Segment
    messages of an events file by type (track, identify, group, page, screen).
    A ``failed`` file wrote nothing; ``skipped`` means the file was not
    recognised as a contract entity (see ``rejections`` for why).
    """

    file: str
    entity: str | None
    form: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rejections: tuple[Problem, ...] = ()
    status: FileStatus = "loaded"
    messages: Mapping[str, int] = field(default_factory=dict)
    sha256: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "entity": self.entity,
            "form": self.form,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected,
            "messages": dict(self.messages),
            "sha256": self.sha256,
            "rejections": [p.to_dict() for p in self.rejections],
        }


@dataclass(frozen=True)
class ImportReport:
    """The outcome of ``import_path``: one report per file, in import order.

    ``rollup_seconds``: how long the rollup refresh after the files took (None
    when nothing was pending or the caller deferred it).
    """

    path: str
    files: tuple[FileReport, ...]
    rollup_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """True when no file failed (rows rejected under ``skip`` do not make it false)."""
        return all(f.status != "failed" for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.rows_duplicate for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(p for f in self.files for p in f.rejections)

    def file(self, name: str) -> FileReport:
        """The report of the file whose path ends with ``name`` (tests and callers use stems)."""
        for report in self.files:
            if report.file == name or report.file.endswith("/" + name):
                return report
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "ok": self.ok,
            "totals": {
                "files": len(self.files),
                "files_failed": sum(f.status == "failed" for f in self.files),
                "files_skipped": sum(f.status == "skipped" for f in self.files),
                "rows_read": self.rows_read,
                "rows_loaded": self.rows_loaded,
                "rows_duplicate": self.rows_duplicate,
                "rows_rejected": self.rows_rejected,
            },
            "rollup_seconds": self.rollup_seconds,
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class MessageProblem:
    """Why one message of an HTTP batch was rejected (``index`` is 0-based)."""

    index: int
    field: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class MessagesResult:
    """The outcome of ``import_messages``: the valid messages were written together."""

    received: int
    loaded: int
    duplicates: int
    rejected: tuple[MessageProblem, ...]
    messages: Mapping[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "received": self.received,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "messages": dict(self.messages),
            "rejected": [p.to_dict() for p in self.rejected],
        }
