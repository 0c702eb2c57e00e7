"""The hourly rollup: same numbers as raw events, used only when it is fresh and allowed."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.errors import UserError
from impactlens.metrics import metric_series, parse_metrics
from impactlens.metrics.planner import rollup_blocker
from impactlens.metrics.query import Query, SeriesGrouping
from impactlens.metrics.timebase import Timebase
from impactlens.warehouse import SCHEMA_VERSION, Warehouse
from impactlens.warehouse.rollups import (
    ROLLUP_TABLE,
    rebuild_rollups,
    refresh_after_import,
    rollup_is_fresh,
)
from metrics.worlds import BASE, build_warehouse, worlds

CATALOG = parse_metrics(
    """metrics:
  - {name: sessions, kind: count, event: Session Started, higher_is_better: true}
  - {name: actives, kind: unique, actor: account, higher_is_better: true}
  - name: ctr
    kind: ratio
    numerator: {event: Search Result Clicked, filters: [{field: user.role, value: member}]}
    denominator: {event: Search Performed, aggregate: actors}
    higher_is_better: true
  - {name: stick, kind: stickiness, ratio: wau_mau, higher_is_better: true}
  - {name: adopt, kind: adoption, feature_event: Search Performed, actor: account, higher_is_better: true}
  - name: adopt_cum
    kind: adoption
    feature_event: Report Created
    active_event: [Session Started, Search Performed]
    cumulative: true
    higher_is_better: true
  - {name: flagged, kind: count, filters: [{field: event.flags.search_v2, value: true}], higher_is_better: true}
  - {name: conv, kind: conversion, steps: [Signed Up, Report Created], within: 1d, higher_is_better: true}
"""
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    worlds(),
    st.sampled_from(["UTC", "America/New_York", "Europe/Berlin"]),
    st.sampled_from(["day", "week"]),
    st.sampled_from([None, "plan", "user.role"]),
)
def test_rollup_gives_the_same_numbers_as_raw_events(world, tz, grain, segment) -> None:
    wh = build_warehouse(world)
    rebuild_rollups(wh)
    assert rollup_is_fresh(wh)
    for name in ("sessions", "actives", "ctr", "stick", "adopt", "adopt_cum"):
        kwargs = dict(
            grain=grain,
            start=date(2026, 3, 3),
            end=date(2026, 3, 24),
            timezone=tz,
            segment=segment,
            catalog=CATALOG,
        )
        raw = metric_series(wh, CATALOG.get(name), source="events", **kwargs)
        rolled = metric_series(wh, CATALOG.get(name), source="rollup", **kwargs)
        assert rolled.rows() == raw.rows(), name


def test_refresh_after_import_recomputes_only_the_touched_hours(warehouse) -> None:
    import pyarrow as pa

    def ev(i, ts, name="Session Started"):
        return {
            "message_id": f"m{i}",
            "timestamp": ts,
            "event": name,
            "actor_id": "u1",
            "account_id": "a1",
            "properties": "{}",
        }

    warehouse.write(
        "events",
        pa.Table.from_pylist(
            [ev(1, datetime(2026, 3, 1, 8, 5)), ev(2, datetime(2026, 3, 1, 8, 50))]
        ),
    )
    assert not rollup_is_fresh(warehouse)  # written without the importer
    refresh_after_import(warehouse, datetime(2026, 3, 1, 8, 5), datetime(2026, 3, 1, 8, 50))
    assert rollup_is_fresh(warehouse)
    warehouse.write(
        "events",
        pa.Table.from_pylist([ev(3, datetime(2026, 3, 1, 8, 59)), ev(4, datetime(2026, 3, 2, 1))]),
    )
    assert not rollup_is_fresh(warehouse)
    metric = CATALOG.get("sessions")
    kwargs = dict(start=date(2026, 3, 1), end=date(2026, 3, 3), catalog=CATALOG)
    assert metric_series(warehouse, metric, **kwargs).column("numerator") == [3.0, 1.0]  # auto: raw
    with pytest.raises(UserError, match="do not cover the events table"):
        metric_series(warehouse, metric, source="rollup", **kwargs)
    refresh_after_import(warehouse, datetime(2026, 3, 1, 8, 59), datetime(2026, 3, 2, 1))
    rows = warehouse.table(ROLLUP_TABLE).order_by("hour").to_pyarrow().to_pylist()
    assert [(r["hour"], r["n"]) for r in rows] == [
        (datetime(2026, 3, 1, 8), 3),
        (datetime(2026, 3, 2, 1), 1),
    ]
    assert metric_series(warehouse, metric, source="rollup", **kwargs).column("numerator") == [
        3.0,
        1.0,
    ]


def test_the_planner_says_why_not() -> None:
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    refresh_after_import(wh, None, None)

    def why(name, tz="UTC", segment=None):
        from impactlens.metrics.fields import parse_field

        seg = parse_field(segment) if segment else None
        q = Query(
            wh,
            SeriesGrouping(Timebase(tz, date(2026, 3, 1), date(2026, 4, 1)), seg is not None),
            seg,
        )
        return rollup_blocker(wh, CATALOG.get(name), q)

    assert why("sessions") is None and why("stick", "Europe/Berlin", "plan") is None
    assert "not whole hours" in why("sessions", "Asia/Kolkata")
    assert "event properties" in why("flagged")
    assert "event properties" in why("sessions", segment="flag.search_v2")
    assert "exact event times" in why("conv")


def test_migration_back_fills_the_rollup_of_an_older_warehouse(tmp_path) -> None:
    import pyarrow as pa

    path = tmp_path / "w.duckdb"
    wh = Warehouse.connect(f"duckdb://{path}")
    wh.ensure_schema()
    wh.write(
        "events",
        pa.table({"message_id": ["1"], "timestamp": [BASE], "event": ["x"], "actor_id": ["u"]}),
    )
    wh.delete_where_in("_impactlens_meta", pa.table({"key": ["schema_version"]}))
    wh.backend.insert("_impactlens_meta", pa.table({"key": ["schema_version"], "value": ["1"]}))
    wh.close()
    again = Warehouse.connect(f"duckdb://{path}")
    assert again.ensure_schema() == SCHEMA_VERSION
    assert rollup_is_fresh(again) and again.count(ROLLUP_TABLE) == 1
    again.close()
