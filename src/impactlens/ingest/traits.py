"""``identify`` and ``group`` messages as updates of users and accounts.

identify: ``traits.createdAt`` -> ``users.created_at``; ``traits.accountId``
(or ``traits.groupId``, else ``context.groupId``) -> ``users.account_id``;
every other trait is merged into ``users.attributes``.

group: ``groupId`` is the account; ``traits.name/plan/segment`` -> columns,
``traits.createdAt/churnedAt`` -> ``created_at/churned_at``, everything else
(``mrr`` included) is merged into ``accounts.attributes``; the message's
``userId`` gets ``users.account_id = groupId``.

Neither is stored in ``events``.
"""

from __future__ import annotations

from typing import Any

from impactlens.ingest.message_checks import RowProblem
from impactlens.ingest.people import Update
from impactlens.ingest.values import TIMESTAMP_HINT, as_text, parse_timestamp

_USER_ACCOUNT_TRAITS = ("accountId", "account_id", "groupId", "group_id")
_ACCOUNT_TEXT = ("name", "plan", "segment")
_TIMES = {"createdAt": "created_at", "created_at": "created_at", "churnedAt": "churned_at",
          "churned_at": "churned_at"}  # fmt: skip


def _times(traits: dict[str, Any], allowed: tuple[str, ...], seq: int, line: int,
           columns: dict[str, Any], problems: list[RowProblem]) -> None:  # fmt: skip
    for trait, column in _TIMES.items():
        if trait not in traits or column not in allowed:
            continue
        value = traits.pop(trait)
        if value is None:
            continue
        parsed = parse_timestamp(value)
        if parsed is None:
            problems.append(RowProblem(seq, line, f"traits.{trait}",
                                       f"unparseable timestamp {str(value)!r} ({TIMESTAMP_HINT})"))  # fmt: skip
        else:
            columns[column] = parsed


def _id(value: Any) -> str | None:
    text = as_text(value)
    return text or None


def people_updates(
    message: dict[str, Any], seq: int, line: int
) -> tuple[list[Update], list[RowProblem]]:
    """The user/account updates an identify or group message asks for, or its problems."""
    traits = dict(message.get("traits") or {})
    context = message.get("context") or {}
    problems: list[RowProblem] = []
    columns: dict[str, Any] = {}
    user_id = _id(message.get("userId"))
    if message.get("type") == "identify":
        _times(traits, ("created_at",), seq, line, columns, problems)
        account = None
        for name in _USER_ACCOUNT_TRAITS:
            if name in traits:
                account = _id(traits.pop(name)) or account
        account = account or _id(context.get("groupId"))
        if account:
            columns["account_id"] = account
        assert user_id is not None  # checked: identify without userId is rejected earlier
        return [Update("users", user_id, columns, traits)], problems
    group_id = _id(message.get("groupId"))
    assert group_id is not None  # checked: group without groupId is rejected earlier
    _times(traits, ("created_at", "churned_at"), seq, line, columns, problems)
    for name in _ACCOUNT_TEXT:
        if name in traits:
            value = traits.pop(name)
            if value is not None and as_text(value) is None:
                problems.append(
                    RowProblem(seq, line, f"traits.{name}", f"traits.{name} must be text")
                )
            else:
                columns[name] = as_text(value)
    updates = [Update("accounts", group_id, columns, traits)]
    if user_id:
        updates.append(Update("users", user_id, {"account_id": group_id}, {}))
    return updates, problems
