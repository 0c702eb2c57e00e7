"""Churn features per account at monthly snapshots, read off the weekly account panel.

A snapshot is the first day M of a calendar month. Its features use only the
weeks that ended on or before M (the last complete week is the one before the
week containing M), so nothing after M leaks into them. An account is in the
snapshot when it exists at that week and has not churned before M; its label
is whether it churned in [M, M + horizon), cut at a caller-given day (the end
of the data, or the training cut-off of a back-test fold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from impactlens.service.accounts.panel import EPOCH_MONDAY, AccountPanel, week_of

# (name, what it measures); k = the health window (4 weeks by default).
FEATURES: tuple[tuple[str, str], ...] = (
    ("events_per_seat_log", "usage level: log(1 + events per seat in the last k weeks)"),
    (
        "usage_trend",
        "usage trend: log((1 + events, last k weeks) / (1 + events, the k weeks before))"
        " (shorter windows, at least 2 weeks each, when there is less history)",
    ),
    ("breadth", "adoption breadth: share of the key features used in the last k weeks"),
    (
        "tickets_12w_rate",
        "tickets: log(1 + tickets opened in the last 12 weeks per 10 seats, at least 10)",
    ),
    ("high_open", "open high-priority tickets"),
    ("nps_mean", "mean NPS answer (0-10) in the last 26 weeks"),
    ("nps_missing", "1 when the account gave no NPS answer in the last 26 weeks"),
    ("csat_mean", "mean CSAT answer (1-5) in the last 26 weeks"),
    ("csat_missing", "1 when the account gave no CSAT answer in the last 26 weeks"),
    ("mrr_change", "MRR change: MRR / MRR three months earlier - 1"),
    ("tenure_years", "tenure: years since the account was created"),
    ("seats_log", "account size: log(seats)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
FEATURE_LABELS: dict[str, str] = dict(FEATURES)
SURVEY_WEEKS = 26
TICKET_MIN_SEATS = 10


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The accounts in one monthly snapshot and their features (NaN: unknown)."""

    day: date
    column: int  # the panel week the features are read at
    accounts: np.ndarray  # indices into the panel
    features: np.ndarray  # (len(accounts), len(FEATURES))


def _window(cum: np.ndarray, col: int, k: int) -> np.ndarray:
    """Sum over the k weeks ending at column ``col`` from a cumulative sum."""
    lower = cum[:, col - k] if col - k >= 0 else 0.0
    return cum[:, col] - lower


