"""`impactlens import` keeps the pair tables of the workspace's metrics.yaml (issue #3).

After each import the pair table holds exactly the brute-force pairs of the duration
metrics metrics.yaml defines, and nothing of a metric that left it; a broken or
missing metrics.yaml never fails the import, and the import says so.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from impactlens.cli.app import run
from impactlens.config import load_workspace
from impactlens.warehouse.rollups import pair_key
from impactlens.warehouse.schema import PAIR_DEFS_TABLE, PAIRS_TABLE
from metrics.test_metric_pairs import reference_pairs

CREATED, EXPORTED = "Report Created", "Report Exported"
START = datetime(2026, 3, 1, 8, tzinfo=UTC)

DURATIONS = """
  - {name: export_time, kind: duration, from_event: Report Created,
     to_event: Report Exported, within: 2h, higher_is_better: false}
  - {name: export_time_p90, kind: duration, from_event: Report Created,
     to_event: Report Exported, within: 120m, stat: p90, higher_is_better: false}
"""
ACCOUNT_DURATION = """
  - {name: account_export_time, kind: duration, from_event: Report Created,
     to_event: Report Exported, within: 1d, actor: account, higher_is_better: false}
"""
OTHERS = """
  - {name: export_time_open, kind: duration, from_event: Report Created,
     to_event: Report Exported, higher_is_better: false}
  - {name: reports, kind: count, event: Report Created, higher_is_better: true}
"""
USER_KEY = pair_key(CREATED, EXPORTED, "user", 7200)
ACCOUNT_KEY = pair_key(CREATED, EXPORTED, "account", 86400)


def _write_events(path, seed: int, offset_minutes: int) -> None:
    """Whole minutes (ties at one instant, pairs exactly 2h apart) over two days."""
    rng = random.Random(seed)
    lines = []
    for i in range(150):
        ts = START + timedelta(minutes=offset_minutes + rng.randrange(0, 2 * 24 * 60, 5))
        message = {
            "type": "track",
            "event": rng.choice([CREATED, EXPORTED, EXPORTED, "Search Performed"]),
            "userId": f"u{rng.randrange(6)}",
            "messageId": f"{path.stem}-{i}",
            "timestamp": ts.isoformat().replace("+00:00", "Z"),
        }
        if rng.random() < 0.8:
            message["context"] = {"groupId": f"a{rng.randrange(3)}"}
        lines.append(json.dumps(message))
    path.write_text("\n".join(lines) + "\n")


def _import(ws_dir, name: str, seed: int, offset: int, capsys) -> tuple[int, dict]:
    path = ws_dir / f"events-{name}.ndjson"
    _write_events(path, seed, offset)
    capsys.readouterr()
    code = run(["-w", str(ws_dir), "import", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


def _tables(ws_dir) -> tuple[dict[str, Counter], list[dict], set[str]]:
    """Pairs per key, all events, and the keys of the kept definitions."""
    wh = load_workspace(ws_dir).connect(read_only=True)
    try:
        pairs: dict[str, Counter] = {}
        for r in wh.table(PAIRS_TABLE).to_pyarrow().to_pylist():
            pairs.setdefault(r["pair_key"], Counter())[(r["ts"], r["actor"], r["next_ts"])] += 1
        events = wh.table("events").to_pyarrow().to_pylist()
        defs = wh.table(PAIR_DEFS_TABLE).to_pyarrow().to_pylist()
    finally:
        wh.close()
    assert all(d["ready"] for d in defs)
    return pairs, events, {d["pair_key"] for d in defs}


def _expected(events: list[dict], actor: str, within: int) -> Counter:
    return reference_pairs(events, actor, CREATED, EXPORTED, within)


def test_import_keeps_exactly_the_pairs_of_the_metrics_in_metrics_yaml(tmp_path, capsys) -> None:
    run(["init", str(tmp_path)])
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text("metrics:" + DURATIONS + ACCOUNT_DURATION + OTHERS)

    code, out = _import(tmp_path, "first", 1, 0, capsys)
    assert code == 0 and out["pair_tables"]["problem"] is None
    assert sorted(out["pair_tables"]["built"]) == sorted([USER_KEY, ACCOUNT_KEY])
    pairs, events, defs = _tables(tmp_path)
    assert defs == {USER_KEY, ACCOUNT_KEY}  # one per definition; none for the open duration
    assert pairs[USER_KEY] == _expected(events, "user", 7200) != Counter()
    assert pairs[ACCOUNT_KEY] == _expected(events, "account", 86400) != Counter()

    # the account metric leaves metrics.yaml; late and new events arrive with the next import
    metrics.write_text("metrics:" + DURATIONS + OTHERS)
    code, out = _import(tmp_path, "second", 2, -600, capsys)
    assert code == 0 and out["pair_tables"]["dropped"] == [ACCOUNT_KEY]
    assert out["pair_tables"]["kept"] == [USER_KEY] and out["pair_tables"]["built"] == []
    pairs, events, defs = _tables(tmp_path)
    assert defs == {USER_KEY} and set(pairs) == {USER_KEY}
    assert pairs[USER_KEY] == _expected(events, "user", 7200)
    assert len(events) == 300


def test_a_broken_metrics_yaml_leaves_the_import_working_and_says_so(tmp_path, capsys) -> None:
    run(["init", str(tmp_path)])
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text("metrics:" + DURATIONS + ACCOUNT_DURATION)
    assert _import(tmp_path, "first", 3, 0, capsys)[0] == 0

    metrics.write_text("metrics:" + DURATIONS + "  - {name: oops, kind: nonsense}\n")
    path = tmp_path / "events-second.ndjson"
    _write_events(path, 4, 300)
    capsys.readouterr()
    assert run(["-w", str(tmp_path), "import", str(path)]) == 0
    said = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "metrics.yaml" in said and "left as they were" in said and "oops" in said
    pairs, events, defs = _tables(tmp_path)
    assert len(events) == 300  # the files were imported
    assert defs == {USER_KEY, ACCOUNT_KEY}  # nothing dropped on a file it could not read
    assert pairs[USER_KEY] == _expected(events, "user", 7200)  # and still exact
    assert pairs[ACCOUNT_KEY] == _expected(events, "account", 86400)

    metrics.write_bytes(b"\xff\xfe not text")  # unreadable: the same, never a failed import
    code, out = _import(tmp_path, "third", 5, 600, capsys)
    assert code == 0 and "left as they were" in out["pair_tables"]["problem"]
    assert out["pair_tables"]["dropped"] == [] and _tables(tmp_path)[2] == {USER_KEY, ACCOUNT_KEY}

    metrics.unlink()  # no metrics.yaml: no metric, so no pair table is kept
    code, out = _import(tmp_path, "fourth", 6, 900, capsys)
    assert code == 0 and "does not exist" in out["pair_tables"]["problem"]
    assert sorted(out["pair_tables"]["dropped"]) == sorted([USER_KEY, ACCOUNT_KEY])
    pairs, events, defs = _tables(tmp_path)
    assert defs == set() and pairs == {} and len(events) == 600
