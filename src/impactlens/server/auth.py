"""Who is calling: a key, its kind and the one workspace it is bound to.

Every way of failing (no key, a malformed key, an unknown key, a revoked key,
a key of the wrong kind) gives the caller the same 401 and the same body, so a
probe learns nothing about which keys exist. The workspace is never named in a
request: it is the workspace whose keys file holds the key, so a key of one
workspace cannot address another.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import HTTPConnection

from impactlens.config import Workspace
from impactlens.errors import UserError
from impactlens.server.keys import KeyRecord, keys_path, load_keys, parse_key

log = logging.getLogger("impactlens.server")

COOKIE_NAME = "impactlens_key"
UNAUTHORIZED_BODY = {"success": False, "code": "unauthorized", "message": "a valid key is required"}


class Unauthorized(Exception):
    """Raised by the auth dependencies; the app answers it with one fixed 401."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    workspace: Path
    key_id: str | None
    kind: str


class KeyRing:
    """Key records of every served workspace, re-read when a keys file changes.

    ``impactlens keys create`` and ``keys revoke`` take effect on a running
    server within ``refresh_seconds`` without a restart.
    """

    def __init__(self, workspaces: tuple[Workspace, ...], *, refresh_seconds: float = 1.0):
        self._workspaces = workspaces
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._stamps: dict[Path, tuple[int, int] | None] = {}
        self._by_id: dict[str, tuple[Path, KeyRecord]] = {}
        self._reload(strict=True)

    def _stamp(self, ws: Workspace) -> tuple[int, int] | None:
        try:
            st = keys_path(ws).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload(self, *, strict: bool) -> None:
        by_id: dict[str, tuple[Path, KeyRecord]] = {}
        duplicated: set[str] = set()
        for ws in self._workspaces:
            self._stamps[ws.root] = self._stamp(ws)
            for record in load_keys(ws):
                if record.key_id in by_id:
                    duplicated.add(record.key_id)
                by_id[record.key_id] = (ws.root, record)
        if duplicated:
            message = (
                f"key id(s) {sorted(duplicated)} appear in more than one workspace's keys.json "
                "(a copied keys file?); those keys are refused until each exists in one place"
            )
            if strict:
                raise UserError(message)
            log.error(message)
            for key_id in duplicated:
                del by_id[key_id]
        self._by_id = by_id

    def _refresh_if_stale(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._refresh_seconds:
            return
        with self._lock:
            if now - self._checked_at < self._refresh_seconds:
                return
            self._checked_at = now
            if any(self._stamp(ws) != self._stamps.get(ws.root) for ws in self._workspaces):
                try:
                    self._reload(strict=False)
                except UserError as exc:  # a half-edited file: keep the keys we had
                    log.error("keys not reloaded: %s", exc)

    def authenticate(self, text: str | None, kind: str) -> Principal | None:
        """The principal for a key of ``kind``, or None for anything else."""
        if not text:
            return None
        parsed = parse_key(text)
        if parsed is None:
            return None
        self._refresh_if_stale()
        key_id, secret = parsed
        entry = self._by_id.get(key_id)
        if entry is None:
            return None
        root, record = entry
        # Check the hash even for the wrong kind, so both failures cost the same.
        good = record.matches(secret)
        if not good or not record.active or record.kind != kind:
            return None
        return Principal(workspace=root, key_id=key_id, kind=kind)


def header_key(conn: HTTPConnection) -> str | None:
    """The key from ``Authorization``: Basic (the username, as Segment does) or Bearer."""
    header = conn.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        # Segment puts the write key in the username; a few clients use the password.
        return user or password or None
    return None


def cookie_key(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(COOKIE_NAME) or None
