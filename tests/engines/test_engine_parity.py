"""The same metric queries on DuckDB, PySpark (local) and ClickHouse (chdb), each checked
against the brute-force reference, so the engines agree with it and with each other.

A known engine gap is an xfail with its reason (GAPS), never a silent skip.
"""

from __future__ import annotations

import pytest

from engines.cases import CASES, CATALOG, REFS, Case, actor_window, seeded_world, window_for
from engines.harness import ChdbWarehouse, actor_rows, series_rows, spark_warehouse
from metrics.checks import actors_memtable, compare
from metrics.reference import ActorGroups, SeriesGroups, utc_of
from metrics.worlds import build_warehouse

ENGINES = [
    "duckdb",
    # pyspark 4.0 and Ibis' pyspark backend convert through pandas with options and keywords
    # pandas 3 deprecates; those warnings are theirs, not ours, and only those are silenced.
    pytest.param(
        "pyspark",
        marks=[
            pytest.mark.spark,
            pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:pyspark"),
            pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:ibis"),
            # py4j leaves result sockets to the garbage collector.
            pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
            pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ],
    ),
    pytest.param("clickhouse", marks=pytest.mark.clickhouse),
]
# (engine, metric, "series" | "actor") -> why it does not match yet.
GAPS: dict[tuple[str, str, str], str] = {}


@pytest.fixture(scope="module", params=ENGINES)
def engine(request):
    world = seeded_world()
    if request.param == "duckdb":
        wh = build_warehouse(world, fresh=True)
    elif request.param == "pyspark":
        wh = spark_warehouse(request.getfixturevalue("spark_session"), world)
    else:
        wh = ChdbWarehouse(world)
    yield request.param, world, wh
    if request.param != "pyspark":  # the SparkSession is shared and stopped by its own fixture
        wh.close()


def _gap(request, engine: str, case: Case, what: str) -> None:
    reason = GAPS.get((engine, case.metric, what))
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_series_matches_the_reference(engine, case: Case, request) -> None:
    name, world, wh = engine
    _gap(request, name, case, "series")
    metric = CATALOG.get(case.metric)
    win = window_for(case)
    rows = series_rows(
        wh,
        metric,
        grain=win["grain"],
        start=win["start"],
        end=win["end"],
        timezone=win["timezone"],
        segment=case.segment,
        filters=case.filters,
        catalog=CATALOG,
    )
    groups = SeriesGroups(win["timezone"], win["start"], win["end"], win["grain"], case.segment)
    expected = REFS[case.metric](world, metric, groups, extra=case.filters)
    compare(rows, expected, ("period_start", "segment") if case.segment else ("period_start",))


@pytest.mark.parametrize("case", [c for c in CASES if c.per_actor], ids=lambda c: c.id)
def test_per_actor_matches_the_reference(engine, case: Case, request) -> None:
    name, world, wh = engine
    _gap(request, name, case, "actor")
    metric = CATALOG.get(case.metric)
    aw = actor_window(case)
    rows = actor_rows(
        wh,
        metric,
        start=aw["start"],
        end=aw["end"],
        timezone=aw["timezone"],
        actors_table=actors_memtable(aw["windows"]),
        filters=case.filters,
        catalog=CATALOG,
    )
    lo, hi = utc_of(aw["start"], aw["timezone"]), utc_of(aw["end"], aw["timezone"])
    groups = ActorGroups(aw["timezone"], lo, hi, metric.actor, aw["windows"])
    expected = REFS[case.metric](world, metric, groups, extra=case.filters)
    compare(rows, expected, ("actor_id",))
