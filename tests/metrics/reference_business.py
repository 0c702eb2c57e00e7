"""Brute-force references of the survey, tickets and revenue kinds."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from metrics.reference import (
    ActorGroups,
    Fields,
    SeriesGroups,
    event_rows,
    finish,
    plain_value,
    quantile,
    ratio_value,
)
from metrics.reference_kinds import specs

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _rows(world, table, ts_col, filters, actor, segment):
    f = Fields(world)
    out = []
    for src in getattr(world, table):
        row = dict(src, ts=src[ts_col], uid=src.get("user_id"), aid=src.get("account_id"))
        if row["ts"] is None or not all(f.passes(row, spec) for spec in filters):
            continue
        row["actor"] = row["uid"] if actor == "user" else row["aid"]
        if row["actor"] is None:
            continue
        row["segment"] = f.segment(row, segment)
        out.append(row)
    return out


def _keys(g, seen, rows_any):
    if isinstance(g, SeriesGroups):
        return g.dense(seen)
    if g.windows is not None:
        return sorted((a,) for a in g.windows)
    return sorted({k for r in rows_any if (k := g.key(r)) is not None})


def ref_survey(world, m, g, extra=()):
    rows = _rows(
        world, "surveys", "responded_at", specs(m.filters) + list(extra), m.actor, g.segment
    )
    low, high = SCALES[m.survey]
    by = defaultdict(list)
    for r in rows:
        if r["survey"] == m.survey and low <= r["score"] <= high and (k := g.key(r)) is not None:
            by[k].append(r["score"])
    table = {}
    for k, scores in by.items():
        row = {"denominator": len(scores)}
        if m.stat == "nps":
            row["promoters"] = sum(s >= 9 for s in scores)
            row["detractors"] = sum(s <= 6 for s in scores)
            row["numerator"] = 100.0 * (row["promoters"] - row["detractors"])
        elif m.stat == "satisfied_share":
            row["satisfied"] = sum(s >= {"csat": 4, "ces": 5}.get(m.survey, 9) for s in scores)
            row["numerator"] = row["satisfied"]
        else:
            row["numerator"] = sum(scores)
        table[k] = row
    extras = {"nps": ("promoters", "detractors"), "satisfied_share": ("satisfied",)}.get(m.stat, ())
    population = _rows(world, "surveys", "responded_at", [], m.actor, None)
    return finish(
        g,
        _keys(g, table, population),
        table,
        ("numerator", "denominator", *extras),
        ratio_value("no answers"),
    )


def ref_tickets(world, m, g, extra=()):
    filters = specs(m.filters) + list(extra)
    rows = [
        r for r in _rows(world, "tickets", "created_at", filters, m.actor, g.segment) if g.key(r)
    ]
    population = _rows(world, "tickets", "created_at", [], m.actor, None)
    by = defaultdict(list)
    for r in rows:
        by[g.key(r)].append(r)
    if m.stat == "count":
        table = {k: {"numerator": len(v)} for k, v in by.items()}
        return finish(g, _keys(g, table, population), table, ("numerator",), plain_value)
    if m.stat == "per_active_account":
        event_filters = [
            f for f in specs(m.filters) if not f["field"].startswith("ticket.")
        ] + list(extra)
        active = defaultdict(set)
        for r in event_rows(world, (), event_filters, "account", g.segment):
            if (k := g.key(r)) is not None:
                active[k].add(r["actor"])
        table = {
            k: {"numerator": len(by.get(k, [])), "denominator": len(active.get(k, ()))}
            for k in set(by) | set(active)
        }
        return finish(
            g,
            _keys(g, table, population),
            table,
            ("numerator", "denominator"),
            ratio_value("no active accounts"),
        )
    table = {}
    for k, rs in by.items():
        hours = [
            (r["solved_at"] - r["ts"]).total_seconds() / 3600
            for r in rs
            if r["solved_at"] is not None and r["solved_at"] >= r["ts"]
        ]
        if hours:
            table[k] = {
                "numerator": sum(hours),
                "denominator": len(hours),
                "mean": sum(hours) / len(hours),
                "median": quantile(hours, 0.5),
                "p90": quantile(hours, 0.9),
            }

    def value(row):
        if row["denominator"] == 0:
            return None, "no solved tickets"
        if isinstance(g, ActorGroups):
            return row["numerator"] / row["denominator"], None
        return row["median"], None

    return finish(g, _keys(g, table, population), table, ("numerator", "denominator"), value)


def ref_revenue(world, m, g, extra=()):
    f = Fields(world)
    paid: dict = defaultdict(float)  # (account, month index) -> paying MRR
    segment_of = {}
    present = set()
    for r in world.revenue:
        row = {
            "aid": r["account_id"],
            "uid": None,
            "ts": datetime.combine(r["period_start"], datetime.min.time()),
        }
        if not all(f.passes(row, spec) for spec in specs(m.filters) + list(extra)):
            continue
        month = r["period_start"].year * 12 + r["period_start"].month - 1
        paid[(r["account_id"], month)] += r["mrr"] if r["status"] == "active" else 0.0
        present.add((r["account_id"], month))
        segment_of[r["account_id"]] = f.segment(row, g.segment)
    last = max((mo for _, mo in present), default=None)
    cells = {(a, mo) for a, mo in present} | {(a, mo + 1) for a, mo in present}
    table: dict = {}
    for a, mo in cells:
        if mo > last:
            continue
        ts = datetime(mo // 12, mo % 12 + 1, 1)
        if isinstance(g, SeriesGroups):
            if not (
                datetime.combine(g.start, datetime.min.time())
                <= ts
                < datetime.combine(g.end, datetime.min.time())
            ):
                continue
            k = (ts.date(), segment_of[a]) if g.segment else (ts.date(),)
        else:
            k = g.key({"ts": ts, "uid": None, "aid": a})
            if k is None:
                continue
        cur, prev = paid.get((a, mo), 0.0), paid.get((a, mo - 1), 0.0)
        had = prev > 0
        flows = {
            "mrr": (cur, None),
            "new_mrr": (cur if not had and cur > 0 else 0.0, None),
            "expansion_mrr": (cur - prev if had and cur > prev else 0.0, None),
            "contraction_mrr": (prev - cur if had and 0 < cur < prev else 0.0, None),
            "churned_mrr": (prev if had and cur == 0 else 0.0, None),
            "net_new_mrr": (cur - prev, None),
            "nrr": (cur if had else 0.0, prev if had else 0.0),
            "grr": (min(cur, prev) if had else 0.0, prev if had else 0.0),
            "logo_churn_rate": (1.0 if had and cur == 0 else 0.0, 1.0 if had else 0.0),
            "arpa": (cur, 1.0 if cur > 0 else 0.0),
        }
        num, den = flows[m.stat]
        if den is None and isinstance(g, ActorGroups):
            den = 1.0
        row = table.setdefault(k, {"numerator": 0.0, "denominator": 0.0, "accounts": 0})
        row["numerator"] += num
        row["denominator"] += den or 0.0
        row["accounts"] += cur > 0
    ratio = m.stat in ("nrr", "grr", "logo_churn_rate", "arpa") or isinstance(g, ActorGroups)
    if isinstance(g, SeriesGroups):
        keys = g.dense(table)
    elif g.windows is not None:
        keys = sorted((a,) for a in g.windows)
    else:  # accounts with a revenue row in the window
        keys = sorted(
            {
                k
                for a, mo in present
                if (k := g.key({"ts": datetime(mo // 12, mo % 12 + 1, 1), "uid": None, "aid": a}))
            }
        )
    why = (
        "no paying accounts" if m.stat == "arpa" else "no paying accounts at the start of the month"
    )
    if ratio:
        for row in table.values():
            row.pop("accounts")
        return finish(g, keys, table, ("numerator", "denominator"), ratio_value(why))
    for row in table.values():
        row["denominator"] = None
    return finish(g, keys, table, ("numerator", "accounts"), plain_value)
