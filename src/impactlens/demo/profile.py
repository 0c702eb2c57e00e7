"""Sizes, the simulated period, and the seeded randomness every demo module shares.

Every random draw of the demo goes through :func:`rng_for`, keyed by the seed and
a stage name (plus a batch number for the event stage), so one stage's draws do
not shift when another stage changes, and a batch of accounts always gets the
same draws whatever order the batches run in.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Size = Literal["tiny", "small", "large"]

DEFAULT_END = date(2026, 11, 15)
PERIOD_DAYS = 180
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Monday..Sunday activity relative to Monday: B2B work happens on workdays,
# Friday afternoons thin out and weekends are a small fraction.
WEEKDAY_FACTOR = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.22, 0.18])


@dataclass(frozen=True)
class SizeProfile:
    """How big one demo size is. Behaviour per user is the same at every size."""

    name: str
    n_accounts: int
    seat_scale: float  # multiplies drawn seat counts; keeps `tiny` tiny
    max_seats: int
    anon_visitors_per_day: float
    accounts_per_batch: int  # the unit of work with flat memory in the event stage
    rows_per_part: int  # Parquet part size
    extra_releases: int  # minor releases without hypotheses on top of the planted ones
    segment_in_parquet: bool  # large: exposures and survey events go to Parquet too


SIZES: dict[str, SizeProfile] = {
    "tiny": SizeProfile("tiny", 30, 0.4, 60, 8.0, 30, 2_000_000, 0, False),
    "small": SizeProfile("small", 300, 1.0, 500, 110.0, 300, 2_000_000, 0, False),
    "large": SizeProfile("large", 16_000, 1.0, 3000, 5000.0, 200, 2_000_000, 22, True),
}


@dataclass(frozen=True)
class Period:
    """The simulated window: ``PERIOD_DAYS`` whole UTC days ending on ``end`` (inclusive)."""

    start: date
    end: date

    @classmethod
    def ending(cls, end: date) -> Period:
        return cls(end - timedelta(days=PERIOD_DAYS - 1), end)

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        """Exclusive upper bound: midnight after the last day."""
        return to_ms(self.end) + DAY_MS

    def day_ms(self, offset: int) -> int:
        return self.start_ms + offset * DAY_MS

    def weekday_factor(self) -> np.ndarray:
        """Activity factor of each day of the period (index 0 = ``start``)."""
        first = self.start.weekday()
        return WEEKDAY_FACTOR[(np.arange(self.n_days) + first) % 7]

    def month_starts(self) -> list[date]:
        """First day of every calendar month that overlaps the period."""
        months, current = [], self.start.replace(day=1)
        while current <= self.end:
            months.append(current)
            current = (current + timedelta(days=32)).replace(day=1)
        return months


def to_ms(value: date | datetime) -> int:
    """Milliseconds since the epoch (UTC) of a date (midnight) or an aware datetime."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return int(value.timestamp() * 1000)


def iso_ms(values: ArrayLike, unit: Literal["s", "ms"] = "s") -> np.ndarray:
    """ISO-8601 UTC strings with a ``Z`` for epoch milliseconds (vectorised).

    ``unit="ms"`` keeps the milliseconds (event messages); CSV files show seconds.
    """
    text = np.datetime_as_string(
        np.asarray(values, dtype=np.int64).astype("datetime64[ms]"), unit=unit
    )
    return np.char.add(text.astype(str), "Z")


def iso_one(value_ms: int) -> str:
    return str(iso_ms(np.array([value_ms]))[0])


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator for one stage of the demo, independent of every other stage."""
    words = [seed] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def hash_bucket(ids: Sequence[str], salt: str) -> np.ndarray:
    """A stable number in [0, 1) per id, like feature-flag SDKs bucket users.

    Deterministic from the id alone, so a rollout or an assignment does not
    depend on the seed or on which batch a user falls in.
    """
    out = np.empty(len(ids), dtype=np.float64)
    for i, item in enumerate(ids):
        digest = hashlib.blake2b(f"{salt}:{item}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2**64
    return out