def _usage_trend(cum: np.ndarray, col: int, k: int, created_col: np.ndarray) -> np.ndarray:
    """log((1 + events, last j weeks) / (1 + events, the j weeks before)), both scaled to k weeks.

    j = k when the account has 2k whole weeks of data before the snapshot, else as many
    as it has (at least 2): the first week of the data and the account's signup week
    are partial and never used, as a cut window reads as growth that never happened.
    """
    whole = col - np.maximum(1, created_col + 1) + 1
    j = np.minimum(k, whole // 2)
    out = np.full(len(created_col), np.nan)
    for width in np.unique(j[j >= 2]):
        rows = j == width
        recent = _window(cum, col, int(width))[rows]
        prior = _window(cum, col - int(width), int(width))[rows]
        scale = k / width
        out[rows] = np.log((1 + scale * recent) / (1 + scale * prior))
    return out


class FeatureReader:
    """Reads the feature matrix of any panel week; cumulative sums are built once."""

    def __init__(self, panel: AccountPanel, window_weeks: int) -> None:
        self.panel, self.k = panel, window_weeks
        self.cum = {
            name: np.cumsum(getattr(panel, name), axis=1)
            for name in (
                "events",
                "tickets",
                "nps_n",
                "nps_sum",
                "csat_n",
                "csat_sum",
            )
        }

    def at(self, col: int, accounts: np.ndarray, day: date) -> np.ndarray:
        p, k, c = self.panel, self.k, self.cum
        recent = _window(c["events"], col, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            nps_n = _window(c["nps_n"], col, SURVEY_WEEKS)
            csat_n = _window(c["csat_n"], col, SURVEY_WEEKS)
            nps = np.where(nps_n > 0, _window(c["nps_sum"], col, SURVEY_WEEKS) / nps_n, np.nan)
            csat = np.where(csat_n > 0, _window(c["csat_sum"], col, SURVEY_WEEKS) / csat_n, np.nan)
        day64 = np.datetime64(day, "D")
        idx = np.arange(p.n_accounts)
        mrr_now = p.mrr_on(idx, np.full(p.n_accounts, day64 - 1))
        month = (day64 - 1).astype("datetime64[M]")
        mrr_then = p.mrr_on(idx, np.full(p.n_accounts, (month - 3).astype("datetime64[D]")))
        with np.errstate(divide="ignore", invalid="ignore"):
            mrr_change = np.where(mrr_then > 0, mrr_now / mrr_then - 1.0, np.nan)
        tenure = (day64 - p.created_day).astype(float) / 365.25
        n_features = max(len(p.key_features), 1)
        seats = np.where(p.seats[:, col] > 0, p.seats[:, col], np.nan)
        # per 10 seats, at least 10 (as the health score's tickets): three tickets are a
        # crisis at a five-seat customer and a quiet month at a 300-seat one
        per_10 = 10 / np.maximum(np.nan_to_num(seats, nan=TICKET_MIN_SEATS), TICKET_MIN_SEATS)
        columns = (
            np.log1p(recent / seats),
            _usage_trend(c["events"], col, k, p.created_week - p.first_week),
            p.breadth[:, col] / n_features,
            np.log1p(_window(c["tickets"], col, 12) * per_10),
            p.high_open[:, col],
            nps,
            np.isnan(nps).astype(float),
            csat,
            np.isnan(csat).astype(float),
            mrr_change,
            tenure,
            np.log(seats),
        )
        return np.column_stack(columns)[accounts]


def score_column(panel: AccountPanel) -> int:
    """The last complete week of the data (the current week if the data ends on a Sunday)."""
    assert panel.as_of is not None
    end = panel.as_of.date() if isinstance(panel.as_of, datetime) else panel.as_of
    return max(0, week_of(end + timedelta(days=1)) - 1 - panel.first_week)


def monthly_snapshots(
    panel: AccountPanel, reader: FeatureReader, every: str = "month"
) -> list[Snapshot]:
    """Every month start (or Monday) after the first k weeks of data, with its paying accounts.

    An account is in a snapshot when it exists at that week, has not churned before
    the snapshot day and, when it has revenue rows, pays (MRR > 0) on the day before:
    trials that never convert are not churn.
    """
    if panel.n_weeks == 0 or panel.as_of is None:
        return []
    first = np.datetime64(EPOCH_MONDAY, "D") + 7 * panel.first_week
    end = np.datetime64(panel.as_of, "D")
    if every == "week":
        days = np.arange(first + 7, end + 1, 7)
    else:
        days = np.arange(first.astype("datetime64[M]") + 1, end.astype("datetime64[M]") + 1)
        days = days.astype("datetime64[D]")
    alive = panel.alive
    has_revenue = np.zeros(panel.n_accounts, dtype=bool)
    has_revenue[(panel.revenue_keys >> 32).astype(np.int64)] = True
    idx = np.arange(panel.n_accounts)
    out = []
    for d in days:
        day = d.astype(date)
        col = week_of(day) - 1 - panel.first_week
        if col < reader.k - 1 or col >= panel.n_weeks:
            continue
        churn = panel.churn_day
        paying = ~has_revenue | (panel.mrr_on(idx, np.full(len(idx), d - 1)) > 0)
        ok = alive[:, col] & (np.isnat(churn) | (churn >= d)) & paying
        accounts = np.flatnonzero(ok)
        out.append(Snapshot(day, col, accounts, reader.at(col, accounts, day)))
    return out


def labels(panel: AccountPanel, snap: Snapshot, horizon_days: int, cut: date) -> np.ndarray:
    """1 when the account churned in [snapshot day, min(day + horizon, cut))."""
    start = np.datetime64(snap.day, "D")
    end = min(start + horizon_days, np.datetime64(cut, "D"))
    churn = panel.churn_day[snap.accounts]
    return (~np.isnat(churn) & (churn >= start) & (churn < end)).astype(int)
