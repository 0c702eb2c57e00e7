"""Which messages of a request are acceptable: decided by ``impactlens.ingest``.

The HTTP edge must answer per message before it acknowledges, so it asks the
importer's own message validation (the rules and reasons ``impactlens import``
applies to an events file) instead of keeping a second copy of the rules.
``validate_messages`` checks one message at a time in plain Python, with no
fixed cost per call, so each request is checked on its own, in the handler.
"""

from __future__ import annotations

from typing import Any

from impactlens.config import Workspace
from impactlens.server.segment import MessageError

Problems = dict[int, list[MessageError]]


def check_messages(messages: list[dict[str, Any]], workspace: Workspace) -> Problems:
    """Every problem, by position in ``messages``; a message without an entry is acceptable."""
    if not messages:
        return {}
    from impactlens.ingest import validate_messages

    problems = validate_messages(messages, reserved=workspace.config.reserved_events)
    out: Problems = {}
    for problem in problems:
        index = int(problem.index)
        out.setdefault(index, []).append(MessageError(index, problem.field, problem.reason))
    return out
