"""One error hierarchy for the whole library.

User errors (bad input, bad configuration) map to exit code 2 in the CLI and to
HTTP 4xx in the server; anything else is an internal error. A user error names
where the problem is (file, line or row, field) and what would fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and why it is wrong."""

    reason: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    hint: str | None = None

    def location(self) -> str:
        parts = [p for p in (self.file, f"line {self.line}" if self.line else None) if p]
        where = ":".join(parts) if parts else "input"
        if self.field:
            where += f" [{self.field}]"
        return where

    def __str__(self) -> str:
        text = f"{self.location()}: {self.reason}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "reason": self.reason,
            "hint": self.hint,
        }


class ImpactlensError(Exception):
    """Root of every error impactlens raises on purpose."""


class UserError(ImpactlensError):
    """The input or the configuration is wrong; the user can fix it."""

    exit_code = 2
    http_status = 400


class NotFoundError(UserError):
    """A named thing (metric, release, experiment, account) does not exist."""

    http_status = 404


class ValidationError(UserError):
    """Input broke the contract; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problem(s) in the input"
        body = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            body += f"\n  ... and {more} more"
        super().__init__(f"{head}\n{body}" if body else head)


class InternalError(ImpactlensError):
    """A bug or an environment failure: not the user's input."""

    exit_code = 1
    http_status = 500


@dataclass
class ProblemList:
    """Collects problems so validation can report all of them in one pass."""

    items: list[Problem] = field(default_factory=list)

    def add(self, reason: str, **where: object) -> None:
        self.items.append(Problem(reason=reason, **where))  # type: ignore[arg-type]

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, summary: str | None = None) -> None:
        if self.items:
            raise ValidationError(self.items, summary)
