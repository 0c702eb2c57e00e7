"""Brute-force references for every metric kind, in plain Python over lists of dicts.

Written from the formulas in docs/metrics.md, not from the Ibis code: local
days come from zoneinfo one row at a time, quantiles from numpy, "next event"
and "distinct actors" from loops and sets. Each function returns
{group key: {column: value}} over the same dense groups the library returns.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

NONE = "(none)"


# -- time -------------------------------------------------------------------------------------
def local(ts: datetime, tz: str) -> datetime:
    return ts.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def utc_of(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


def period_of(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def periods(start: date, end: date, grain: str) -> list[date]:
    out = sorted({period_of(start + timedelta(days=i), grain) for i in range((end - start).days)})
    return out


def period_end(p: date, grain: str) -> date:
    if grain == "day":
        return p + timedelta(days=1)
    if grain == "week":
        return p + timedelta(days=7)
    return (p + timedelta(days=32)).replace(day=1)


# -- fields -----------------------------------------------------------------------------------
def text_of(value) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_get(doc: str | None, path: list[str]):
    value = json.loads(doc) if doc else {}
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return text_of(value)


class Fields:
    """Resolves filter/segment fields for a row, the slow and obvious way."""

    def __init__(self, world) -> None:
        self.world = world
        self.accounts = {a["account_id"]: a for a in world.accounts}
        self.users = {u["user_id"]: u for u in world.users}

    def flag(self, uid, name):
        seen = [
            (e["timestamp"], json_get(e["properties"], ["flags", name]))
            for e in self.world.events
            if e["actor_id"] == uid
        ]
        seen = [s for s in seen if s[1] is not None]
        return max(seen)[1] if seen else None

    def value(self, row: dict, field: str):
        field = {"plan": "account.plan", "segment": "account.segment"}.get(field, field)
        ns, *path = field.split(".")
        if ns == "event":
            return json_get(row.get("properties"), path), True
        if ns == "account":
            acc = self.accounts.get(row["aid"])
            if path[0] in ("account_id", "plan", "segment", "name"):
                return (acc or {}).get(path[0]), False
            return (json_get(acc["attributes"], path) if acc else None), True
        if ns == "user":
            user = self.users.get(row["uid"])
            if path[0] in ("user_id", "account_id"):
                return (user or {}).get(path[0]), False
            return (json_get(user["attributes"], path) if user else None), True
        if ns == "flag":
            return self.flag(row["uid"], path[0]), True
        if ns == "ticket":
            return row.get(path[0]), False
        raise ValueError(field)

    def passes(self, row: dict, spec: dict) -> bool:
        value, is_json = self.value(row, spec["field"])
        op, target = spec.get("op", "="), spec.get("value")
        if op == "exists":
            return value is not None
        if op == "not_exists":
            return value is None
        targets = target if op in ("in", "not_in") else [target]
        numeric = all(isinstance(t, int | float) and not isinstance(t, bool) for t in targets)
        if is_json:
            if numeric:
                try:
                    value = float(value) if value is not None else None
                except ValueError:
                    value = None
                targets = [float(t) for t in targets]
            else:
                targets = [text_of(t) for t in targets]
        if op == "in":
            return value is not None and value in targets
        if op == "not_in":
            return value is None or value not in targets
        if value is None:
            return op == "!="
        t = targets[0]
        return {
            "=": value == t,
            "!=": value != t,
            "<": value < t,
            "<=": value <= t,
            ">": value > t,
            ">=": value >= t,
        }[op]

    def segment(self, row: dict, field: str | None) -> str | None:
        if field is None:
            return None
        value, _ = self.value(row, field)
        return NONE if value is None else str(value)


# -- rows and groups --------------------------------------------------------------------------
def event_rows(world, names, filters, actor, segment=None) -> list[dict]:
    f = Fields(world)
    out = []
    for e in world.events:
        if names and e["event"] not in names:
            continue
        row = {
            "ts": e["timestamp"],
            "uid": e["actor_id"],
            "aid": e["account_id"],
            "event": e["event"],
            "properties": e["properties"],
        }
        if not all(f.passes(row, spec) for spec in filters):
            continue
        row["actor"] = row["uid"] if actor == "user" else row["aid"]
        if row["actor"] is None:
            continue
        row["segment"] = f.segment(row, segment)
        out.append(row)
    return out


class SeriesGroups:
    def __init__(self, tz, start, end, grain, segment=None) -> None:
        self.tz, self.start, self.end, self.grain, self.segment = tz, start, end, grain, segment
        self.lo, self.hi = utc_of(start, tz), utc_of(end, tz)

    def key(self, row) -> tuple | None:
        if not (self.lo <= row["ts"] < self.hi):
            return None
        p = period_of(local(row["ts"], self.tz).date(), self.grain)
        return (p, row["segment"]) if self.segment else (p,)

    def dense(self, seen_keys) -> list[tuple]:
        ps = periods(self.start, self.end, self.grain)
        if not self.segment:
            return [(p,) for p in ps]
        segs = sorted({k[1] for k in seen_keys})
        return [(p, s) for p in ps for s in segs]

    def local_day(self, ts):
        return local(ts, self.tz).date()


class ActorGroups:
    def __init__(self, tz, lo, hi, unit, windows=None) -> None:
        self.tz, self.lo, self.hi, self.unit, self.windows = tz, lo, hi, unit, windows
        self.segment = None

    def key(self, row) -> tuple | None:
        who = row["uid"] if self.unit == "user" else row["aid"]
        if who is None or not (self.lo <= row["ts"] < self.hi):
            return None
        if self.windows is not None:
            if who not in self.windows:
                return None
            s, e = self.windows[who]
            if (s is not None and row["ts"] < s) or (e is not None and row["ts"] >= e):
                return None
        return (who,)

    def local_day(self, ts):
        return local(ts, self.tz).date()


def finish(groups, keys, table: dict, additive, value: Callable[[dict], tuple]) -> dict:
    """Dense result: every key, additive columns 0 where absent, value and reason."""
    out = {}
    for key in keys:
        row = dict(table.get(key, {}))
        for col in additive:
            row.setdefault(col, 0)
        row["value"], row["reason"] = value(row)
        out[key] = row
    return out


def ratio_value(why):
    def value(row):
        if row["denominator"] == 0:
            return None, why
        return row["numerator"] / row["denominator"], None

    return value


def plain_value(row):
    return float(row["numerator"]), None


def quantile(values, q):
    return float(np.quantile(np.array(values, dtype=float), q)) if values else None


def population_keys(world, groups, rows_any) -> list[tuple]:
    """Per-actor population: the windows' actors, else actors with any source row in the window."""
    if isinstance(groups, ActorGroups) and groups.windows is not None:
        return sorted((a,) for a in groups.windows)
    return sorted({k for r in rows_any if (k := groups.key(r)) is not None})


def is_nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def group_rows(rows, groups):
    by = defaultdict(list)
    for r in rows:
        k = groups.key(r)
        if k is not None:
            by[k].append(r)
    return by
