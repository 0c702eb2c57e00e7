"""Which messages of a request are acceptable: decided by ``impactlens.ingest``.

The HTTP edge must answer per message before it acknowledges, so it asks the
importer's own message validation (the rules and reasons ``impactlens import``
applies to an events file) instead of keeping a second copy of the rules.

``validate_messages`` has a fixed cost per call (about 13 ms here) on top of a
cost per message, so validating each 100-message request on its own would
spend most of the time on that fixed part. ``GroupValidator`` does for
validation what the spool does for fsync: one thread takes every request
waiting, validates all their messages in one call and hands each request its
own problems back.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from impactlens.config import Workspace
from impactlens.server.segment import MessageError

log = logging.getLogger("impactlens.server")

Problems = dict[int, list[MessageError]]
_GROUP_MAX_MESSAGES = 5000


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


class GroupValidator:
    """Validates the messages of concurrent requests together, one call per group."""

    def __init__(self, check: Callable[[list[dict[str, Any]]], Problems]) -> None:
        self._check = check
        self._queue: queue.SimpleQueue[tuple[list[dict], Future[Problems]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="impactlens-validate", daemon=True)
        self._thread.start()

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> GroupValidator:
        return cls(lambda messages: check_messages(messages, workspace))

    def submit(self, messages: list[dict[str, Any]]) -> Future[Problems]:
        future: Future[Problems] = Future()
        if not messages:
            future.set_result({})
        else:
            self._queue.put((messages, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            size = len(item[0])
            while size < _GROUP_MAX_MESSAGES:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                size += len(nxt[0])
            self._validate(group)

    def _validate(self, group: list[tuple[list[dict], Future[Problems]]]) -> None:
        combined = [m for messages, _ in group for m in messages]
        try:
            found = self._check(combined)
        except Exception:
            if len(group) == 1:  # a bug in validation: fail this request, keep serving
                log.exception("validating %d messages failed", len(combined))
                group[0][1].set_exception(RuntimeError("message validation failed"))
                return
            for item in group:  # find the request that trips it; the others go through
                self._validate([item])
            return
        start = 0
        for messages, future in group:
            end = start + len(messages)
            mine = {
                i - start: [MessageError(e.index - start, e.field, e.reason) for e in errs]
                for i, errs in found.items()
                if start <= i < end
            }
            future.set_result(mine)
            start = end
