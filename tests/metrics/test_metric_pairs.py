"""The tables kept at import for issue #3: hourly event counts and next-event pairs.

After any sequence of imports (each refreshed with its batch's time range, late
events for earlier hours included, a definition registered at any point) both
must hold exactly what a brute-force pass over all events gives, and the
metrics that read them must give the raw-events numbers.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from impactlens.metrics import metric_series, parse_metrics
from impactlens.metrics.planner import forget_unused_pairs, keep_pairs, rollup_blocker
from impactlens.metrics.query import Query, SeriesGrouping
from impactlens.metrics.timebase import Timebase
from impactlens.warehouse import Warehouse
from impactlens.warehouse.rollups import (
    forget_pairs,
    pair_key,
    pairs_kept,
    rebuild_rollups,
    refresh_after_import,
    register_pairs,
    request_pairs,
    rollup_is_fresh,
)
from impactlens.warehouse.schema import COUNTS_TABLE, PAIRS_TABLE, TABLES
from metrics.worlds import BASE, build_warehouse, worlds

FROM, TO, OTHER = "Report Created", "Report Exported", "Search Performed"
WITHIN = 7200  # seconds: small against the 3-day span, so the bound decides many pairs

CATALOG = parse_metrics(
    """metrics:
  - name: tte
    kind: duration
    from_event: Search Performed
    to_event: Search Result Clicked
    within: 1d
    stat: median
    unit: minutes
    higher_is_better: false
  - name: tte_mean_acct
    kind: duration
    from_event: Signed Up
    to_event: Report Created
    within: 3d
    stat: mean
    unit: hours
    actor: account
    higher_is_better: false
  - name: tte_open
    kind: duration
    from_event: Search Performed
    to_event: Search Result Clicked
    higher_is_better: false
  - name: ctr
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: searches
    higher_is_better: true
  - {name: searches, kind: count, event: Search Performed, higher_is_better: true}
  - name: ctr_acct
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: {event: Search Performed}
    actor: account
    higher_is_better: true
"""
)


def _event(i: int, ts: datetime, name: str, actor: str | None, account: str | None) -> dict:
    return {
        "message_id": f"m{i}",
        "timestamp": ts,
        "event": name,
        "actor_id": actor,
        "account_id": account,
        "properties": "{}",
    }


# An import batch: events within three hours of a start anywhere in three days (whole
# minutes: many pairs exactly WITHIN apart, ties at one instant). Later batches often land
# before, inside or just after earlier ones: late events for hours already refreshed.
batches = st.builds(
    lambda start, items: [(BASE + timedelta(minutes=start + m), *rest) for m, *rest in items],
    st.integers(0, 3 * 24 * 60),
    st.lists(
        st.tuples(
            st.integers(0, 180),
            st.sampled_from([FROM, TO, OTHER]),
            st.sampled_from(["u0", "u1", "u2", None]),
            st.sampled_from(["a0", "a1", None]),
        ),
        min_size=1,
        max_size=8,
    ),
)


def reference_pairs(
    rows: list[dict], actor: str, from_event: str = FROM, to_event: str = TO, within: int = WITHIN
) -> Counter:
    """Each from-event with its actor's earliest to-event at or after it, if within ``within``."""
    column = {"user": "actor_id", "account": "account_id"}[actor]
    out: Counter = Counter()
    for a in rows:
        if a["event"] != from_event or a[column] is None:
            continue
        later = [
            b["timestamp"]
            for b in rows
            if b["event"] == to_event
            and b[column] == a[column]
            and b["timestamp"] >= a["timestamp"]
        ]
        if later and (min(later) - a["timestamp"]).total_seconds() <= within:
            out[(a["timestamp"], a[column], min(later))] += 1
    return out


