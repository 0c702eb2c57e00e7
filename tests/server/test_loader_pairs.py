"""The server's loader keeps the pair tables of metrics.yaml: after its first batch and
after the first batch that follows a change of the file (issue #3)."""

from __future__ import annotations

import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
from server_helpers import make_workspace

from impactlens.server.runtime import import_loader
from impactlens.warehouse.rollups import pair_key
from impactlens.warehouse.schema import PAIR_DEFS_TABLE, PAIRS_TABLE
from metrics.test_metric_pairs import reference_pairs

CREATED, EXPORTED = "Report Created", "Report Exported"
USER = """metrics:
  - {name: export_time, kind: duration, from_event: Report Created,
     to_event: Report Exported, within: 1h, higher_is_better: false}
"""
ACCOUNT = """metrics:
  - {name: account_export_time, kind: duration, from_event: Report Created,
     to_event: Report Exported, within: 1d, actor: account, higher_is_better: false}
"""
USER_KEY = pair_key(CREATED, EXPORTED, "user", 3600)
ACCOUNT_KEY = pair_key(CREATED, EXPORTED, "account", 86400)


def _batch(prefix: str, start: datetime, n: int) -> list[bytes]:
    return [
        orjson.dumps({
            "type": "track", "event": [CREATED, EXPORTED, EXPORTED][i % 3],
            "userId": f"u{i % 4}", "context": {"groupId": f"a{i % 5 % 2}"},
            "messageId": f"{prefix}{i}", "timestamp": (start + timedelta(minutes=11 * i)).isoformat(),
        })
        for i in range(n)
    ]  # fmt: skip


def _kept(wh) -> tuple[set[str], dict[str, Counter], list[dict]]:
    pairs: dict[str, Counter] = {}
    for r in wh.table(PAIRS_TABLE).to_pyarrow().to_pylist():
        pairs.setdefault(r["pair_key"], Counter())[(r["ts"], r["actor"], r["next_ts"])] += 1
    defs = set(wh.table(PAIR_DEFS_TABLE).pair_key.to_pyarrow().to_pylist())
    return defs, pairs, wh.table("events").to_pyarrow().to_pylist()


def _touch(path, version: int) -> None:
    """A distinct mtime however fast the test runs (the loader compares mtimes)."""
    os.utime(path, ns=(version * 1_000_000_000, version * 1_000_000_000))


def test_the_loader_keeps_the_pair_tables_of_metrics_yaml(tmp_path, caplog) -> None:
    ws = make_workspace(tmp_path / "acme", USER)
    wh = ws.connect()
    try:
        load = import_loader(ws, wh)
        start = datetime(2026, 3, 1, 8, tzinfo=UTC)
        assert load(_batch("a", start, 40)).loaded == 40
        defs, pairs, events = _kept(wh)
        assert defs == {USER_KEY}
        assert (
            pairs[USER_KEY] == reference_pairs(events, "user", CREATED, EXPORTED, 3600) != Counter()
        )

        ws.metrics_path.write_text(ACCOUNT)  # the user metric leaves, an account one arrives
        _touch(ws.metrics_path, 1)
        load(_batch("b", start + timedelta(hours=3), 40))
        defs, pairs, events = _kept(wh)
        assert defs == {ACCOUNT_KEY} and set(pairs) == {ACCOUNT_KEY}
        assert pairs[ACCOUNT_KEY] == reference_pairs(events, "account", CREATED, EXPORTED, 86400)

        ws.metrics_path.write_text("metrics: [")  # broken: logged, nothing dropped or failed
        _touch(ws.metrics_path, 2)
        with caplog.at_level(logging.WARNING, logger="impactlens.server"):
            assert load(_batch("c", start + timedelta(hours=9), 40)).loaded == 40
        assert "left as they were" in caplog.text
        defs, pairs, events = _kept(wh)
        assert defs == {ACCOUNT_KEY}
        assert pairs[ACCOUNT_KEY] == reference_pairs(events, "account", CREATED, EXPORTED, 86400)
    finally:
        wh.close()
