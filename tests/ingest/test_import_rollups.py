"""The importer marks stale rollup hours in each file's transaction and refreshes them after."""

from __future__ import annotations

from datetime import datetime

import pytest
from ingest_helpers import write_events

from impactlens.ingest import import_path
from impactlens.warehouse.rollups import (
    mark_pending,
    pending_ranges,
    refresh_pending,
    rollup_is_fresh,
)
from impactlens.warehouse.schema import ACTIVITY_TABLE, PENDING_TABLE, ROLLUP_TABLE


def track(mid: str, ts: str, user: str = "u1", event: str = "Report Created", **extra) -> dict:
    return {"type": "track", "event": event, "userId": user, "timestamp": ts, "messageId": mid,
            **extra}  # fmt: skip


def reference(warehouse) -> list[tuple]:
    """Events per (hour, event, actor, account), straight from raw events."""
    e = warehouse.table("events")
    rows = e.group_by(hour=e.timestamp.truncate("h"), event=e.event, actor_id=e.actor_id,
                      account_id=e.account_id).agg(n=e.count())  # fmt: skip
    return _sorted(rows)


def _sorted(table) -> list[tuple]:
    rows = table.to_pyarrow().to_pylist()
    return sorted(
        (r["hour"], r["event"], r["actor_id"], r["account_id"] or "", r["n"]) for r in rows
    )


def test_deferred_refresh_leaves_hours_pending_until_refresh_pending(warehouse, tmp_path) -> None:
    messages = [track("a", "2026-03-01T08:05:00Z"), track("b", "2026-03-01T10:59:00Z", user="u2")]
    report = import_path(warehouse, write_events(tmp_path, messages, "parquet"),
                         refresh_rollups=False)  # fmt: skip
    assert report.rows_loaded == 2 and report.rollup_seconds is None
    assert pending_ranges(warehouse) == [(datetime(2026, 3, 1, 8), datetime(2026, 3, 1, 11))]
    assert not rollup_is_fresh(warehouse) and warehouse.count(ROLLUP_TABLE) == 0
    assert refresh_pending(warehouse) == 1
    assert warehouse.count(PENDING_TABLE) == 0 and rollup_is_fresh(warehouse)
    assert _sorted(warehouse.table(ROLLUP_TABLE)) == reference(warehouse)


def test_import_path_refreshes_once_after_its_files_and_times_it(warehouse, tmp_path) -> None:
    write_events(tmp_path, [track("a", "2026-03-01T08:05:00Z")], "ndjson", name="events-1")
    write_events(tmp_path, [track("b", "2026-03-04T12:00:00Z", user="u2")], "csv", name="events-2")
    report = import_path(warehouse, tmp_path)
    assert report.rows_loaded == 2 and report.rollup_seconds is not None
    assert report.to_dict()["rollup_seconds"] == report.rollup_seconds
    assert warehouse.count(PENDING_TABLE) == 0 and rollup_is_fresh(warehouse)
    assert _sorted(warehouse.table(ROLLUP_TABLE)) == reference(warehouse)
    again = import_path(warehouse, tmp_path)  # all duplicates: nothing marked, nothing refreshed
    assert again.rows_loaded == 0 and again.rollup_seconds is None


def test_a_failed_file_marks_nothing(warehouse, tmp_path) -> None:
    messages = [track("a", "2026-03-01T08:05:00Z"), track("b", "not a time")]
    report = import_path(warehouse, write_events(tmp_path, messages, "ndjson"), on_error="fail",
                         refresh_rollups=False)  # fmt: skip
    assert not report.ok and warehouse.count("events") == 0
    assert warehouse.count(PENDING_TABLE) == 0


def test_a_back_filled_account_reaches_the_rollups(warehouse, tmp_path) -> None:
    early = [track("a", "2026-03-01T08:05:00Z"), track("b", "2026-03-02T09:00:00Z"),
             track("c", "2026-03-02T09:30:00Z", user="u2")]  # fmt: skip
    import_path(warehouse, write_events(tmp_path, early, "ndjson"))
    assert rollup_is_fresh(warehouse)
    (tmp_path / "users.csv").write_text("user_id,account_id\nu1,acme\n")
    report = import_path(warehouse, tmp_path / "users.csv", refresh_rollups=False)
    # the two hours of u1's events are pending; u2's hour 9 is pending through u1's event
    assert pending_ranges(warehouse) == [
        (datetime(2026, 3, 1, 8), datetime(2026, 3, 1, 9)),
        (datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10)),
    ]
    assert report.ok and not rollup_is_fresh(warehouse)
    refresh_pending(warehouse)
    rolled = _sorted(warehouse.table(ROLLUP_TABLE))
    assert rolled == reference(warehouse)
    assert {r[3] for r in rolled if r[2] == "u1"} == {"acme"}
    activity = warehouse.table(ACTIVITY_TABLE).to_pyarrow().to_pylist()
    assert {r["account_id"] for r in activity if r["actor_id"] == "u1"} == {"acme"}