def reference_counts(rows: list[dict]) -> Counter:
    out: Counter = Counter()
    for r in rows:
        hour = r["timestamp"].replace(minute=0, second=0)
        key = (hour, r["event"])
        out[key + ("n",)] += 1
        out[key + ("n_user",)] += r["actor_id"] is not None
        out[key + ("n_account",)] += r["account_id"] is not None
    return +out  # zero counts dropped on both sides


def kept_pairs(wh: Warehouse, key: str) -> Counter:
    table = wh.table(PAIRS_TABLE)
    rows = table.filter(table.pair_key == key).to_pyarrow().to_pylist()
    return Counter((r["ts"], r["actor"], r["next_ts"]) for r in rows)


def kept_counts(wh: Warehouse) -> Counter:
    out: Counter = Counter()
    for r in wh.table(COUNTS_TABLE).to_pyarrow().to_pylist():
        for column in ("n", "n_user", "n_account"):
            out[(r["hour"], r["event"], column)] += r[column]
    return +out


def _at(minute: int, name: str) -> tuple:
    return (BASE + timedelta(minutes=minute), name, "u0", "a0")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A to-event imported after its from-event, in a later hour: the refresh must reach back.
@example([[_at(50, FROM)], [_at(70, TO)]], 0)
# Late events: the from-event arrives after its to-event, and one more before both.
@example([[_at(200, TO)], [_at(190, FROM)], [_at(100, FROM), _at(101, OTHER)]], 1)
@given(
    st.lists(batches, min_size=1, max_size=6),
    st.integers(0, 6),
)
def test_pairs_and_counts_stay_exact_over_any_sequence_of_imports(batches, register_at) -> None:
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    written: list[dict] = []
    keys: dict[str, str] = {}
    schema = TABLES["events"].schema.to_pyarrow()
    for step, batch in enumerate([[], *batches]):
        if step == register_at:  # before, between or after imports
            keys["user"] = register_pairs(wh, FROM, TO, "user", WITHIN)  # built now
            keys["account"] = request_pairs(wh, FROM, TO, "account", WITHIN)  # at the next refresh
            assert pairs_kept(wh, keys["user"]) and not pairs_kept(wh, keys["account"])
        rows = [_event(len(written) + i, *e) for i, e in enumerate(batch)]
        if rows:
            wh.backend.insert("events", pa.Table.from_pylist(rows, schema=schema))
            written += rows
            stamps = [r["timestamp"] for r in rows]
            refresh_after_import(wh, min(stamps), max(stamps))
        assert rollup_is_fresh(wh)
        assert kept_counts(wh) == reference_counts(written)
        for actor, key in keys.items():
            if pairs_kept(wh, key):
                assert kept_pairs(wh, key) == reference_pairs(written, actor), (step, actor)
            else:  # requested at this step, nothing imported since
                assert step == register_at and not rows and kept_pairs(wh, key) == Counter()
    if register_at > len(batches):  # registered after the last import
        keys["user"] = register_pairs(wh, FROM, TO, "user", WITHIN)
        keys["account"] = request_pairs(wh, FROM, TO, "account", WITHIN)
    refresh_after_import(wh, None, None)  # an import of nothing still builds what was asked
    for actor, key in keys.items():
        assert pairs_kept(wh, key)
        assert kept_pairs(wh, key) == reference_pairs(written, actor), actor
    forget_pairs(wh, keys["user"])
    assert kept_pairs(wh, keys["user"]) == Counter() and not pairs_kept(wh, keys["user"])
    wh.close()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
def test_metrics_on_the_kept_tables_give_the_raw_events_numbers(world, tz) -> None:
    wh = build_warehouse(world)
    rebuild_rollups(wh)
    keep_pairs(wh, CATALOG)
    kwargs = dict(
        grain="day", start=date(2026, 3, 3), end=date(2026, 3, 24), timezone=tz, catalog=CATALOG
    )
    for name in ("tte", "tte_mean_acct", "ctr", "ctr_acct"):
        raw = metric_series(wh, CATALOG.get(name), source="events", **kwargs)
        auto = metric_series(wh, CATALOG.get(name), source="auto", **kwargs)
        assert auto.rows() == raw.rows(), name
    assert rollup_blocker(wh, CATALOG.get("tte"), _query(wh, tz)) is None  # pairs were read


