"""The long-term question: everything we shipped, measured against a holdout group.

A holdout is a set of accounts kept on the old experience (``holdout: true``
in accounts). The cumulative impact of all releases on a metric is the
difference-in-differences of non-holdout vs holdout actors (actors with an
account; anonymous visitors are in neither group) between a baseline
window before the first release and the latest window of data:

    effect = (rest_now - rest_before) - (holdout_now - holdout_before)
    relative = effect / (rest_before + holdout change)

with a cluster-robust (by account) interval. A small holdout gives a wide
interval, which is reported as such rather than hidden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from impactlens.config import Workspace
from impactlens.metrics import MetricCatalog, load_metrics
from impactlens.service import release_data as data
from impactlens.service.catalog import list_releases
from impactlens.stats.did import estimate_did
from impactlens.warehouse import Warehouse

WINDOW_DAYS = 28


@dataclass(frozen=True)
class HoldoutImpact:
    """Cumulative relative effect of everything shipped, on one metric."""

    metric: str
    label: str
    relative: float
    lower: float
    upper: float
    p_value: float
    n_rest: int
    n_holdout: int
    baseline: tuple[str, str]
    latest: tuple[str, str]
    error: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def holdout_impact(
    warehouse: Warehouse,
    workspace: Workspace,
    metrics: list[str] | None = None,
    *,
    catalog: MetricCatalog | None = None,
    window_days: int = WINDOW_DAYS,
) -> list[HoldoutImpact]:
    """The cumulative impact of every release on each metric (default: all hypothesis metrics)."""
    holdout = data.holdout_accounts(warehouse)
    releases = list_releases(warehouse)
    end = data.data_end(warehouse)
    if not holdout or not releases or end is None:
        return []
    catalog = catalog or load_metrics(workspace.metrics_path, warehouse)
    if metrics is None:
        metrics = sorted(
            {r.hypothesis.metric for r in releases if r.hypothesis} & set(catalog.names)
        )
    first = min(r.shipped_at for r in releases)
    baseline_end = datetime.combine(first.date(), datetime.min.time())
    latest_end = datetime.combine(end.date(), datetime.min.time())
    windows = data.Windows(
        pre_start=baseline_end - timedelta(days=window_days),
        ship=baseline_end,
        post_end=latest_end,
        post_from=latest_end - timedelta(days=window_days),
    )
    held = data.account_actors(warehouse, tuple(holdout), windows.pre_start, windows.post_end)
    out = []
    for name in metrics:
        # "exposed" is everyone but the holdout: compute the panels with the holdout as the
        # flip side. Only actors with an account can be in either group: anonymous visitors
        # (no account, so never held out) have a metric mix of their own, and their share
        # of the rest moving between the windows would read as an effect of the releases.
        pair = data.actor_panels(
            warehouse, catalog, name, windows, exposed=held,
            timezone=workspace.config.timezone, require_account=True,
        )  # fmt: skip
        result = estimate_did(pair.unexposed, pair.exposed)
        out.append(
            HoldoutImpact(
                metric=name,
                label=catalog.get(name).label,
                relative=result.relative,
                lower=result.relative_lower,
                upper=result.relative_upper,
                p_value=result.p_value,
                n_rest=result.n_exposed,
                n_holdout=result.n_unexposed,
                baseline=(windows.pre_start.date().isoformat(), windows.ship.date().isoformat()),
                latest=(windows.post_start.date().isoformat(), windows.post_end.date().isoformat()),
                error=result.error,
            )  # fmt: skip
        )
    return out
