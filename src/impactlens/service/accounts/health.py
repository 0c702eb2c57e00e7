"""Account health: a 0-100 score per account and week, with the part each component played.

Each component maps the account's weekly aggregates to a 0-100 sub-score
(formulas below and in docs/health-and-churn.md, with k = ``window_weeks``):

- usage_trend: c = E(last k weeks) / E(k weeks before) - 1 on event counts;
  100 * clip(1 + c / full_decline, 0, 1). No events in both windows: n/a.
- breadth: 100 * (key features used in the last k weeks) / (number of key features).
- seats: 100 * min(1, mean weekly active users over k weeks / seats / target_share).
- sentiment: mean of the available of (NPS + 100) / 2 and 100 * (mean CSAT - 1) / 4,
  over the answers of the last ``window_weeks`` (of the component).
- tickets: clip(100 * (1 - r / max_rate) - high_penalty * H, 0, 100) with
  r = per_seats * tickets(last k weeks) / max(seats, min_seats), H = open high-priority tickets.
- mrr_trend: c = MRR(month of the week's end) / MRR(``months`` months earlier) - 1;
  100 * clip(1 + c / full_decline, 0, 1).

score = sum(w_i * s_i) / sum(w_i) over the components that are available (a
component is n/a when its inputs are missing); contribution_i = w_i * s_i /
sum(w_i), so the contributions add up to the score. A week whose available
components carry less than ``min_coverage`` of the total weight is not scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from impactlens.service.accounts.config import COMPONENTS, HealthConfig
from impactlens.service.accounts.panel import AccountPanel, build_panel, week_start
from impactlens.warehouse import Warehouse

BANDS = ("green", "yellow", "red")


def trailing_sum(x: np.ndarray, k: int) -> np.ndarray:
    """Sum of the last ``k`` weeks (the week itself included) along axis 1."""
    c = np.cumsum(x, axis=1)
    out = c.copy()
    out[:, k:] -= c[:, :-k]
    return out


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(x, np.nan, dtype=float)
    out[:, k:] = x[:, :-k] if k else x
    return out


def _trend_score(now: np.ndarray, before: np.ndarray, full_decline: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        change = now / before - 1.0
        sub = 100.0 * np.clip(1.0 + change / full_decline, 0.0, 1.0)
    sub = np.where(before > 0, sub, np.where(now > 0, 100.0, np.nan))
    return np.where(np.isnan(now) | np.isnan(before), np.nan, sub)


def component_scores(panel: AccountPanel, config: HealthConfig) -> dict[str, np.ndarray]:
    """Every component's (accounts, weeks) sub-score; NaN where it is not available."""
    c, k = config.components, config.window_weeks
    weeks = panel.first_week + np.arange(panel.n_weeks)
    covered = np.arange(panel.n_weeks) >= k - 1  # the trailing window lies inside the data
    out: dict[str, np.ndarray] = {}

    recent = trailing_sum(panel.events, k)
    prior = _shift(recent, k)
    existed = panel.created_week[:, None] <= weeks - 2 * k + 1
    prior = np.where(existed, prior, np.nan)
    out["usage_trend"] = _trend_score(recent, prior, c.usage_trend.full_decline)

    n_features = max(len(panel.key_features), 1)
    out["breadth"] = np.where(covered, 100.0 * panel.breadth / n_features, np.nan)
    if not panel.key_features:
        out["breadth"][:] = np.nan

    with np.errstate(divide="ignore", invalid="ignore"):
        share = trailing_sum(panel.active_users, k) / k / panel.seats
    seats_sub = 100.0 * np.minimum(1.0, share / c.seats.target_share)
    out["seats"] = np.where(covered & (panel.seats > 0), seats_sub, np.nan)

    s = c.sentiment.window_weeks
    nps_n = trailing_sum(panel.nps_n, s)
    csat_n = trailing_sum(panel.csat_n, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        nps = 100.0 * (trailing_sum(panel.nps_promoters, s) - trailing_sum(panel.nps_detractors, s))
        nps_sub = np.where(nps_n > 0, (nps / nps_n + 100.0) / 2.0, np.nan)
        csat_sub = np.where(
            csat_n > 0, 100.0 * (trailing_sum(panel.csat_sum, s) / csat_n - 1.0) / 4.0, np.nan
        )
    both = np.stack([nps_sub, csat_sub])
    count = (~np.isnan(both)).sum(axis=0)
    out["sentiment"] = np.where(count > 0, np.nansum(both, axis=0) / np.maximum(count, 1), np.nan)

    t = c.tickets
    rate = t.per_seats * trailing_sum(panel.tickets, k) / np.maximum(panel.seats, t.min_seats)
    tickets_sub = np.clip(
        100.0 * (1.0 - rate / t.max_rate) - t.high_penalty * panel.high_open, 0, 100
    )
    out["tickets"] = np.where(covered, tickets_sub, np.nan)

    out["mrr_trend"] = _mrr_trend(panel, c.mrr_trend.months, c.mrr_trend.full_decline)
    return out


def _mrr_trend(panel: AccountPanel, months: int, full_decline: float) -> np.ndarray:
    ends = np.array([week_start(w) for w in panel.first_week + np.arange(panel.n_weeks)])
    ends = ends.astype("datetime64[D]") + 6
    month_now = ends.astype("datetime64[M]")
    before = (month_now - months).astype("datetime64[D]")
    a = np.repeat(np.arange(panel.n_accounts), panel.n_weeks)
    now = panel.mrr_on(a, np.tile(ends, panel.n_accounts)).reshape(panel.events.shape)
    then = panel.mrr_on(a, np.tile(before, panel.n_accounts)).reshape(panel.events.shape)
    # A month without a revenue row for the account is unknown, not zero.
    return _trend_score(now, np.where(then > 0, then, np.nan), full_decline)


@dataclass(frozen=True)
class ComponentScore:
    """One component of one account's score in one week."""

    name: str
    weight: float  # share of the score this component carries this week (sums to 1)
    sub_score: float | None
    contribution: float | None  # weight * sub_score; contributions add up to the score

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weight": round(self.weight, 4),
            "sub_score": _r(self.sub_score),
            "contribution": _r(self.contribution),
            "points_lost": _r(
                None if self.sub_score is None else self.weight * (100 - self.sub_score)
            ),
        }


