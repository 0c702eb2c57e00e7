"""Hand-picked edges: local midnights across DST, empty groups, division by zero, bad grains."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa
import pytest

from impactlens.errors import UserError
from impactlens.metrics import (
    metric_per_actor,
    metric_per_actor_expr,
    metric_series,
    parse_metrics,
)
from impactlens.metrics.series import explain_metric
from impactlens.metrics.timebase import offset_segments, to_local

DEMO = Path(__file__).resolve().parents[2] / "src" / "impactlens" / "demo" / "metrics.yaml"


def events(rows: list[tuple]) -> pa.Table:
    keys = ("timestamp", "event", "actor_id", "account_id", "properties")
    data = [dict(zip(keys, r, strict=False)) for r in rows]
    for i, d in enumerate(data):
        d["message_id"] = f"m{i}"
        d.setdefault("properties", "{}")
    return pa.Table.from_pylist(data)


COUNT = parse_metrics(
    """metrics:
  - {name: n, kind: count, event: Session Started, higher_is_better: true}
  - {name: errors, kind: ratio, numerator: {event: Error Shown}, denominator: n, higher_is_better: false}
  - {name: ret, kind: retention, cohort_event: Signed Up, period: day, n: 1, higher_is_better: true}
"""
)


def test_new_york_midnight_across_the_spring_dst_change(warehouse) -> None:
    # 2026-03-08: New York moves from UTC-5 to UTC-4 at 07:00 UTC.
    warehouse.write(
        "events",
        events(
            [
                (
                    datetime(2026, 3, 8, 4, 59, 59),
                    "Session Started",
                    "u1",
                ),  # 23:59:59 EST on the 7th
                (datetime(2026, 3, 8, 5, 0, 0), "Session Started", "u1"),  # 00:00 EST on the 8th
                (
                    datetime(2026, 3, 9, 3, 59, 59),
                    "Session Started",
                    "u1",
                ),  # 23:59:59 EDT on the 8th
                (datetime(2026, 3, 9, 4, 0, 0), "Session Started", "u1"),  # 00:00 EDT on the 9th
            ]
        ),
    )
    frame = metric_series(
        warehouse,
        COUNT.get("n"),
        start=date(2026, 3, 7),
        end=date(2026, 3, 10),
        timezone="America/New_York",
    )
    assert frame.column("numerator") == [1.0, 2.0, 1.0]
    utc = metric_series(warehouse, COUNT.get("n"), start=date(2026, 3, 7), end=date(2026, 3, 10))
    assert utc.column("numerator") == [0.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "tz", ["Asia/Kolkata", "Pacific/Chatham", "Europe/Berlin", "Australia/Lord_Howe"]
)
def test_offsets_match_zoneinfo_every_hour(tz: str) -> None:
    lo, hi = datetime(2026, 1, 1), datetime(2027, 1, 1)
    segments = offset_segments(tz, lo, hi)
    t = ibis.literal(datetime(2026, 1, 1)).name("t")
    assert to_local(t, tz, lo, hi) is not None
    at = lo
    while at < hi:
        expected = (
            at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).utcoffset().total_seconds()
        )
        got = next(off for start, off in reversed(segments) if at >= start or start == lo)
        assert got == expected, at
        at += timedelta(hours=1, minutes=7)


def test_empty_groups_and_division_by_zero_are_null_with_a_reason(warehouse) -> None:
    warehouse.write("events", events([(datetime(2026, 3, 2, 12), "Error Shown", "u1")]))
    frame = metric_series(
        warehouse, COUNT.get("errors"), start=date(2026, 3, 1), end=date(2026, 3, 3), catalog=COUNT
    )
    assert frame.column("value") == [None, None]
    assert frame.column("reason") == ["denominator is 0", "denominator is 0"]
    assert frame.column("numerator") == [0.0, 1.0]
    cohort = metric_series(
        warehouse, COUNT.get("ret"), start=date(2026, 3, 1), end=date(2026, 3, 2)
    )
    assert cohort.rows()[0]["reason"] == "empty cohort" and cohort.rows()[0]["denominator"] == 0


def test_actors_without_events_are_zero_and_keep_the_callers_columns(warehouse) -> None:
    warehouse.write(
        "events",
        events(
            [
                (datetime(2026, 3, 2, 12), "Session Started", "u1"),
                (datetime(2026, 3, 5, 12), "Session Started", "u1"),
                (datetime(2026, 3, 5, 12), "Session Started", "u2"),
            ]
        ),
    )
    exposures = ibis.memtable(
        pa.table(
            {
                "actor_id": ["u1", "u2", "u3"],
                "variation_id": ["a", "b", "b"],
                "start_at": pa.array([datetime(2026, 3, 3), None, None], pa.timestamp("us")),
            }
        )
    )
    frame = metric_per_actor(
        warehouse,
        COUNT.get("n"),
        start=date(2026, 3, 1),
        end=date(2026, 3, 8),
        actors_table=exposures,
    )
    assert frame.rows() == [
        {
            "actor_id": "u1",
            "variation_id": "a",
            "start_at": datetime(2026, 3, 3),
            "value": 1.0,
            "numerator": 1.0,
            "denominator": None,
            "actors": 1,
            "reason": None,
        },
        {
            "actor_id": "u2",
            "variation_id": "b",
            "start_at": None,
            "value": 1.0,
            "numerator": 1.0,
            "denominator": None,
            "actors": 1,
            "reason": None,
        },
        {
            "actor_id": "u3",
            "variation_id": "b",
            "start_at": None,
            "value": 0.0,
            "numerator": 0.0,
            "denominator": None,
            "actors": 0,
            "reason": None,
        },
    ]
    # Sufficient statistics per variation, aggregated in the warehouse.
    expr = metric_per_actor_expr(
        warehouse,
        COUNT.get("n"),
        start=date(2026, 3, 1),
        end=date(2026, 3, 8),
        actors_table=exposures,
    )
    stats = (
        expr.group_by("variation_id")
        .agg(n=expr.count(), sum=expr.value.sum(), sum_squares=(expr.value * expr.value).sum())
        .order_by("variation_id")
        .to_pyarrow()
        .to_pylist()
    )
    assert stats == [
        {"variation_id": "a", "n": 1, "sum": 1.0, "sum_squares": 1.0},
        {"variation_id": "b", "n": 2, "sum": 1.0, "sum_squares": 1.0},
    ]


def test_every_demo_metric_runs_on_an_empty_warehouse(warehouse) -> None:
    catalog = parse_metrics(DEMO.read_text())
    for metric in catalog:
        grain = "month" if metric.kind == "revenue" else "week"
        frame = metric_series(
            warehouse,
            metric,
            grain=grain,
            start=date(2026, 1, 1),
            end=date(2026, 3, 1),
            timezone="Europe/Berlin",
            catalog=catalog,
        )
        assert frame.num_rows >= 2
        for row in frame.rows():
            assert row["value"] in (0.0, None)
            assert (row["value"] is None) == (row["reason"] is not None)
        per_actor = metric_per_actor(
            warehouse, metric, start=date(2026, 1, 1), end=date(2026, 3, 1), catalog=catalog
        )
        assert per_actor.num_rows == 0


def test_revenue_needs_a_monthly_grain_and_weeks_start_on_monday(warehouse) -> None:
    catalog = parse_metrics(DEMO.read_text())
    with pytest.raises(UserError, match="--by month"):
        metric_series(
            warehouse, catalog.get("mrr"), grain="day", start=date(2026, 1, 1), end=date(2026, 2, 1)
        )
    weeks = metric_series(
        warehouse,
        catalog.get("sessions"),
        grain="week",
        start=date(2026, 3, 4),
        end=date(2026, 3, 20),
    )
    assert weeks.column("period_start") == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    with pytest.raises(UserError, match="empty range"):
        metric_series(
            warehouse, catalog.get("sessions"), start=date(2026, 3, 4), end=date(2026, 3, 4)
        )
    with pytest.raises(UserError, match="unknown time zone"):
        metric_series(
            warehouse,
            catalog.get("sessions"),
            start=date(2026, 3, 4),
            end=date(2026, 3, 5),
            timezone="Mars/Olympus",
        )


def test_flag_segments_use_the_latest_value_and_explain_does_not_run(warehouse) -> None:
    warehouse.write(
        "events",
        events(
            [
                (
                    datetime(2026, 3, 2, 9),
                    "Session Started",
                    "u1",
                    "a1",
                    '{"flags": {"search_v2": false}}',
                ),
                (
                    datetime(2026, 3, 2, 10),
                    "Session Started",
                    "u1",
                    "a1",
                    '{"flags": {"search_v2": true}}',
                ),
                (datetime(2026, 3, 2, 11), "Session Started", "u2", "a1", "{}"),
            ]
        ),
    )
    frame = metric_series(
        warehouse,
        COUNT.get("n"),
        start=date(2026, 3, 2),
        end=date(2026, 3, 3),
        segment="flag.search_v2",
    )
    assert {r["segment"]: r["numerator"] for r in frame.rows()} == {"true": 2.0, "(none)": 1.0}
    sql = explain_metric(
        warehouse, COUNT.get("n"), start=date(2026, 3, 2), end=date(2026, 3, 3), segment="plan"
    )
    assert sql.lstrip().startswith(("SELECT", "WITH")) and "accounts" in sql


def test_retention_cohort_table_matches_the_reference_for_each_n() -> None:
    from engines.cases import seeded_world
    from impactlens.metrics import retention_table
    from impactlens.metrics.spec import RetentionMetric
    from metrics.reference import SeriesGroups
    from metrics.reference_kinds import ref_retention
    from metrics.worlds import build_warehouse

    world = seeded_world(seed=3, events=250)
    wh = build_warehouse(world)
    metric = RetentionMetric(
        name="r", kind="retention", cohort_event=("Signed Up",), period="day", higher_is_better=True
    )
    start, end, tz = date(2026, 3, 2), date(2026, 3, 23), "Europe/Berlin"
    table = retention_table(wh, metric, grain="week", start=start, end=end, timezone=tz, periods=3)
    assert table.column_names == ["period_start", "size", "day_1", "day_2", "day_3"]
    groups = SeriesGroups(tz, start, end, "week")
    for n in (1, 2, 3):
        expected = ref_retention(world, metric.model_copy(update={"n": n}), groups)
        assert table.column(f"day_{n}").to_pylist() == [
            expected[(p,)]["value"] for p in table.column("period_start").to_pylist()
        ]
    assert table.column("size").to_pylist() == [
        expected[(p,)]["denominator"] for p in table.column("period_start").to_pylist()
    ]
    with pytest.raises(UserError, match="retention metric"):
        retention_table(wh, COUNT.get("n"), start=start, end=end)
