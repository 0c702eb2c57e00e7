"""The metrics layer: metrics.yaml definitions compiled to Ibis expressions.

Define each customer metric once in ``metrics.yaml``; every analysis reads it
from here::

    catalog = load_metrics(workspace.metrics_path, warehouse)
    frame = metric_series(warehouse, catalog.get("error_rate"), grain="week",
                          start=date(2026, 1, 5), end=date(2026, 3, 30),
                          timezone=workspace.config.timezone, catalog=catalog)
    per_user = metric_per_actor_expr(warehouse, catalog.get("reports_per_active_user"),
                                     start=..., end=..., actors_table=exposures)

docs/metrics.md gives the format and the exact formula of every kind.
"""

from impactlens.metrics.catalog import MetricCatalog, known_event_names, load_metrics, parse_metrics
from impactlens.metrics.cohorts import retention_table
from impactlens.metrics.frame import MetricFrame
from impactlens.metrics.series import (
    NO_SEGMENT,
    default_window,
    explain_metric,
    metric_per_actor,
    metric_per_actor_expr,
    metric_series,
    metric_series_expr,
)
from impactlens.metrics.spec import KIND_MODELS, FilterSpec, Metric, MetricBase

__all__ = [
    "KIND_MODELS",
    "NO_SEGMENT",
    "FilterSpec",
    "Metric",
    "MetricBase",
    "MetricCatalog",
    "MetricFrame",
    "default_window",
    "explain_metric",
    "known_event_names",
    "load_metrics",
    "metric_per_actor",
    "metric_per_actor_expr",
    "metric_series",
    "metric_series_expr",
    "parse_metrics",
    "retention_table",
]