@dataclass(frozen=True)
class AccountHealth:
    """One account's health in one week and why."""

    account_id: str
    week_start: date
    score: float | None
    band: str | None
    coverage: float  # configured weight of the available components / all weight
    components: tuple[ComponentScore, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "week_start": self.week_start.isoformat(),
            "score": _r(self.score),
            "band": self.band,
            "coverage": round(self.coverage, 3),
            "components": [c.to_dict() for c in self.components],
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or value != value else round(float(value), digits)


@dataclass(frozen=True, eq=False)
class LatestHealth:
    """The latest scored week of every account that has one (arrays aligned on ``accounts``)."""

    accounts: np.ndarray  # panel indices
    weeks: np.ndarray  # panel columns
    scores: np.ndarray
    bands: np.ndarray
    sub_scores: dict[str, np.ndarray]  # NaN: n/a that week
    weights: dict[str, np.ndarray]  # the component's share of the score that week (0: n/a)

    def points_lost(self, i: int) -> list[tuple[str, float, float]]:
        """(component, sub-score, points lost) of row ``i``, the costliest first."""
        out = [
            (n, float(s[i]), float(self.weights[n][i] * (100.0 - s[i])))
            for n, s in self.sub_scores.items()
            if not np.isnan(s[i])
        ]
        return sorted(out, key=lambda t: -t[2])


@dataclass(frozen=True, eq=False)
class HealthReport:
    """Scores for every account and week; ``sub_scores`` per component, NaN where n/a."""

    config: HealthConfig
    panel: AccountPanel
    scores: np.ndarray  # (A, W)
    sub_scores: dict[str, np.ndarray] = field(repr=False)

    def band_of(self, score: np.ndarray | float) -> np.ndarray:
        t = self.config.thresholds
        s = np.asarray(score, dtype=float)
        band = np.where(s >= t.green, "green", np.where(s >= t.red, "yellow", "red")).astype(object)
        band[np.isnan(s)] = None
        return band

    def at(self, account: int, week: int) -> AccountHealth:
        """The account's health in column ``week`` of the panel."""
        weights = self.config.components.weights()
        total = sum(weights.values())
        subs = {n: float(self.sub_scores[n][account, week]) for n in COMPONENTS}
        live = {n: weights[n] for n in COMPONENTS if weights[n] > 0 and subs[n] == subs[n]}
        norm = sum(live.values())
        comps = tuple(
            ComponentScore(
                name=n,
                weight=live.get(n, 0.0) / norm if norm else 0.0,
                sub_score=subs[n] if n in live else None,
                contribution=live[n] * subs[n] / norm if n in live else None,
            )
            for n in COMPONENTS
            if weights[n] > 0
        )
        score = float(self.scores[account, week])
        return AccountHealth(
            account_id=str(self.panel.account_ids[account]),
            week_start=week_start(self.panel.first_week + week),
            score=None if score != score else score,
            band=self.band_of(score).item(),
            coverage=norm / total if total else 0.0,
            components=comps,
        )

    def latest(self) -> LatestHealth:
        """Every account's latest scored week at once (the account list reads this)."""
        has = ~np.isnan(self.scores)
        any_week = has.any(axis=1)
        last = self.panel.n_weeks - 1 - np.argmax(has[:, ::-1], axis=1) if has.size else has
        accounts = np.flatnonzero(any_week)
        weeks = np.asarray(last)[accounts].astype(np.int64)
        cfg = self.config.components.weights()
        subs = {n: self.sub_scores[n][accounts, weeks] for n in COMPONENTS if cfg[n] > 0}
        raw = {n: np.where(np.isnan(v), 0.0, cfg[n]) for n, v in subs.items()}
        den = np.sum(list(raw.values()), axis=0) if raw else np.zeros(len(accounts))
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = {n: w / den for n, w in raw.items()}
        scores = self.scores[accounts, weeks]
        return LatestHealth(accounts, weeks, scores, self.band_of(scores), subs, weights)

    def latest_week(self, account: int) -> int | None:
        """The last week with a score for the account (None: never scored)."""
        scored = np.flatnonzero(~np.isnan(self.scores[account]))
        return int(scored[-1]) if len(scored) else None

    def history(self, account: int) -> list[tuple[date, float, str]]:
        cols = np.flatnonzero(~np.isnan(self.scores[account]))
        bands = self.band_of(self.scores[account, cols])
        return [
            (week_start(self.panel.first_week + c), float(self.scores[account, c]), str(b))
            for c, b in zip(cols, bands, strict=True)
        ]

    def contributions(self, account: int) -> list[dict[str, object]]:
        """Every scored week of the account with each component's contribution (w_i s_i / sum w)."""
        weights = self.config.components.weights()
        cols = np.flatnonzero(~np.isnan(self.scores[account]))
        subs = {n: self.sub_scores[n][account, cols] for n in COMPONENTS if weights[n] > 0}
        den = np.zeros(len(cols))
        for n, v in subs.items():
            den += np.where(np.isnan(v), 0.0, weights[n])
        out = []
        for i, c in enumerate(cols):
            score = float(self.scores[account, c])
            parts = {
                n: None if np.isnan(v[i]) else round(float(weights[n] * v[i] / den[i]), 2)
                for n, v in subs.items()
            }
            out.append(
                {
                    "week_start": week_start(self.panel.first_week + c).isoformat(),
                    "score": round(score, 2),
                    "band": self.band_of(score).item(),
                    "contributions": parts,
                }
            )
        return out

    def band_counts(self, accounts: np.ndarray, week: int) -> dict[str, int]:
        """How many of ``accounts`` (indices) are green, yellow, red, unscored in a week."""
        bands = self.band_of(self.scores[accounts, week]) if len(accounts) else np.array([])
        counts = {b: int(np.sum(bands == b)) for b in BANDS}
        counts["unscored"] = int(len(accounts) - sum(counts.values()))
        return counts

    def to_dict(self) -> dict[str, object]:
        latest = []
        for a in range(self.panel.n_accounts):
            w = self.latest_week(a)
            if w is not None:
                latest.append(self.at(a, w).to_dict())
        return {"thresholds": self.config.thresholds.model_dump(), "accounts": latest}


def score_health(panel: AccountPanel, config: HealthConfig | None = None) -> HealthReport:
    """Combine the component sub-scores into scores (see the module doc for the formulas)."""
    config = config or HealthConfig()
    subs = component_scores(panel, config)
    weights = config.components.weights()
    num = np.zeros(panel.events.shape)
    den = np.zeros(panel.events.shape)
    for name in COMPONENTS:
        if weights[name] <= 0:
            continue
        ok = ~np.isnan(subs[name])
        num += np.where(ok, weights[name] * subs[name], 0.0)
        den += np.where(ok, weights[name], 0.0)
    enough = (den > 0) & (den >= config.min_coverage * sum(weights.values()) - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(enough & panel.alive, num / den, np.nan)
    return HealthReport(config=config, panel=panel, scores=scores, sub_scores=subs)


def compute_health(warehouse: Warehouse, config: HealthConfig | None = None) -> HealthReport:
    """Health of every account in every week of the data.

    >>> from impactlens.warehouse import Warehouse
    >>> wh = Warehouse.connect("duckdb://:memory:"); _ = wh.ensure_schema()
    >>> compute_health(wh).scores.shape
    (0, 0)
    """
    config = config or HealthConfig()
    return score_health(build_panel(warehouse, config), config)