def _query(wh: Warehouse, tz: str = "UTC", segment: str | None = None) -> Query:
    from impactlens.metrics.fields import parse_field

    seg = parse_field(segment) if segment else None
    timebase = Timebase(tz, date(2026, 3, 1), date(2026, 4, 1))
    return Query(wh, SeriesGrouping(timebase, seg is not None), seg)


def test_the_planner_reads_pairs_only_where_they_are_exact(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    wh = Warehouse.connect(f"duckdb://{path}")
    wh.ensure_schema()
    refresh_after_import(wh, None, None)
    assert "without within" in rollup_blocker(wh, CATALOG.get("tte_open"), _query(wh))
    assert "segments" in rollup_blocker(wh, CATALOG.get("tte"), _query(wh, segment="plan"))
    wh.close()
    # a read-only warehouse cannot ask for the pairs: raw events, and it says why
    ro = Warehouse.connect(f"duckdb://{path}", read_only=True)
    assert "read-only" in rollup_blocker(ro, CATALOG.get("tte"), _query(ro))
    ro.close()
    wh = Warehouse.connect(f"duckdb://{path}")
    assert "requested" in rollup_blocker(wh, CATALOG.get("tte"), _query(wh))  # asked for now
    assert "requested" in rollup_blocker(wh, CATALOG.get("tte"), _query(wh))  # asked once
    key = pair_key("Search Performed", "Search Result Clicked", "user", 86400)
    assert wh.table("_impactlens_pair_defs").pair_key.to_pyarrow().to_pylist() == [key]
    refresh_after_import(wh, None, None)  # the next import builds it
    assert rollup_blocker(wh, CATALOG.get("tte"), _query(wh)) is None
    wh.close()


def test_forget_unused_pairs_keeps_exactly_the_definitions_of_the_current_catalog() -> None:
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    search, click = "Search Performed", "Search Result Clicked"
    stamps = [BASE + timedelta(minutes=7 * i) for i in range(60)]
    rows = [
        _event(i, ts, [search, click, click][i % 3], f"u{i % 4}", f"a{i % 2}")
        for i, ts in enumerate(stamps)
    ]
    wh.backend.insert(
        "events", pa.Table.from_pylist(rows, schema=TABLES["events"].schema.to_pyarrow())
    )
    refresh_after_import(wh, min(stamps), max(stamps))
    first = keep_pairs(wh, CATALOG)  # tte (user, 1d), tte_mean_acct (account, 3d); not tte_open
    assert sorted(first) == sorted(
        [
            pair_key(search, click, "user", 86400),
            pair_key("Signed Up", "Report Created", "account", 259200),
        ]
    )
    # tte's within changes and a second metric shares its new definition; the account one leaves
    changed = parse_metrics(
        """metrics:
  - {name: tte, kind: duration, from_event: Search Performed, to_event: Search Result Clicked,
     within: 1h, higher_is_better: false}
  - {name: tte_p90, kind: duration, from_event: Search Performed,
     to_event: Search Result Clicked, within: 60m, stat: p90, higher_is_better: false}
"""
    )
    assert sorted(forget_unused_pairs(wh, changed)) == sorted(first)
    assert kept_pairs(wh, first[0]) == Counter() and not pairs_kept(wh, first[0])
    key = pair_key(search, click, "user", 3600)
    assert keep_pairs(wh, changed) == [key]  # one definition for both metrics
    assert kept_pairs(wh, key) == reference_pairs(rows, "user", search, click, 3600) != Counter()
    assert forget_unused_pairs(wh, changed) == []  # nothing else is kept
    wh.close()
