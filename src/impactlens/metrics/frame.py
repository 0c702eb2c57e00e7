"""A typed frame: the Arrow result of a metric query together with what it means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from impactlens.metrics.spec import MetricBase


@dataclass(frozen=True)
class MetricFrame:
    """Rows of one metric: per period (``grain`` set) or per actor (``grain`` None).

    ``ratio`` is true when ``value == numerator / denominator`` on every row, so
    that Σ numerator / Σ denominator over rows is the pooled value.

    >>> frame.table.column_names  # doctest: +SKIP
    ['period_start', 'value', 'numerator', 'denominator', 'actors', 'reason']
    """

    metric: MetricBase
    table: pa.Table
    grain: str | None
    ratio: bool
    start: date | datetime
    end: date | datetime
    timezone: str
    segment: str | None = None

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def column(self, name: str) -> list[Any]:
        return self.table.column(name).to_pylist()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the metric's identity, the query and the rows (dates as ISO text)."""
        return {
            "metric": self.metric.name,
            "label": self.metric.label,
            "kind": self.metric.kind,
            "higher_is_better": self.metric.higher_is_better,
            "grain": self.grain,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "segment": self.segment,
            "ratio": self.ratio,
            "rows": [
                {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
                for row in self.rows()
            ],
        }
