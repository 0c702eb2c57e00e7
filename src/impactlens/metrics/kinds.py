"""Kind -> compiler: the one dispatch table of the metrics layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from impactlens.metrics.kinds_business import compile_revenue, compile_survey, compile_tickets
from impactlens.metrics.kinds_cohort import compile_adoption, compile_retention, compile_stickiness
from impactlens.metrics.kinds_events import compile_count, compile_ratio, compile_unique
from impactlens.metrics.kinds_funnel import compile_conversion, compile_duration
from impactlens.metrics.query import Aggregated, Query

COMPILERS: dict[str, Callable[[Any, Query], Aggregated]] = {
    "count": compile_count,
    "unique": compile_unique,
    "ratio": compile_ratio,
    "conversion": compile_conversion,
    "duration": compile_duration,
    "retention": compile_retention,
    "stickiness": compile_stickiness,
    "adoption": compile_adoption,
    "survey": compile_survey,
    "tickets": compile_tickets,
    "revenue": compile_revenue,
}
