"""The account list a CSM works from, and one account's page.

ARR = 12 x the MRR of the account's latest revenue period. An account is at
risk when its health is red or yellow, or when the churn model (if it could
be trained) gives it a probability at or above ``churn.risk_threshold``; its
ARR at risk is then its whole ARR. Accounts are ranked by ARR at risk, then
churn probability, then lowest health.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

import ibis
import numpy as np

from impactlens.errors import NotFoundError
from impactlens.service.accounts.churn import AccountRisk, ChurnModelResult, fit_churn_model
from impactlens.service.accounts.config import ChurnConfig, HealthConfig
from impactlens.service.accounts.health import AccountHealth, HealthReport, score_health
from impactlens.service.accounts.panel import build_panel
from impactlens.service.accounts.release_impact import ReleaseReach, releases_for_account
from impactlens.warehouse import Warehouse

COMPONENT_LABELS = {
    "usage_trend": "usage trend",
    "breadth": "feature breadth",
    "seats": "active seats",
    "sentiment": "NPS/CSAT",
    "tickets": "ticket burden",
    "mrr_trend": "MRR trend",
}


@dataclass(frozen=True)
class AccountRow:
    account_id: str
    name: str | None
    segment: str | None
    plan: str | None
    mrr: float | None
    arr: float
    health_score: float | None
    band: str | None
    churn_probability: float | None
    at_risk: bool
    arr_at_risk: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AccountList:
    as_of: datetime | None
    rows: tuple[AccountRow, ...]
    n_accounts: int  # before the --at-risk / --segment filters
    total_arr: float
    total_arr_at_risk: float
    bands: dict[str, int]
    churn: ChurnModelResult

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["churn"] = self.churn.to_dict(with_risks=False)
        return out


def health_reasons(lost: list[tuple[str, float, float]], limit: int = 2) -> list[str]:
    """The components that cost the most points, e.g. 'usage trend: 20/100 (-20 pts)'."""
    return [
        f"{COMPONENT_LABELS[name]}: {sub:.0f}/100 (-{pts:.0f} pts)"
        for name, sub, pts in lost[:limit]
        if pts >= 5
    ]


@dataclass(frozen=True, eq=False)
class AccountBook:
    """Every account scored once (health, churn model, ARR); list and detail views read it.

    Build it once per request with ``build_account_book`` when a caller needs both
    the list and account pages (the dashboard); the CLI uses the one-call wrappers.
    """

    health: HealthReport
    churn: ChurnModelResult
    rows: dict[str, AccountRow]

    def listing(self, *, at_risk: bool = False, segment: str | None = None) -> AccountList:
        every = list(self.rows.values())
        shown = [
            r
            for r in every
            if (not at_risk or r.at_risk)
            and (segment is None or (r.segment or "").lower() == segment.lower())
        ]
        bands = {b: sum(r.band == b for r in every) for b in ("green", "yellow", "red")}
        return AccountList(
            as_of=self.health.panel.as_of,
            rows=tuple(sorted(shown, key=_rank)),
            n_accounts=len(every),
            total_arr=float(sum(r.arr for r in every)),
            total_arr_at_risk=float(sum(r.arr_at_risk for r in every)),
            bands=bands,
            churn=self.churn,
        )

    def detail(self, warehouse: Warehouse, account_id: str, *, recent: int = 10) -> AccountDetail:
        return _detail(self, warehouse, account_id, recent)


def build_account_book(
    warehouse: Warehouse,
    *,
    health_config: HealthConfig | None = None,
    churn_config: ChurnConfig | None = None,
) -> AccountBook:
    """Score every current account: health, churn risk (or the health fallback), ARR at risk."""
    health_config, churn_config = health_config or HealthConfig(), churn_config or ChurnConfig()
    panel = build_panel(warehouse, health_config)
    health = score_health(panel, health_config)
    churn = fit_churn_model(
        warehouse, churn_config, health_config, panel=panel, health_scores=health.scores
    )
    risks = {r.account_id: r for r in churn.risks}
    rows: dict[str, AccountRow] = {}
    if panel.as_of is None or panel.n_weeks == 0:
        return AccountBook(health, churn, rows)
    latest = health.latest()
    current = panel.alive[latest.accounts, -1]
    end = np.full(len(latest.accounts), np.datetime64(panel.as_of.date(), "D"))
    mrrs = panel.mrr_on(latest.accounts, end)
    for i in (int(k) for k in np.flatnonzero(current)):
        a = int(latest.accounts[i])
        account_id = str(panel.account_ids[a])
        mrr = float(mrrs[i])
        arr = 12 * mrr if mrr == mrr else 0.0
        score, band = float(latest.scores[i]), latest.bands[i]
        risk = risks.get(account_id)
        p = risk.probability if risk else None
        flagged = band in ("red", "yellow")
        risky = p is not None and p >= churn_config.risk_threshold
        reasons = [f"health {band}", *health_reasons(latest.points_lost(i))] if flagged else []
        if risky and risk is not None:
            drivers = ", ".join(d.feature for d in risk.drivers[:2])
            reasons.append(f"churn risk {p:.0%}" + (f" ({drivers})" if drivers else ""))
        rows[account_id] = AccountRow(
            account_id,
            _s(panel.names[a]),
            _s(panel.segments[a]),
            _s(panel.plans[a]),
            mrr if mrr == mrr else None,
            arr,
            score,
            band,
            p,
            flagged or risky,
            arr if flagged or risky else 0.0,
            tuple(reasons),
        )
    return AccountBook(health, churn, rows)


def _s(value) -> str | None:
    return None if value is None else str(value)


def _rank(row: AccountRow) -> tuple:
    p = row.churn_probability
    return (-row.arr_at_risk, -(p if p is not None else -1), row.health_score or 0, row.account_id)


def score_accounts(
    warehouse: Warehouse,
    *,
    health_config: HealthConfig | None = None,
    churn_config: ChurnConfig | None = None,
    at_risk: bool = False,
    segment: str | None = None,
) -> AccountList:
    """Every current account with its health, churn risk and ARR at risk, riskiest ARR first."""
    book = build_account_book(warehouse, health_config=health_config, churn_config=churn_config)
    return book.listing(at_risk=at_risk, segment=segment)


@dataclass(frozen=True)
class AccountDetail:
    account_id: str
    row: AccountRow | None  # None: the account has churned or was never scored
    churned_at: str | None
    health: AccountHealth | None  # the latest week, with every component
    history: tuple[dict, ...]  # week_start, score, band, contributions per component
    churn_risk: AccountRisk | None
    churn_status: str
    tickets: tuple[dict, ...]
    comments: tuple[dict, ...]
    releases: tuple[ReleaseReach, ...]

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["health"] = self.health.to_dict() if self.health else None
        return out


def account_detail(
    warehouse: Warehouse,
    account_id: str,
    *,
    health_config: HealthConfig | None = None,
    churn_config: ChurnConfig | None = None,
    recent: int = 10,
) -> AccountDetail:
    """One account: score history and drivers, churn risk, recent tickets and comments, releases."""
    book = build_account_book(warehouse, health_config=health_config, churn_config=churn_config)
    return book.detail(warehouse, account_id, recent=recent)


def _detail(book: AccountBook, warehouse: Warehouse, account_id: str, recent: int) -> AccountDetail:
    panel = book.health.panel
    a = panel.index_of(account_id)
    if a is None:
        raise NotFoundError(f"no account {account_id!r}; see `impactlens accounts`")
    week = book.health.latest_week(a)
    churned = panel.churn_day[a]
    t = warehouse.table("tickets")
    t = t.filter(t.account_id == account_id).order_by([ibis.desc("created_at"), "ticket_id"])
    tickets = t.select(
        "ticket_id", "created_at", "solved_at", "priority", "status", "tags", "feature"
    )
    tickets = [
        {**r, "tags": json.loads(r["tags"]) if r["tags"] else []}
        for r in tickets.limit(recent).to_pyarrow().to_pylist()
    ]
    s = warehouse.table("surveys")
    s = s.filter((s.account_id == account_id) & s.comment.notnull() & (s.comment.strip() != ""))
    s = s.order_by([ibis.desc("responded_at"), "response_id"])
    comments = s.select("response_id", "responded_at", "user_id", "survey", "score", "comment")
    return AccountDetail(
        account_id=account_id,
        row=book.rows.get(account_id),
        churned_at=None if np.isnat(churned) else str(churned),
        health=book.health.at(a, week) if week is not None else None,
        history=tuple(book.health.contributions(a)),
        churn_risk=book.churn.risk_of(account_id),
        churn_status=book.churn.message,
        tickets=tuple(tickets),
        comments=tuple(comments.limit(recent).to_pyarrow().to_pylist()),
        releases=releases_for_account(warehouse, account_id),
    )