def test_a_long_range_is_refreshed_a_week_per_transaction(warehouse, tmp_path, monkeypatch) -> None:
    """Three weeks of marks: three slices; an interruption keeps what is left marked."""
    from impactlens.warehouse import rollups

    messages = [
        track(f"m{d}", f"2026-03-{d:02d}T12:00:00Z", user=f"u{d % 3}") for d in range(1, 22)
    ]
    import_path(warehouse, write_events(tmp_path, messages, "ndjson"), refresh_rollups=False)
    assert pending_ranges(warehouse) == [(datetime(2026, 3, 1, 12), datetime(2026, 3, 21, 13))]

    calls = []
    real = rollups._recompute

    def second_slice_fails(wh, lo, hi):
        calls.append((lo, hi))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(wh, lo, hi)

    monkeypatch.setattr(rollups, "_recompute", second_slice_fails)
    with pytest.raises(KeyboardInterrupt):
        refresh_pending(warehouse)
    assert calls[0] == (datetime(2026, 3, 1, 12), datetime(2026, 3, 8, 12))
    # the first week committed with its marks removed; the rest is still marked
    assert pending_ranges(warehouse) == [(datetime(2026, 3, 8, 12), datetime(2026, 3, 21, 13))]
    assert not rollup_is_fresh(warehouse)

    monkeypatch.setattr(rollups, "_recompute", real)
    assert refresh_pending(warehouse) == 2
    assert warehouse.count(PENDING_TABLE) == 0 and rollup_is_fresh(warehouse)
    assert _sorted(warehouse.table(ROLLUP_TABLE)) == reference(warehouse)


def test_a_mark_spanning_a_century_refreshes_only_the_weeks_with_events(
    warehouse, tmp_path
) -> None:
    messages = [track("a", "2000-01-03T00:30:00Z"), track("b", "2100-06-01T08:00:00Z", user="u2")]
    import_path(warehouse, write_events(tmp_path, messages, "ndjson"), refresh_rollups=False)
    assert pending_ranges(warehouse) == [  # the import marks the days with events
        (datetime(2000, 1, 3), datetime(2000, 1, 4)),
        (datetime(2100, 6, 1), datetime(2100, 6, 1, 9)),
    ]
    mark_pending(warehouse, datetime(2000, 1, 3), datetime(2100, 6, 1, 8))  # e.g. a back-fill
    assert pending_ranges(warehouse) == [(datetime(2000, 1, 3), datetime(2100, 6, 1, 9))]
    assert refresh_pending(warehouse) == 2  # not the ~5,200 weeks in between
    assert warehouse.count(PENDING_TABLE) == 0 and rollup_is_fresh(warehouse)
    assert _sorted(warehouse.table(ROLLUP_TABLE)) == reference(warehouse)


def test_only_the_days_with_new_events_are_marked_stale(warehouse, tmp_path) -> None:
    """A stray old timestamp does not make every hour between it and the rest stale."""
    first = [track("mid", "2050-06-15T12:00:00Z")]
    import_path(warehouse, write_events(tmp_path / "a", first, "ndjson"))
    later = [track("old", "2000-01-01T05:30:00Z"), track("new", "2100-01-01T07:00:00Z"),
             track("next", "2100-01-02T01:00:00Z", user="u2")]  # fmt: skip
    import_path(warehouse, write_events(tmp_path / "b", later, "ndjson"), refresh_rollups=False)
    assert pending_ranges(warehouse) == [  # whole days, clipped to the file's first and last
        (datetime(2000, 1, 1, 5), datetime(2000, 1, 2)),
        (datetime(2100, 1, 1), datetime(2100, 1, 2, 2)),
    ]
    refresh_pending(warehouse)
    assert _sorted(warehouse.table(ROLLUP_TABLE)) == reference(warehouse)
    assert rollup_is_fresh(warehouse)
