"""Segment's HTTP Tracking API at the edge: bodies, limits, defaults, validation.

What this module adds to a message is what Segment's own API adds, so SDKs
behave as they do against Segment:

- the endpoint sets ``type`` (``/v1/track`` -> ``track``); in a batch each
  message carries its own type;
- a batch's top-level ``context`` applies to every message (the message's own
  keys win);
- ``receivedAt`` is the server's clock; a message without ``timestamp`` gets
  ``originalTimestamp`` corrected for client clock skew with ``sentAt``
  (``receivedAt - (sentAt - originalTimestamp)``), or else ``receivedAt``.

Whether a message is acceptable is decided by ``impactlens.ingest`` (the same
rules and reasons as ``impactlens import``), never here.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from impactlens.errors import UserError

SINGLE_TYPES = ("track", "identify", "group", "page", "screen")


class PayloadTooLarge(UserError):
    """A request or a decompressed body over the configured limit."""

    http_status = 413


class BadPayload(UserError):
    """A body that is not JSON, or not shaped like a Segment call at all."""

    http_status = 400


@dataclass(frozen=True)
class MessageError:
    """Why one message of a request was not accepted (``index`` is its place in the request)."""

    index: int
    field: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


def human_bytes(n: int) -> str:
    return f"{n / 1024:g} KB ({n} bytes)" if n >= 1024 else f"{n} bytes"


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The body, gunzipped when sent with ``Content-Encoding: gzip``, at most ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding != "gzip":
        raise BadPayload(f"Content-Encoding {encoding!r} is not supported; send gzip or nothing")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadPayload(f"the gzip body cannot be decompressed: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body is larger than {human_bytes(limit)}")
    if not inflater.eof:
        raise BadPayload("the gzip body is truncated")
    return out


def gzip_bytes(data: bytes) -> bytes:
    """Helper for clients and tests: gzip as the Segment SDKs do."""
    return gzip.compress(data)


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadPayload("the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadPayload(f"the request body is not valid JSON: {exc}") from exc


def split_request(payload: Any, kind: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The messages of a request and its envelope (``writeKey``, ``sentAt``, ``context``).

    ``kind`` is the single-message endpoint's type, or None for ``/v1/batch``.
    """
    if not isinstance(payload, dict):
        raise BadPayload("the request body must be a JSON object")
    if kind is not None:
        message = dict(payload)
        message["type"] = kind
        envelope = {"writeKey": payload.get("writeKey"), "sentAt": payload.get("sentAt")}
        return [message], envelope
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise BadPayload('a batch request needs "batch": an array of messages')
    envelope = {k: payload.get(k) for k in ("writeKey", "sentAt", "context")}
    return batch, envelope


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalize(
    message: dict[str, Any], envelope: dict[str, Any], received: datetime, received_iso: str = ""
) -> dict:
    """Segment's server-side defaults applied to one message (a new dict)."""
    received_iso = received_iso or _iso(received)
    out = dict(message)
    out.pop("writeKey", None)
    shared = envelope.get("context")
    if isinstance(shared, dict):
        own = out.get("context")
        out["context"] = {**shared, **own} if isinstance(own, dict) else dict(shared)
    out["receivedAt"] = received_iso
    if out.get("timestamp") in (None, ""):
        original = _parse_time(out.get("originalTimestamp"))
        sent = _parse_time(out.get("sentAt") or envelope.get("sentAt"))
        if original is not None and sent is not None:
            out["timestamp"] = _iso(received - (sent - original))
        elif original is not None:
            out["timestamp"] = _iso(original)
        elif out.get("originalTimestamp") is not None:
            out["timestamp"] = out["originalTimestamp"]  # unparseable: the importer says why
        else:
            out["timestamp"] = received_iso
    return out


def encode_lines(
    messages: list[Any], envelope: dict[str, Any], max_message_bytes: int, received: datetime
) -> tuple[list[int], list[dict], list[bytes], list[MessageError]]:
    """Normalize each message and enforce the per-message size limit.

    Returns the indexes, messages and encoded NDJSON lines of the candidates,
    and the errors of the rest (not an object, too large).
    """
    indexes: list[int] = []
    kept: list[dict] = []
    lines: list[bytes] = []
    errors: list[MessageError] = []
    received_iso = _iso(received)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append(MessageError(index, None, "a message must be a JSON object"))
            continue
        normalized = normalize(message, envelope, received, received_iso)
        line = orjson.dumps(normalized)
        if len(line) > max_message_bytes:
            errors.append(
                MessageError(
                    index,
                    None,
                    f"the message is {len(line)} bytes, over the {human_bytes(max_message_bytes)}"
                    " limit per message",
                )
            )
            continue
        indexes.append(index)
        kept.append(normalized)
        lines.append(line + b"\n")
    return indexes, kept, lines, errors
