"""Helpers for the importer tests: write the same messages in every file form."""

from __future__ import annotations

import csv
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

EVENT_FORMS = ("ndjson", "jsonl", "json", "batch", "csv", "parquet")
FLAT_COLUMNS = ("message_id", "timestamp", "type", "event", "user_id", "anonymous_id",
                "account_id", "properties")  # fmt: skip


def flat_row(message: dict[str, Any]) -> dict[str, Any]:
    """A Segment message as a row of the flat forms (snake_case, properties as JSON text)."""
    props = message.get("properties")
    return {
        "message_id": message.get("messageId"),
        "timestamp": message.get("timestamp"),
        "type": message.get("type"),
        "event": message.get("event"),
        "user_id": message.get("userId"),
        "anonymous_id": message.get("anonymousId"),
        "account_id": (message.get("context") or {}).get("groupId"),
        "properties": orjson.dumps(props).decode() if props is not None else None,
    }


def write_events(folder: Path, messages: list[dict], form: str, *, gz: bool = False,
                 name: str = "events") -> Path:  # fmt: skip
    """Write ``messages`` as ``folder/name.<form>[.gz]``; returns the path."""
    suffix = {"batch": "json"}.get(form, form)
    path = folder / f"{name}.{suffix}"
    if form in ("ndjson", "jsonl"):
        data = b"".join(orjson.dumps(m) + b"\n" for m in messages)
    elif form == "json":
        data = orjson.dumps(messages)
    elif form == "batch":
        data = orjson.dumps({"batch": messages})
    elif form == "csv":
        rows = [flat_row(m) for m in messages]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, FLAT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        data = path.read_bytes()
    elif form == "parquet":
        table = pa.Table.from_pylist([flat_row(m) for m in messages],
                                     schema=pa.schema([(c, pa.string()) for c in FLAT_COLUMNS]))  # fmt: skip
        pq.write_table(table, path)
        data = path.read_bytes()
    else:
        raise ValueError(form)
    if gz:
        path.unlink(missing_ok=True)
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rows(warehouse, table: str, order: str) -> list[dict]:
    return warehouse.table(table).order_by(order).to_pyarrow().to_pylist()


def kill_9_at(script: Path, args: list[str], marker: str) -> None:
    """Run ``script`` with ``args``; SIGKILL it once it prints ``marker`` (and waits)."""
    with subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as child:  # fmt: skip
        try:
            line = child.stdout.readline()
            assert line.strip() == marker, child.stderr.read()
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == -signal.SIGKILL
