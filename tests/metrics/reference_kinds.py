"""Brute-force reference of each metric kind (see reference.py for the shared pieces)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from metrics.reference import (
    ActorGroups,
    SeriesGroups,
    event_rows,
    finish,
    group_rows,
    local,
    period_end,
    plain_value,
    quantile,
    ratio_value,
    utc_of,
)


def specs(filters) -> list[dict]:
    return [f.model_dump() for f in filters]


def dense(world, metric, g, seen, extra_filters=()) -> list[tuple]:
    if isinstance(g, SeriesGroups):
        return g.dense(seen)
    if g.windows is not None:
        return sorted((a,) for a in g.windows)
    rows = event_rows(world, (), specs(metric.filters) + list(extra_filters), metric.actor)
    return sorted({k for r in rows if (k := g.key(r)) is not None})


def _count_table(world, names, filters, actor, g):
    rows = event_rows(world, names, filters, actor, g.segment)
    by = group_rows(rows, g)
    return {
        k: {"numerator": len(rs), "actors": len({r["actor"] for r in rs})} for k, rs in by.items()
    }


def ref_count(world, m, g, extra=()):
    table = _count_table(world, m.events, specs(m.filters) + list(extra), m.actor, g)
    return finish(g, dense(world, m, g, table, extra), table, ("numerator", "actors"), plain_value)


def ref_unique(world, m, g, extra=()):
    table = _count_table(world, m.events, specs(m.filters) + list(extra), m.actor, g)
    table = {k: {"numerator": v["actors"]} for k, v in table.items()}
    return finish(g, dense(world, m, g, table, extra), table, ("numerator",), plain_value)


def _part(world, part, ratio, g, catalog, extra):
    if isinstance(part, str):
        metric = catalog.get(part)
        names, filters, actor, how = metric.events, metric.filters, metric.actor, metric.kind
    else:
        names, filters, actor = part.event, part.filters, ratio.actor
        how = "unique" if part.aggregate == "actors" else "count"
    table = _count_table(
        world, names, specs(ratio.filters) + specs(filters) + list(extra), actor, g
    )
    return {k: v["actors"] if how == "unique" else v["numerator"] for k, v in table.items()}


def ref_ratio(world, m, g, catalog, extra=()):
    num = _part(world, m.numerator, m, g, catalog, extra)
    den = _part(world, m.denominator, m, g, catalog, extra)
    table = {
        k: {"numerator": num.get(k, 0), "denominator": den.get(k, 0)} for k in set(num) | set(den)
    }
    keys = dense(world, m, g, table, extra)
    return finish(g, keys, table, ("numerator", "denominator"), ratio_value("denominator is 0"))


def ref_conversion(world, m, g, extra=()):
    base = specs(m.filters) + list(extra)
    first = event_rows(
        world, (m.steps[0].event,), base + specs(m.steps[0].filters), m.actor, g.segment
    )
    later = [event_rows(world, (s.event,), base + specs(s.filters), m.actor) for s in m.steps[1:]]
    entries: dict = {}
    for r in first:
        k = g.key(r)
        if k is not None:
            entries[(k, r["actor"])] = min(entries.get((k, r["actor"]), r["ts"]), r["ts"])
    table: dict = defaultdict(lambda: defaultdict(int))
    for (k, actor), t0 in entries.items():
        reached, prev = 1, t0
        for rows in later:
            times = [
                r["ts"] for r in rows if r["actor"] == actor and prev <= r["ts"] <= t0 + m.within
            ]
            if not times:
                break
            prev, reached = min(times), reached + 1
        for step in range(1, reached + 1):
            table[k][f"step_{step}"] += 1
    last = len(m.steps)
    out = {}
    for k, row in table.items():
        row = dict(row)
        row.update(numerator=row.get(f"step_{last}", 0), denominator=row["step_1"])
        out[k] = row
    additive = ("numerator", "denominator", *(f"step_{i}" for i in range(1, last + 1)))
    return finish(
        g, dense(world, m, g, out, extra), out, additive, ratio_value("nobody entered the funnel")
    )


UNIT = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def ref_duration(world, m, g, extra=()):
    base = specs(m.filters) + list(extra)
    a_rows = event_rows(
        world, (m.from_event.event,), base + specs(m.from_event.filters), m.actor, g.segment
    )
    b_rows = event_rows(world, (m.to_event.event,), base + specs(m.to_event.filters), m.actor)
    pairs = defaultdict(list)
    for a in a_rows:
        k = g.key(a)
        if k is None:
            continue
        nxt = [b["ts"] for b in b_rows if b["actor"] == a["actor"] and b["ts"] >= a["ts"]]
        if not nxt:
            continue
        seconds = (min(nxt) - a["ts"]).total_seconds()
        if m.within is not None and seconds > m.within.total_seconds():
            continue
        pairs[k].append(seconds / UNIT[m.unit])
    table = {
        k: {
            "numerator": sum(v),
            "denominator": len(v),
            "mean": sum(v) / len(v),
            "median": quantile(v, 0.5),
            "p90": quantile(v, 0.9),
        }
        for k, v in pairs.items()
    }
    per_actor = isinstance(g, ActorGroups)

    def value(row):
        if row["denominator"] == 0:
            return None, "no completed pair"
        if per_actor or m.stat == "mean":
            return row["numerator"] / row["denominator"], None
        return row[m.stat], None

    return finish(g, dense(world, m, g, table, extra), table, ("numerator", "denominator"), value)


def _first_rows(rows):
    first: dict = {}
    for r in rows:
        cur = first.get(r["actor"])
        if cur is None or r["ts"] < cur["ts"]:
            first[r["actor"]] = dict(r)
        elif r["ts"] == cur["ts"]:  # ties: the smallest uid, aid and segment
            for col in ("uid", "aid", "segment"):
                vals = [v for v in (cur[col], r[col]) if v is not None]
                cur[col] = min(vals) if vals else None
    return list(first.values())


def ref_retention(world, m, g, extra=()):
    base = specs(m.filters) + list(extra)
    span = {"day": 1, "week": 7}[m.period]
    lo_off, hi_off = m.n * span, m.n * span + span - 1
    cohort = _first_rows(event_rows(world, m.cohort_event, base, m.actor, g.segment))
    back = event_rows(world, m.return_event, base, m.actor)
    table: dict = defaultdict(lambda: {"numerator": 0, "denominator": 0})
    for c in cohort:
        k = g.key(c)
        if k is None:
            continue
        cday = g.local_day(c["ts"])
        table[k]["denominator"] += 1
        days = {(g.local_day(b["ts"]) - cday).days for b in back if b["actor"] == c["actor"]}
        table[k]["numerator"] += any(lo_off <= d <= hi_off for d in days)
    table = dict(table)
    return finish(
        g,
        dense(world, m, g, table, extra),
        table,
        ("numerator", "denominator"),
        ratio_value("empty cohort"),
    )


def _actives(active, segment, day, window) -> int:
    """Distinct actors active on any of the ``window`` days ending with ``day``."""
    got: set = set()
    for i in range(window):
        got |= active.get((segment, day - timedelta(days=i)), set())
    return len(got)


def _actives(active, segment, day, window) -> int:
    """Distinct actors active on any of the ``window`` days ending with ``day``."""
    got: set = set()
    for i in range(window):
        got |= active.get((segment, day - timedelta(days=i)), set())
    return len(got)


def ref_stickiness(world, m, g, extra=()):
    if isinstance(g, ActorGroups):
        return _stickiness_per_actor(world, m, g, extra)
    rows = event_rows(world, m.event, specs(m.filters) + list(extra), m.actor, g.segment)
    short = 1 if m.ratio == "dau_mau" else 7
    first_day = g.start - timedelta(days=29)
    lo = utc_of(first_day, g.tz)
    active = defaultdict(set)  # (segment, local day) -> actors
    for r in rows:
        if lo <= r["ts"] < g.hi:
            active[(r["segment"], local(r["ts"], g.tz).date())].add(r["actor"])
    segs = sorted({s for s, _ in active}) if g.segment else [None]
    sums: dict = defaultdict(lambda: [0, 0, 0])
    day = g.start
    while day < g.end:
        p = (
            (day - timedelta(days=day.weekday()))
            if g.grain == "week"
            else (day.replace(day=1) if g.grain == "month" else day)
        )
        for s in segs:
            acc = sums[(p, s) if g.segment else (p,)]
            acc[0] += _actives(active, s, day, short)
            acc[1] += _actives(active, s, day, 30)
            acc[2] += 1
        day += timedelta(days=1)
    table = {k: {"numerator": a / n, "denominator": b / n} for k, (a, b, n) in sums.items()}
    return finish(
        g,
        list(table),
        table,
        ("numerator", "denominator"),
        ratio_value("nobody active in the last 30 days"),
    )


def ref_adoption(world, m, g, extra=()):
    base = specs(m.filters) + list(extra)
    active = event_rows(world, m.active_event, base, m.actor, g.segment)
    feature = event_rows(world, m.feature_event, base, m.actor, g.segment)
    anything = event_rows(world, (), base, m.actor)
    groups = defaultdict(set)
    for r in active:
        if (k := g.key(r)) is not None:
            groups[k].add(r["actor"])
    first_use = {}
    for r in feature:
        first_use[r["actor"]] = min(first_use.get(r["actor"], r["ts"]), r["ts"])
    table = {}
    for k, actors in groups.items():
        if m.cumulative:
            end = (
                g.hi
                if isinstance(g, ActorGroups)
                else min(utc_of(period_end(k[0], g.grain), g.tz), g.hi)
            )
            hits = {a for a in actors if a in first_use and first_use[a] < end}
        else:
            plain = k[:1]
            hits = {
                a
                for a in actors
                for r in feature
                if r["actor"] == a and (kk := g.key(r)) is not None and kk[:1] == plain
            }
        table[k] = {
            "numerator": len(hits),
            "denominator": len(actors),
            "first_users": 0,
            "_days": [],
        }
    seen = {}
    for r in anything:
        seen[r["actor"]] = min(seen.get(r["actor"], r["ts"]), r["ts"])
    for r in _first_rows(feature):
        k = g.key(r)
        if k in table and r["actor"] in seen:
            table[k]["first_users"] += 1
            table[k]["_days"].append((r["ts"] - seen[r["actor"]]).total_seconds() / 86400)
    for row in table.values():
        row["median_days_to_first_use"] = quantile(row.pop("_days"), 0.5)
    return finish(
        g,
        dense(world, m, g, table, extra),
        table,
        ("numerator", "denominator", "first_users"),
        ratio_value("no active actors"),
    )


def _stickiness_per_actor(world, m, g: ActorGroups, extra=()):
    """Per unit: Σ over its window's local days of actors active in the short / 30-day window."""
    short = 1 if m.ratio == "dau_mau" else 7
    first = local(g.lo, g.tz).date()
    last = local(g.hi - timedelta(microseconds=1), g.tz).date()
    base = first - timedelta(days=29)
    active = defaultdict(set)  # (unit, local day) -> metric actors
    for r in event_rows(world, m.event, specs(m.filters) + list(extra), m.actor):
        unit = r["uid"] if g.unit == "user" else r["aid"]
        day = local(r["ts"], g.tz).date()
        if unit is not None and utc_of(base, g.tz) <= r["ts"] < g.hi:
            active[(unit, day)].add(r["actor"])
    if g.windows is None:  # the population: units with any event in the window
        units = {k[0]: (first, None) for k in dense(world, m, g, {}, extra)}
    else:
        units = {}
        for u, (s, e) in g.windows.items():
            units[u] = (local(s, g.tz).date() if s else base, local(e, g.tz).date() if e else None)
    table = {}
    for unit, (s, e) in units.items():
        num = den = 0
        day = max(first, s)
        while day <= last and (e is None or day < e):
            num += _actives(active, unit, day, short)
            den += _actives(active, unit, day, 30)
            day += timedelta(days=1)
        table[(unit,)] = {"numerator": num, "denominator": den}
    return finish(
        g,
        sorted(table),
        table,
        ("numerator", "denominator"),
        ratio_value("nobody active in the last 30 days"),
    )
