"""Segment-compatible ingest: ``/v1/track``, ``/v1/identify``, ... and ``/v1/batch``.

A request is answered 200 only after its accepted messages are on disk in the
workspace's spool (fsync, shared with concurrent requests). The loader moves
them into the warehouse shortly after; see docs/design/ingest-durability.md.

The write key is the HTTP Basic username, as Segment's SDKs send it; a
``writeKey`` in the body (Segment's older form) is accepted too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from impactlens.server.auth import Unauthorized, header_key
from impactlens.server.runtime import WorkspaceRuntime
from impactlens.server.segment import (
    SINGLE_TYPES,
    MessageError,
    PayloadTooLarge,
    decode_body,
    encode_lines,
    human_bytes,
    parse_json,
    split_request,
)
from impactlens.server.spool import SpoolUnavailable
from impactlens.server.validation import check_messages

router = APIRouter(tags=["ingest (Segment HTTP Tracking API)"])

_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "A Segment Spec message (open: extra fields are kept).",
    "properties": {
        "messageId": {"type": "string"},
        "userId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "additionalProperties": True,
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE_SCHEMA},
        "context": {"type": "object"},
        "sentAt": {"type": "string", "format": "date-time"},
    },
}
_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer"},
        "rejected": {"type": "integer"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "field": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


def _openapi(body_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
        "responses": {
            "200": {
                "description": "Accepted messages are durable.",
                "content": {"application/json": {"schema": _RESULT_SCHEMA}},
            },
            "400": {"description": "Not JSON, or no message was acceptable."},
            "401": {"description": "No valid write key."},
            "413": {"description": "Over the request size limit."},
            "429": {"description": "The loader is behind; retry after Retry-After seconds."},
        },
        "security": [{"basicAuth": []}],
    }


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {human_bytes(limit)}; send smaller batches"


async def ingest(request: Request, kind: str | None) -> JSONResponse:
    runtime_all = request.app.state.runtime
    limits = runtime_all.settings.limits
    key = header_key(request)
    principal = runtime_all.keys.authenticate(key, "write") if key else None
    if key and principal is None:
        raise Unauthorized()
    limit = limits.max_batch_bytes if kind is None else limits.max_message_bytes
    raw = await _read_body(request, limit)
    body = decode_body(raw, request.headers.get("content-encoding"), limit)
    received = datetime.now(UTC)
    payload = parse_json(body) if principal is not None else _try_json(body)
    messages, envelope = split_request(payload, kind)
    if principal is None:
        body_key = envelope.get("writeKey")
        principal = (
            runtime_all.keys.authenticate(body_key, "write") if isinstance(body_key, str) else None
        )
        if principal is None:
            raise Unauthorized()
    runtime: WorkspaceRuntime = runtime_all.get(principal.workspace)
    if runtime.loader.stats().pending_bytes > limits.max_backlog_bytes:
        return _answer(
            429, "busy", "the loader is behind; retry later", headers={"Retry-After": "5"}
        )

    indexes, candidates, lines, errors = encode_lines(
        messages, envelope, limits.max_message_bytes, received
    )
    invalid = check_messages(candidates, runtime.workspace)  # plain Python, ~3 us a message
    accepted_lines = [line for i, line in enumerate(lines) if i not in invalid]
    errors += [
        MessageError(indexes[i], e.field, e.reason) for i, found in invalid.items() for e in found
    ]
    errors.sort(key=lambda e: e.index)
    if accepted_lines:
        try:
            await asyncio.wrap_future(runtime.spool.append(b"".join(accepted_lines)))
        except SpoolUnavailable:
            message = "the server cannot store events right now; retry later"
            return _answer(503, "unavailable", message, headers={"Retry-After": "5"})
    return _result(len(accepted_lines), errors)


def _result(accepted: int, errors: list[MessageError]) -> JSONResponse:
    """200 when something was accepted (or nothing was wrong); 400 when nothing was."""
    body: dict[str, Any] = {
        "success": accepted > 0 or not errors,
        "accepted": accepted,
        "rejected": len({e.index for e in errors}),
        "errors": [e.to_dict() for e in errors],
    }
    if accepted or not errors:
        return JSONResponse(body)
    first = errors[0]
    where = f" [{first.field}]" if first.field else ""
    body["code"] = "invalid"
    body["message"] = f"no message accepted; message {first.index}{where}: {first.reason}"
    return JSONResponse(body, status_code=400)


def _try_json(body: bytes) -> Any:
    """Parse a body that must carry its own writeKey; anything unreadable is just a 401."""
    try:
        return parse_json(body)
    except Exception as exc:
        raise Unauthorized() from exc


def _answer(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    return JSONResponse(
        {"success": False, "code": code, "message": message}, status_code=status, headers=headers
    )


def _single(kind: str):
    async def endpoint(request: Request) -> JSONResponse:
        return await ingest(request, kind)

    endpoint.__name__ = f"ingest_{kind}"
    endpoint.__doc__ = f"One `{kind}` message (Segment HTTP Tracking API)."
    return endpoint


for _kind in SINGLE_TYPES:
    router.add_api_route(
        f"/v1/{_kind}",
        _single(_kind),
        methods=["POST"],
        openapi_extra=_openapi(_MESSAGE_SCHEMA),
        response_class=JSONResponse,
    )


@router.post("/v1/batch", openapi_extra=_openapi(_BATCH_SCHEMA))
async def ingest_batch(request: Request) -> JSONResponse:
    """Many messages of any type in one request (what the SDKs send)."""
    return await ingest(request, None)


@router.post("/v1/import", openapi_extra=_openapi(_BATCH_SCHEMA))
async def ingest_import(request: Request) -> JSONResponse:
    """Alias of `/v1/batch` (Segment's historical import endpoint)."""
    return await ingest(request, None)
