"""Retention cohort tables: each cohort's size and the share retained N periods later.

>>> table = retention_table(wh, catalog.get("week1_retention"), grain="week",
...                         start=date(2026, 1, 5), end=date(2026, 3, 2), periods=4)  # doctest: +SKIP
>>> table.column_names  # doctest: +SKIP
['period_start', 'size', 'week_1', 'week_2', 'week_3', 'week_4']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa

from impactlens.errors import UserError
from impactlens.metrics.series import metric_series
from impactlens.metrics.spec import FilterSpec, MetricBase, RetentionMetric


def retention_table(
    warehouse: Any,
    metric: MetricBase,
    *,
    grain: str = "week",
    start: date,
    end: date,
    timezone: str = "UTC",
    periods: int = 8,
    segment: str | None = None,
    filters: Sequence[FilterSpec | dict] = (),
) -> pa.Table:
    """One row per cohort (period of the first cohort event): ``size`` and, for N in
    1..``periods``, the share retained on day N / in week N (``day_N`` / ``week_N``;
    null for an empty cohort). The same definition as the retention metric with
    ``n = N`` (docs/metrics.md), one query per N.
    """
    if not isinstance(metric, RetentionMetric):
        raise UserError(
            f"{metric.name} is a {metric.kind} metric; cohort tables need a retention metric"
        )
    if not 1 <= periods <= 52:
        raise UserError(f"periods must be between 1 and 52, got {periods}")
    keys = ["period_start", "segment"] if segment else ["period_start"]
    columns: dict[str, list] = {}
    for n in range(1, periods + 1):
        frame = metric_series(
            warehouse,
            metric.model_copy(update={"n": n}),
            grain=grain,
            start=start,
            end=end,
            timezone=timezone,
            segment=segment,
            filters=filters,
        )
        if not columns:
            columns = {k: frame.column(k) for k in keys}
            columns["size"] = [int(v) for v in frame.column("denominator")]
        columns[f"{metric.period}_{n}"] = frame.column("value")
    return pa.table(columns)
