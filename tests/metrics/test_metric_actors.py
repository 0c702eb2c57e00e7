"""``metric_series(actors=...)``: a series narrowed to some actors and split by their segment.

Reference: the same series filtered to each group by a ``user.user_id`` /
``account.account_id`` ``in`` filter (a separate path, which the kind tests
check against the brute-force reference in reference.py), on raw events and
on the hourly rollup.
"""

from __future__ import annotations

from datetime import date

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.errors import UserError
from impactlens.metrics import metric_series, parse_metrics
from impactlens.warehouse.rollups import rebuild_rollups
from metrics.worlds import ACCOUNTS, USERS, build_warehouse, worlds

CATALOG = parse_metrics(
    """metrics:
  - {name: sessions, kind: count, event: Session Started, higher_is_better: true}
  - {name: actives, kind: unique, actor: account, higher_is_better: true}
  - name: ctr
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: {event: Search Performed, aggregate: actors}
    higher_is_better: true
  - {name: stick, kind: stickiness, ratio: wau_mau, higher_is_better: true}
"""
)
RANGE = {"start": date(2026, 3, 3), "end": date(2026, 3, 24), "catalog": CATALOG}


def _groups(wh, unit: str, arms: dict[str, list[str]]):
    """An actors table over the warehouse: (actor_id, segment) for each arm."""
    table, key = ("users", "user_id") if unit == "user" else ("accounts", "account_id")
    source = wh.table(table)
    parts = [
        source.filter(source[key].isin(ids)).select(actor_id=source[key], segment=ibis.literal(arm))
        for arm, ids in arms.items()
    ]
    return parts[0].union(parts[1])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    worlds(),
    st.lists(st.sampled_from(["x", "y", None]), min_size=len(USERS), max_size=len(USERS)),
    st.sampled_from(["UTC", "America/New_York"]),
    st.sampled_from(["day", "week"]),
)
def test_a_series_of_some_actors_is_the_series_filtered_to_them(world, arms, tz, grain) -> None:
    wh = build_warehouse(world)
    rebuild_rollups(wh)
    for name in ("sessions", "actives", "ctr"):
        unit = CATALOG.get(name).actor
        ids = USERS if unit == "user" else ACCOUNTS
        groups = {arm: [i for i, a in zip(ids, arms, strict=False) if a == arm] for arm in "xy"}
        actors = _groups(wh, unit, groups)
        field = "user.user_id" if unit == "user" else "account.account_id"
        for source in ("events", "rollup"):
            got = metric_series(
                wh, name, grain=grain, timezone=tz, source=source, actors=actors, **RANGE
            ).rows()
            for arm, members in groups.items():
                want = metric_series(
                    wh, name, grain=grain, timezone=tz, source=source,
                    filters=[{"field": field, "op": "in", "value": members or ["nobody"]}],
                    **RANGE,
                ).rows()  # fmt: skip
                mine = [{k: v for k, v in r.items() if k != "segment"} for r in got]
                mine = [r for r, g in zip(mine, got, strict=True) if g["segment"] == arm]
                if mine:  # an arm without rows has no segment value to list
                    assert mine == want, (name, source, arm)
                else:
                    assert all(r["numerator"] == 0 for r in want), (name, source, arm)


def test_actors_only_for_kinds_whose_rows_carry_their_actor(warehouse) -> None:
    actors = warehouse.table("users").select(actor_id="user_id")
    with pytest.raises(UserError, match="count, unique, ratio"):
        metric_series(warehouse, "stick", actors=actors, **RANGE)
    with pytest.raises(UserError, match="not both"):
        metric_series(
            warehouse, "sessions", actors=actors.mutate(segment=ibis.literal("x")),
            segment="plan", **RANGE,
        )  # fmt: skip
