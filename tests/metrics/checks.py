"""Run a metric through the library and through the brute-force reference; compare."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import ibis
import pyarrow as pa
from hypothesis import strategies as st

from impactlens.metrics import metric_per_actor, metric_series
from metrics.reference import ActorGroups, SeriesGroups, utc_of
from metrics.worlds import BASE, TIMEZONES

SEGMENTS = (None, "plan", "account.tier", "event.source", "flag.search_v2", "user.role")
FILTERS = (
    {"field": "account.plan", "op": "in", "value": ["pro", "enterprise"]},
    {"field": "event.flags.search_v2", "value": True},
    {"field": "event.n", "op": ">=", "value": 3},
    {"field": "user.role", "op": "!=", "value": "admin"},
    {"field": "plan", "op": "not_exists"},
    {"field": "flag.search_v2", "value": False},
)


@st.composite
def windows(draw, grains=("day", "week", "month")) -> dict:
    start = BASE.date() + timedelta(days=draw(st.integers(0, 24)))
    return {
        "timezone": draw(st.sampled_from(TIMEZONES)),
        "grain": draw(st.sampled_from(grains)),
        "start": start,
        "end": start + timedelta(days=draw(st.integers(1, 16))),
    }


def close(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return False
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def compare(rows: list[dict], expected: dict, keys: tuple[str, ...]) -> None:
    got = {tuple(r[k] for k in keys): r for r in rows}
    assert sorted(got, key=repr) == sorted(expected, key=repr), (
        f"groups differ: library only {sorted(set(got) - set(expected), key=repr)}, "
        f"reference only {sorted(set(expected) - set(got), key=repr)}"
    )
    for key, want in expected.items():
        have = got[key]
        for column, value in want.items():
            if column.startswith("_"):
                continue
            assert column in have, f"{column} missing from the result"
            assert close(have[column], value), (
                f"{key} {column}: library {have[column]!r} != reference {value!r}"
            )


def series_case(wh, world, metric, ref, win, *, segment=None, filters=(), catalog=None, **ref_kw):
    frame = metric_series(
        wh,
        metric,
        grain=win["grain"],
        start=win["start"],
        end=win["end"],
        timezone=win["timezone"],
        segment=segment,
        filters=filters,
        catalog=catalog,
    )
    groups = SeriesGroups(win["timezone"], win["start"], win["end"], win["grain"], segment)
    expected = ref(world, metric, groups, extra=tuple(filters), **ref_kw)
    compare(frame.rows(), expected, ("period_start", "segment") if segment else ("period_start",))
    return frame


@st.composite
def actor_windows(draw) -> dict:
    """A per-actor query: bounds as dates (local) or naive UTC datetimes, maybe an actors table."""
    start = BASE.date() + timedelta(days=draw(st.integers(0, 20)))
    end = start + timedelta(days=draw(st.integers(1, 15)))
    tz = draw(st.sampled_from(TIMEZONES))
    as_datetime = draw(st.booleans())
    windows = None
    if draw(st.booleans()):
        windows = {}
        for uid in draw(
            st.lists(st.sampled_from(("u0", "u1", "u2", "u5", "a0", "a1", "zz")), unique=True)
        ):
            offset = draw(st.one_of(st.none(), st.integers(0, 10 * 86400)))
            stop = draw(st.one_of(st.none(), st.integers(0, 20 * 86400)))
            begin = (
                None
                if offset is None
                else datetime.combine(start, datetime.min.time()) + timedelta(seconds=offset)
            )
            windows[uid] = (
                begin,
                None
                if stop is None
                else datetime.combine(start, datetime.min.time()) + timedelta(seconds=stop),
            )
    return {
        "start": start,
        "end": end,
        "timezone": tz,
        "as_datetime": as_datetime,
        "windows": windows,
    }


def actors_memtable(windows: dict) -> ibis.Table:
    ids = sorted(windows)
    return ibis.memtable(
        pa.table(
            {
                "actor_id": pa.array(ids, pa.string()),
                "start_at": pa.array([windows[i][0] for i in ids], pa.timestamp("us")),
                "end_at": pa.array([windows[i][1] for i in ids], pa.timestamp("us")),
                "arm": pa.array(["x"] * len(ids), pa.string()),
            }
        )
    )


def actor_case(wh, world, metric, ref, aw, *, unit=None, filters=(), catalog=None, **ref_kw):
    tz = aw["timezone"]
    lo, hi = utc_of(aw["start"], tz), utc_of(aw["end"], tz)
    start, end = (lo, hi) if aw["as_datetime"] else (aw["start"], aw["end"])
    table = actors_memtable(aw["windows"]) if aw["windows"] is not None else None
    frame = metric_per_actor(
        wh,
        metric,
        start=start,
        end=end,
        actor=unit,
        actors_table=table,
        timezone=tz,
        filters=filters,
        catalog=catalog,
    )
    groups = ActorGroups(tz, lo, hi, unit or metric.actor, aw["windows"])
    expected = ref(world, metric, groups, extra=tuple(filters), **ref_kw)
    compare(frame.rows(), expected, ("actor_id",))
    if table is not None:
        assert set(frame.columns) >= {"actor_id", "start_at", "end_at", "arm"}
    return frame


def today() -> date:
    return BASE.date()
