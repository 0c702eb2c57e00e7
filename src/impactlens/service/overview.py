"""A short overview of a workspace: the four numbers people ask for first.

Until the analyses land this is what ``impactlens demo`` ends with; it stays
as the quick health line of ``impactlens status``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import ibis

from impactlens.warehouse import Warehouse


@dataclass(frozen=True)
class Overview:
    """Events per day, active accounts, NPS and MRR over recent periods."""

    last_event_at: str | None
    events_per_day_7d: float | None
    active_accounts_7d: int
    active_users_7d: int
    nps_90d: float | None
    nps_responses_90d: int
    mrr_latest: float | None
    mrr_period: str | None
    paying_accounts: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def workspace_overview(warehouse: Warehouse) -> Overview:
    """Compute the overview from the warehouse (all in the engine, nothing pulled row by row).

    NPS = % of answers 9-10 minus % of answers 0-6, over nps answers of the
    last 90 days before the latest event.
    """
    events = warehouse.table("events")
    last = events.timestamp.max().to_pyarrow().as_py()
    if last is None:
        return Overview(None, None, 0, 0, None, 0, None, None, 0)
    since = last - timedelta(days=7)
    recent = events.filter(events.timestamp > ibis.literal(since))
    agg = recent.aggregate(
        n=recent.count(),
        accounts=recent.account_id.nunique(),
        users=recent.user_id.nunique(),
    ).to_pyarrow()

    surveys = warehouse.table("surveys")
    nps = surveys.filter(
        (surveys.survey == "nps") & (surveys.responded_at > ibis.literal(last - timedelta(days=90)))
    )
    nps_row = nps.aggregate(
        n=nps.count(),
        promoters=(nps.score >= 9).sum(),
        detractors=(nps.score <= 6).sum(),
    ).to_pyarrow()
    n_nps = int(nps_row["n"][0].as_py() or 0)
    nps_value = (
        100.0
        * (int(nps_row["promoters"][0].as_py()) - int(nps_row["detractors"][0].as_py()))
        / n_nps
        if n_nps
        else None
    )

    revenue = warehouse.table("revenue")
    latest_period = revenue.period_start.max().to_pyarrow().as_py()
    mrr, paying = None, 0
    if latest_period is not None:
        month = revenue.filter(revenue.period_start == ibis.literal(latest_period))
        row = month.aggregate(mrr=month.mrr.sum(), paying=(month.mrr > 0).sum()).to_pyarrow()
        mrr = float(row["mrr"][0].as_py() or 0.0)
        paying = int(row["paying"][0].as_py() or 0)

    return Overview(
        last_event_at=last.isoformat(),
        events_per_day_7d=round(int(agg["n"][0].as_py()) / 7.0, 1),
        active_accounts_7d=int(agg["accounts"][0].as_py()),
        active_users_7d=int(agg["users"][0].as_py()),
        nps_90d=None if nps_value is None else round(nps_value, 1),
        nps_responses_90d=n_nps,
        mrr_latest=mrr,
        mrr_period=None if latest_period is None else latest_period.isoformat(),
        paying_accounts=paying,
    )
