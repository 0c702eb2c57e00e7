"""Parsing of the contract's scalar values: ISO-8601 timestamps, dates, numbers, lists.

Two implementations of one rule set: vectorised (pyarrow.compute, for whole
event batches) and scalar (for reference rows and YAML values). The scalar
parser is also the fallback when a batch holds a value the vectorised cast
rejects, so both agree on what is a valid timestamp.

Storage convention (docs/design/architecture.md): timestamps are naive UTC.
A timestamp with an offset is converted to UTC; one without is taken as UTC.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

TS_TYPE = pa.timestamp("us")

# What the contract calls ISO-8601: a date, optionally a time (hours, minutes,
# seconds, up to 9 fractional digits) and optionally an offset or Z.
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FRACTION = re.compile(r"([.,])(\d{7,9})")

TIMESTAMP_HINT = "expected ISO-8601, e.g. 2026-03-02T10:00:00Z"


def parse_timestamp(value: Any) -> datetime | None:
    """One value as a naive UTC datetime, or None if it is not a valid timestamp.

    >>> parse_timestamp("2026-03-02T11:00:00+01:00")
    datetime.datetime(2026, 3, 2, 10, 0)
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        return None
    parsed = _parse_iso(value)
    if parsed is None or parsed.tzinfo is None:
        return parsed
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 in UTC
        return None


def is_timestamp(text: str) -> bool:
    """``parse_timestamp(text) is not None``, without building the UTC value (validation)."""
    parsed = _parse_iso(text)
    if parsed is None:
        return False
    return parsed.tzinfo is None or 1 < parsed.year < 9999 or parse_timestamp(text) is not None


def _parse_iso(value: str) -> datetime | None:
    """The contract's ISO-8601 text as a datetime (zoned if it has an offset), or None."""
    text = value.strip()
    if not _ISO_TIMESTAMP.fullmatch(text):
        return None
    # Python keeps microseconds; nanosecond digits are truncated, as Arrow does.
    text = _FRACTION.sub(lambda m: m.group(1) + m.group(2)[:6], text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_date(value: Any) -> date | None:
    """A calendar date (``YYYY-MM-DD``), or None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_number(value: Any) -> float | None:
    """A finite number (int, float or numeric text), or None. Booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_list(value: Any) -> list[str] | None:
    """A list of strings: a YAML/JSON list, a JSON array in text, or ``a;b;c`` text."""
    if isinstance(value, list | tuple):
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return [str(v) for v in value]
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return parse_list(orjson.loads(text))
            except orjson.JSONDecodeError:
                return None
        return [part.strip() for part in text.split(";") if part.strip()]
    return None


def as_text(value: Any) -> str | None:
    """A scalar id or label as text (YAML may read ``id: 123`` as a number)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys: equal objects give equal text (so re-imports compare equal)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_json_default).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# -- vectorised ---------------------------------------------------------------------


def parse_timestamp_array(values: pa.Array) -> pa.Array:
    """Parse a batch of timestamps to naive UTC; unparseable values become null.

    Fast path: one Arrow cast for a batch that is all zoned (``...Z``, the
    Segment norm) or all naive. A batch mixing both, or holding a bad value,
    falls back to the scalar parser for that batch only.
    """
    if pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            # The stored int64 is UTC already; dropping the zone keeps UTC wall time.
            return values.cast(pa.timestamp(values.type.unit)).cast(TS_TYPE, safe=False)
        return values.cast(TS_TYPE, safe=False)
    if pa.types.is_date(values.type):
        return values.cast(TS_TYPE)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return pa.nulls(len(values), TS_TYPE)
    for target in (pa.timestamp("ns", "UTC"), pa.timestamp("ns")):
        try:
            parsed = pc.cast(values, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return parsed.cast(pa.timestamp("ns")).cast(TS_TYPE, safe=False)
    return pa.array([parse_timestamp(v) for v in values.to_pylist()], TS_TYPE)
