"""Field references used by filters and segments: ``namespace.path``.

``event.flags.search_v2``  a JSON path into the event's ``properties``
``account.plan``           an ``accounts`` column, else a key of ``accounts.attributes``
``user.role``              a ``users`` column, else a key of ``users.attributes``
``flag.search_v2``         the actor's latest value of ``properties.flags.search_v2``
``ticket.priority``        a ``tickets`` column (tickets metrics only)

Bare ``plan`` and ``segment`` mean ``account.plan`` and ``account.segment``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMESPACES = ("event", "account", "user", "flag", "ticket")
SHORTHANDS = {"plan": "account.plan", "segment": "account.segment"}
ACCOUNT_COLUMNS = ("account_id", "name", "plan", "segment", "created_at", "churned_at")
USER_COLUMNS = ("user_id", "account_id", "created_at")
TICKET_COLUMNS = ("priority", "status", "feature", "tags", "satisfaction", "user_id", "account_id")
_KEY = re.compile(r"^[A-Za-z0-9_$\-]+$")

# Which namespaces each source table can resolve.
SOURCE_NAMESPACES: dict[str, tuple[str, ...]] = {
    "events": ("event", "account", "user", "flag"),
    "surveys": ("account", "user", "flag"),
    "tickets": ("account", "user", "flag", "ticket"),
    "revenue": ("account",),
}


@dataclass(frozen=True)
class FieldRef:
    """A parsed field: its namespace and the path inside it."""

    namespace: str
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join((self.namespace, *self.path))


def parse_field(text: str) -> FieldRef:
    """Parse ``account.plan`` or ``event.flags.search_v2``; ValueError says what is wrong.

    >>> parse_field("plan")
    FieldRef(namespace='account', path=('plan',))
    """
    text = SHORTHANDS.get(text.strip(), text.strip())
    namespace, _, rest = text.partition(".")
    if namespace not in NAMESPACES:
        raise ValueError(
            f"unknown field namespace {namespace!r}; write one of "
            + ", ".join(f"{n}.<name>" for n in NAMESPACES)
        )
    path = tuple(rest.split(".")) if rest else ()
    if not path or not all(_KEY.match(part) for part in path):
        raise ValueError(f"{text!r} needs a name after {namespace!r}, e.g. {namespace}.plan")
    if namespace in ("flag", "ticket") and len(path) != 1:
        raise ValueError(f"{namespace}.<name> takes one name, got {rest!r}")
    if namespace == "ticket" and path[0] not in TICKET_COLUMNS:
        raise ValueError(
            f"tickets have no column {path[0]!r}; use one of {', '.join(TICKET_COLUMNS)}"
        )
    return FieldRef(namespace, path)
