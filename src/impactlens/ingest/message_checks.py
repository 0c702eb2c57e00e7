"""The contract's rules for Segment messages, applied to a whole batch at once.

Each rule is a boolean mask over the batch (pyarrow.compute); Python only
loops over the rows a rule rejects, to word the reason. Every rule is
checked, so a message with two problems reports both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from impactlens.ingest.segment import (
    EVENT_TYPES,
    ID_TYPES,
    TYPES,
    Fields,
    RawMessages,
    canonical_hash,
    invalid_json_detail,
    json_type,
    serialisable_detail,
)
from impactlens.ingest.values import (
    TIMESTAMP_HINT,
    TS_TYPE,
    is_timestamp,
    parse_timestamp_array,
)

STAGED_EVENT = pa.schema(
    [
        ("_seq", pa.int64()),
        ("_line", pa.int64()),
        ("message_id", pa.string()),
        ("timestamp", TS_TYPE),
        ("type", pa.string()),
        ("event", pa.string()),
        ("user_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("account_id", pa.string()),
        ("properties", pa.string()),
    ]
)


class RowProblem(NamedTuple):
    """A rejected row: ``seq`` orders it in its file, ``line`` is what the user sees."""

    seq: int
    line: int
    field: str | None
    reason: str


@dataclass(frozen=True)
class CheckedMessages:
    """A validated batch: event rows ready to stage, identify/group rows, problems."""

    events: pa.Table  # STAGED_EVENT
    people: tuple[int, ...]  # row indices of valid identify/group messages
    problems: tuple[RowProblem, ...]
    rejected: int  # rows with at least one problem
    by_type: Counter[str]


def count_values(values: Any) -> Counter[str]:
    """How often each value occurs (vectorised; no Python list of a million strings)."""
    counts = pc.value_counts(values)
    return Counter(
        dict(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        )
    )


def _quote(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def check_messages(raw: RawMessages) -> CheckedMessages:
    """Apply every message rule to ``raw``; see docs/data-contract.md for the list."""
    if raw.checked is not None:
        return raw.checked
    t = raw.table
    f = Fields(t)
    ok = pc.fill_null(t.column("ok"), False)
    obj = pc.and_(ok, pc.fill_null(pc.equal(t.column("root"), "OBJECT"), False))
    type_absent = f.absent("type")
    kind = pc.if_else(type_absent, pa.scalar("track"), f.val("type"))
    typed = pc.or_(type_absent, f.is_one_of("type", ["VARCHAR"]))
    known = pc.and_(typed, pc.fill_null(pc.is_in(kind, pa.array(TYPES)), False))
    is_kind = {k: pc.and_(known, pc.fill_null(pc.equal(kind, k), False)) for k in TYPES}

    ts_string = f.is_one_of("timestamp", ["VARCHAR"])
    ts_text = pc.if_else(ts_string, f.val("timestamp"), pa.scalar(None, pa.string()))
    timestamps = parse_timestamp_array(ts_text.combine_chunks())

    problems: list[RowProblem] = []
    bad = pc.invert(obj)
    seqs, lines = t.column("_seq"), t.column("_line")

    def rule(
        mask: Any, field: str | None, reason: str | Callable[[int], str], *, on_obj: bool = True
    ) -> None:
        nonlocal bad
        mask = pc.fill_null(pc.and_(obj, mask) if on_obj else mask, False)
        if not pc.any(mask).as_py():
            return
        bad = pc.or_(bad, mask)
        for i in pc.indices_nonzero(mask).to_pylist():
            text = reason(i) if callable(reason) else reason
            problems.append(RowProblem(seqs[i].as_py(), lines[i].as_py(), field, text))

    detail, root = t.column("detail"), t.column("root")

    def invalid_json(i: int) -> str:
        why = detail[i].as_py()
        if why is None:
            why = invalid_json_detail(raw.source[i])
        return f"invalid JSON: {why}"

    rule(pc.invert(ok), None, invalid_json, on_obj=False)
    rule(
        pc.and_(ok, pc.invert(obj)),
        None,
        lambda i: f"not an object (a JSON {str(root[i].as_py()).lower()})",
        on_obj=False,
    )
    rule(pc.invert(typed), "type", "type must be a string")
    rule(pc.and_(typed, pc.invert(known)), "type",
         lambda i: f"unknown type {_quote(kind[i].as_py())} (expected {', '.join(TYPES)})")  # fmt: skip
    for field in ("userId", "anonymousId", "messageId", "context.groupId", "groupId"):
        rule(f.wrong_type(field, ID_TYPES), field, f"{field} must be a string")
    for field in ("properties", "context", "traits"):
        rule(f.wrong_type(field, ["OBJECT"]), field, f"{field} must be an object")
    who = pc.or_(f.filled("userId"), f.filled("anonymousId"))
    rule(pc.invert(who), "userId", "no userId or anonymousId")
    rule(f.absent("timestamp"), "timestamp", "missing timestamp")
    rule(
        f.wrong_type("timestamp", ["VARCHAR"]), "timestamp", "timestamp must be an ISO-8601 string"
    )
    rule(pc.and_(ts_string, pc.is_null(timestamps)), "timestamp",
         lambda i: f"unparseable timestamp {_quote(ts_text[i].as_py())} ({TIMESTAMP_HINT})")  # fmt: skip
    rule(pc.and_(is_kind["track"], f.absent("event")), "event", "track without event")
    rule(
        pc.and_(is_kind["track"], f.wrong_type("event", ["VARCHAR"])),
        "event",
        "event must be a string",
    )
    rule(
        pc.and_(is_kind["track"], pc.fill_null(pc.equal(f.val("event"), ""), False)),
        "event",
        "track without event",
    )
    rule(f.wrong_type("name", ["VARCHAR"]), "name", "name must be a string")
    rule(
        pc.and_(is_kind["identify"], pc.invert(f.filled("userId"))),
        "userId",
        "identify without userId",
    )
    rule(
        pc.and_(is_kind["group"], pc.invert(f.filled("groupId"))),
        "groupId",
        "group without groupId",
    )

    valid = pc.invert(bad)
    rejected = t.num_rows - pc.sum(valid).as_py() if t.num_rows else 0
    by_type = count_values(pc.filter(kind, valid)) if t.num_rows else Counter()
    people_mask = pc.and_(valid, pc.or_(is_kind["identify"], is_kind["group"]))
    people = tuple(pc.indices_nonzero(people_mask).to_pylist())
    events = _event_rows(
        raw, f, kind, timestamps, pc.and_(valid, pc.is_in(kind, pa.array(EVENT_TYPES)))
    )
    problems.sort(key=lambda p: p.seq)
    return CheckedMessages(events, people, tuple(problems), rejected, by_type)


def _event_rows(
    raw: RawMessages, f: Fields, kind: Any, timestamps: pa.Array, keep: Any
) -> pa.Table:
    """The staged-event layout of the valid track/page/screen rows."""
    t = raw.table
    null = pa.scalar(None, pa.string())

    def text_if(mask: Any, name: str) -> Any:
        return pc.if_else(mask, f.val(name), null)

    page_name = pc.if_else(f.filled("name", ["VARCHAR"]), f.val("name"), pa.scalar("Page Viewed"))
    screen_name = pc.if_else(
        f.filled("name", ["VARCHAR"]), f.val("name"), pa.scalar("Screen Viewed")
    )
    event = pc.case_when(
        pc.make_struct(pc.equal(kind, "page"), pc.equal(kind, "screen")),
        page_name,
        screen_name,
        f.val("event"),
    )
    message_id = text_if(f.filled("messageId"), "messageId")
    columns = {
        "_seq": t.column("_seq"),
        "_line": t.column("_line"),
        "message_id": message_id,
        "timestamp": timestamps,
        "type": kind,
        "event": event,
        "user_id": text_if(f.filled("userId"), "userId"),
        "anonymous_id": text_if(f.filled("anonymousId"), "anonymousId"),
        "account_id": text_if(f.filled("context.groupId"), "context.groupId"),
        "properties": text_if(f.is_one_of("properties", ["OBJECT"]), "properties"),
    }
    table = pa.table({k: columns[k] for k in STAGED_EVENT.names}).cast(STAGED_EVENT)
    missing = pc.and_(keep, pc.is_null(message_id))
    if pc.any(missing).as_py():
        # Rare in real data (Segment always sets messageId): hash these rows in Python.
        ids = table.column("message_id").to_pylist()
        for i in pc.indices_nonzero(missing).to_pylist():
            ids[i] = canonical_hash(raw.message(i))
        table = table.set_column(2, "message_id", pa.array(ids, pa.string()))
    return table.filter(keep)


# -- the same rules, one parsed message at a time -----------------------------------
#
# ``check_messages`` pays ~4 ms of Arrow calls per batch whatever its size; an HTTP
# request holds ~100 messages, so the API checks its messages here, in plain Python
# (a few us a message). Same rules, same order, same words: a property test checks
# that the two agree on generated messages.

_ID_FIELDS = ("userId", "anonymousId", "messageId", "context.groupId", "groupId")
_ID_REASONS = tuple(f"{name} must be a string" for name in _ID_FIELDS)
_OBJECT_FIELDS = ("properties", "context", "traits")
_OBJECT_REASONS = tuple(f"{name} must be an object" for name in _OBJECT_FIELDS)
_UNKNOWN_TYPE = "unknown type {} (expected " + ", ".join(TYPES) + ")"


_ID_VALUES = (str, int, float)  # a tuple: isinstance with one is ~5x faster than with a union


def _is_id(value: Any) -> bool:
    """A JSON string or number: the types ``ID_TYPES`` admits."""
    return isinstance(value, _ID_VALUES) and not isinstance(value, bool)


def _filled_id(value: Any) -> bool:
    return value is not None and value != "" and _is_id(value)


def message_kind(message: dict[str, Any]) -> str:
    """The type of a valid message (``track`` when absent)."""
    return message.get("type") or "track"


def check_message(message: Any) -> list[tuple[str | None, str]]:
    """(field, reason) for every rule ``message`` breaks, in ``check_messages``' order.

    A field holding JSON null counts as absent, as in the extracted columns.

    >>> check_message({"type": "track", "userId": "u1", "timestamp": "2026-03-02T10:00:00Z"})
    [('event', 'track without event')]
    """
    detail = serialisable_detail(message)
    if detail is not None:
        return [(None, f"invalid JSON: {detail}")]
    if not isinstance(message, dict):
        return [(None, f"not an object (a JSON {json_type(message).lower()})")]
    # Extraction walks plain dicts only (``extract_dicts``): a subclass has no fields.
    get = message.get if type(message) is dict else {}.get
    problems: list[tuple[str | None, str]] = []
    kind = get("type")
    if kind is not None and not isinstance(kind, str):
        problems.append(("type", "type must be a string"))
        kind = None
    elif kind is None:
        kind = "track"
    elif kind not in TYPES:
        problems.append(("type", _UNKNOWN_TYPE.format(_quote(kind))))
        kind = None
    context = get("context")
    user_id = get("userId")
    ids = (
        user_id,
        get("anonymousId"),
        get("messageId"),
        context.get("groupId") if type(context) is dict else None,
        get("groupId"),
    )
    for name, reason, value in zip(_ID_FIELDS, _ID_REASONS, ids, strict=True):
        if value is not None and not _is_id(value):
            problems.append((name, reason))
    for name, reason in zip(_OBJECT_FIELDS, _OBJECT_REASONS, strict=True):
        value = context if name == "context" else get(name)
        if value is not None and not isinstance(value, dict):
            problems.append((name, reason))
    if not (_filled_id(user_id) or _filled_id(ids[1])):
        problems.append(("userId", "no userId or anonymousId"))
    timestamp = get("timestamp")
    if timestamp is None:
        problems.append(("timestamp", "missing timestamp"))
    elif not isinstance(timestamp, str):
        problems.append(("timestamp", "timestamp must be an ISO-8601 string"))
    elif not is_timestamp(timestamp):
        reason = f"unparseable timestamp {_quote(timestamp)} ({TIMESTAMP_HINT})"
        problems.append(("timestamp", reason))
    if kind == "track":
        event = get("event")
        if event is None or event == "":
            problems.append(("event", "track without event"))
        elif not isinstance(event, str):
            problems.append(("event", "event must be a string"))
    label = get("name")
    if label is not None and not isinstance(label, str):
        problems.append(("name", "name must be a string"))
    if kind == "identify" and not _filled_id(user_id):
        problems.append(("userId", "identify without userId"))
    elif kind == "group" and not _filled_id(ids[4]):
        problems.append(("groupId", "group without groupId"))
    return problems
