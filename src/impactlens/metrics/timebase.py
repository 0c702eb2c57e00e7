"""Which day, week or month an event falls in: the workspace time zone decides.

Timestamps are stored as naive UTC. Local time is ``ts + offset`` where the
offset comes from the IANA zone database (Python's ``zoneinfo``) and changes at
the zone's transitions (daylight saving). The transitions inside the queried
range are found here in Python and become a CASE expression, so the same Ibis
expression gives the same local day on every engine, none of which needs a
time-zone database of its own.

Bounds: a ``date`` is the start of that local day; a naive ``datetime`` is UTC
(the storage convention); an aware ``datetime`` is converted to UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir

from impactlens.errors import UserError

GRAINS = ("day", "week", "month")
_TRUNC_UNIT = {"week": "W", "month": "M"}
# The offset expression is exact from this long before the range start (stickiness
# looks back 29 days) to ``horizon`` after its end (retention looks ahead).
_LOOKBACK = timedelta(days=45)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from exc


def utc_bound(value: date | datetime, timezone: str) -> datetime:
    """A query bound as naive UTC (see the module docstring for the rules)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)
    local = datetime.combine(value, time(0), tzinfo=zone(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def local_date(value: datetime, timezone: str) -> date:
    """The local calendar day of a naive-UTC timestamp."""
    return value.replace(tzinfo=UTC).astimezone(zone(timezone)).date()


@lru_cache(maxsize=256)
def offset_segments(timezone: str, lo: datetime, hi: datetime) -> tuple[tuple[datetime, int], ...]:
    """``((from_utc, offset_seconds), ...)``: the zone's UTC offset from each instant on.

    The first entry starts at ``lo``; later ones at the transitions found in [lo, hi].
    """
    tz = zone(timezone)

    def offset(at: datetime) -> int:
        delta = at.replace(tzinfo=UTC).astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    segments = [(lo, offset(lo))]
    day = lo
    while day < hi:
        nxt = min(day + timedelta(days=1), hi)
        if offset(nxt) != segments[-1][1]:
            a, b = day, nxt  # bisect to the second of the transition
            while (b - a) > timedelta(seconds=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if offset(mid) == segments[-1][1] else (a, mid)
            b = b.replace(microsecond=0) + (timedelta(seconds=1) if b.microsecond else timedelta())
            segments.append((b, offset(b)))
        day = nxt
    return tuple(segments)


def to_local(ts: ir.TimestampValue, timezone: str, lo: datetime, hi: datetime) -> ir.TimestampValue:
    """Naive-UTC ``ts`` as naive local wall time, exact for rows in [lo, hi]."""
    segments = offset_segments(timezone, lo, hi)
    if len(segments) == 1:
        return ts if segments[0][1] == 0 else ts + ibis.interval(seconds=segments[0][1])
    branches = [
        (ts >= ibis.literal(start), ts + ibis.interval(seconds=off))
        for start, off in reversed(segments[1:])
    ]
    return ibis.cases(*branches, else_=ts + ibis.interval(seconds=segments[0][1]))


def whole_hour_offsets(timezone: str, lo: datetime, hi: datetime) -> bool:
    """True when every offset in the range is a whole number of hours (hourly rollups suffice)."""
    return all(off % 3600 == 0 for _, off in offset_segments(timezone, lo, hi))


def truncate_date(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise UserError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")


def next_period(day: date, grain: str) -> date:
    if grain == "day":
        return day + timedelta(days=1)
    if grain == "week":
        return day + timedelta(days=7)
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Timebase:
    """A query's range [start, end) in local days, its grain and its time zone."""

    timezone: str
    start: date
    end: date
    grain: str = "day"
    horizon: timedelta = timedelta(0)  # how far past ``end`` local days are read

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.grain not in GRAINS:
            raise UserError(f"unknown grain {self.grain!r}; use one of {', '.join(GRAINS)}")
        if self.end <= self.start:
            raise UserError(f"empty range: end {self.end} is not after start {self.start}")

    @property
    def utc_start(self) -> datetime:
        return utc_bound(self.start, self.timezone)

    @property
    def utc_end(self) -> datetime:
        return utc_bound(self.end, self.timezone)

    @property
    def exact_range(self) -> tuple[datetime, datetime]:
        """The UTC range in which :meth:`local` is exact."""
        hi = self.utc_end + self.horizon + timedelta(days=2)
        return (self.utc_start - _LOOKBACK, hi)

    def local(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        return to_local(ts, self.timezone, *self.exact_range)

    def local_day(self, ts: ir.TimestampValue) -> ir.DateValue:
        return self.local(ts).date()

    def period_of_day(self, day: ir.DateValue) -> ir.DateValue:
        """The period start of a local day, by grain (ISO weeks start on Monday)."""
        if self.grain == "day":
            return day
        return day.truncate(_TRUNC_UNIT[self.grain])

    def period(self, ts: ir.TimestampValue) -> ir.DateValue:
        local = self.local(ts)
        if self.grain == "day":
            return local.date()
        return local.truncate(_TRUNC_UNIT[self.grain]).date()

    def in_range(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        return (ts >= ibis.literal(self.utc_start)) & (ts < ibis.literal(self.utc_end))

    def periods(self) -> list[date]:
        """Every period start that overlaps [start, end), in order."""
        out, day = [], truncate_date(self.start, self.grain)
        while day < self.end:
            out.append(day)
            day = next_period(day, self.grain)
        return out

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]
