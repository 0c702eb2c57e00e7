"""API keys: created once, shown once, stored only as salted hashes.

A key looks like ``ilw_<id>_<secret>`` (write) or ``ilr_<id>_<secret>`` (read).
The id is public and finds the record; the 192-bit secret is checked against
``sha256(salt || secret)`` with a constant-time compare. A random secret of that
length needs no slow hash (scrypt would cost milliseconds on every ingest
request for no gain against guessing).

Keys live in ``<workspace>/.impactlens/keys.json``, so a key is bound to the
workspace whose file holds it. The file is replaced atomically on change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from impactlens.config import Workspace
from impactlens.errors import NotFoundError, UserError

KeyKind = Literal["write", "read"]
KEY_KINDS: tuple[str, ...] = ("write", "read")
KEYS_FILE = "keys.json"
_PREFIX = {"write": "ilw", "read": "ilr"}
_KEY_PATTERN = re.compile(r"^il[wr]_([0-9a-f]{12})_([0-9a-f]{48})$")


@dataclass(frozen=True)
class KeyRecord:
    """What is stored about a key: never the key itself."""

    key_id: str
    kind: str
    label: str
    salt: str
    sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def matches(self, secret: str) -> bool:
        digest = _digest(self.salt, secret)
        return hmac.compare_digest(digest, self.sha256)

    def public(self) -> dict[str, object]:
        """The record without salt and hash, for listings."""
        return {
            "key_id": self.key_id,
            "kind": self.kind,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class NewKey:
    """A key just created: the only moment its text exists outside the caller's hands."""

    record: KeyRecord
    key: str


def _digest(salt_hex: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + secret.encode("ascii")).hexdigest()


def parse_key(text: str) -> tuple[str, str] | None:
    """Split a key into (id, secret); None when it is not shaped like one of ours."""
    match = _KEY_PATTERN.match(text.strip())
    return (match.group(1), match.group(2)) if match else None


def keys_path(workspace: Workspace) -> Path:
    return workspace.state_dir / KEYS_FILE


def load_keys(workspace: Workspace) -> tuple[KeyRecord, ...]:
    """Every key record of a workspace (revoked ones included)."""
    path = keys_path(workspace)
    if not path.exists():
        return ()
    try:
        raw = json.loads(path.read_text())
        return tuple(KeyRecord(**item) for item in raw.get("keys", []))
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a valid keys file: {exc}") from exc


def _save_keys(workspace: Workspace, records: tuple[KeyRecord, ...]) -> None:
    path = keys_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    payload = {"version": 1, "keys": [asdict(r) for r in records]}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def create_key(workspace: Workspace, kind: str, label: str = "") -> NewKey:
    """Create a write or read key for ``workspace``; the returned text is shown once.

    >>> # new = create_key(load_workspace(Path("acme")), "write"); print(new.key)
    """
    if kind not in KEY_KINDS:
        raise UserError(f"key kind must be one of {', '.join(KEY_KINDS)}, not {kind!r}")
    records = load_keys(workspace)
    taken = {r.key_id for r in records}
    key_id = secrets.token_hex(6)
    while key_id in taken:
        key_id = secrets.token_hex(6)
    secret = secrets.token_hex(24)
    salt = secrets.token_hex(16)
    record = KeyRecord(
        key_id=key_id,
        kind=kind,
        label=label,
        salt=salt,
        sha256=_digest(salt, secret),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    _save_keys(workspace, (*records, record))
    return NewKey(record, f"{_PREFIX[kind]}_{key_id}_{secret}")


def revoke_key(workspace: Workspace, key_id: str) -> KeyRecord:
    """Mark a key revoked; a running server stops accepting it within seconds."""
    records = load_keys(workspace)
    for i, record in enumerate(records):
        if record.key_id == key_id:
            revoked = replace(
                record, revoked_at=datetime.now(UTC).replace(microsecond=0).isoformat()
            )
            _save_keys(workspace, (*records[:i], revoked, *records[i + 1 :]))
            return revoked
    raise NotFoundError(f"no key with id {key_id!r} in {keys_path(workspace)}")
