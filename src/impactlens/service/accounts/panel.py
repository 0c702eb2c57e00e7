"""The weekly account panel: one row per account and week, aggregated in the warehouse.

Health scores and churn features are both computed from this panel. Every
query here groups by account and week inside the engine (Ibis), so what comes
back to Python is at most accounts x weeks rows of counts, never raw events.
Rolling windows over those counts are then plain numpy.

Weeks are ISO weeks (Monday 00:00 UTC); a week is identified by its index
since Monday 1970-01-05. The value of a week describes the account at the end
of that week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

import ibis
import ibis.expr.types as ir
import numpy as np

from impactlens.service.accounts.config import HealthConfig
from impactlens.warehouse import Warehouse

EPOCH_MONDAY = date(1970, 1, 5)
RESERVED_EVENTS = ("Experiment Viewed", "Survey Responded")
CLOSED_STATUSES = ("solved", "closed", "resolved")


EPOCH_MONDAY_SECONDS = 4 * 86_400
WEEK_SECONDS = 7 * 86_400


def week_index(value: ir.TimestampValue | ir.DateValue) -> ir.IntegerValue:
    """The week (Monday-based, UTC) a timestamp or date falls in, as an integer index."""
    if isinstance(value, ir.TimestampValue):
        # Integer arithmetic on epoch seconds: a third cheaper than casting every event to a date.
        return (value.epoch_seconds() - EPOCH_MONDAY_SECONDS) // WEEK_SECONDS
    return value.delta(ibis.date(EPOCH_MONDAY), unit="day") // 7


def week_start(index: int | np.integer) -> date:
    return EPOCH_MONDAY + timedelta(weeks=int(index))


def week_of(day: date | datetime) -> int:
    day = day.date() if isinstance(day, datetime) else day
    return (day - EPOCH_MONDAY).days // 7


@dataclass(frozen=True, eq=False)
class AccountPanel:
    """Weekly aggregates per account. Arrays are (accounts, weeks) unless noted."""

    account_ids: np.ndarray  # (A,) sorted
    names: np.ndarray  # (A,)
    segments: np.ndarray  # (A,)
    plans: np.ndarray  # (A,)
    created_week: np.ndarray  # (A,) first week the account exists
    created_day: np.ndarray  # (A,) datetime64[D], NaT if unknown
    churn_day: np.ndarray  # (A,) datetime64[D], NaT if not churned
    first_week: int
    key_features: tuple[str, ...]
    events: np.ndarray
    active_users: np.ndarray
    breadth: np.ndarray  # distinct key features in the trailing health window
    tickets: np.ndarray  # tickets opened in the week
    high_open: np.ndarray  # open high-priority tickets at the end of the week
    nps_n: np.ndarray
    nps_sum: np.ndarray
    nps_promoters: np.ndarray
    nps_detractors: np.ndarray
    csat_n: np.ndarray
    csat_sum: np.ndarray
    seats: np.ndarray
    mrr: np.ndarray  # MRR in force at the end of the week (NaN: unknown)
    revenue_keys: np.ndarray  # (R,) account index * 2**32 + day number, sorted
    revenue_mrr: np.ndarray  # (R,)
    as_of: datetime | None

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_weeks(self) -> int:
        return self.events.shape[1]

    @property
    def week_starts(self) -> list[date]:
        return [week_start(self.first_week + i) for i in range(self.n_weeks)]

    @cached_property
    def alive(self) -> np.ndarray:
        """(A, W): the account exists at the end of the week and has not churned."""
        weeks = self.first_week + np.arange(self.n_weeks)
        churn_week = np.where(
            np.isnat(self.churn_day),
            np.iinfo(np.int64).max,
            (self.churn_day - np.datetime64(EPOCH_MONDAY)).astype(np.int64) // 7,
        )
        return (self.created_week[:, None] <= weeks) & (churn_week[:, None] > weeks)

    def index_of(self, account_id: str) -> int | None:
        i = int(np.searchsorted(self.account_ids, account_id))
        return i if i < self.n_accounts and self.account_ids[i] == account_id else None

    def mrr_on(self, accounts: np.ndarray, days: np.ndarray) -> np.ndarray:
        """MRR of the latest revenue period starting on or before each day (NaN: none)."""
        keys = accounts.astype(np.int64) * 2**32 + days.astype("datetime64[D]").astype(np.int64)
        pos = np.searchsorted(self.revenue_keys, keys, side="right") - 1
        ok = pos >= 0
        ok[ok] = (self.revenue_keys[pos[ok]] >> 32) == accounts[ok]
        out = np.full(len(keys), np.nan)
        out[ok] = self.revenue_mrr[pos[ok]]
        return out


def _rows(expr: ir.Table) -> dict[str, np.ndarray]:
    table = expr.to_pyarrow()
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _scatter(
    shape: tuple[int, int], acc: np.ndarray, week: np.ndarray, values: np.ndarray, first: int
) -> np.ndarray:
    """Dense (A, W) array from sparse (account, week, value) rows; earlier weeks land in column 0."""
    out = np.zeros(shape)
    col = np.clip(week.astype(np.int64) - first, 0, shape[1] - 1)
    keep = week.astype(np.int64) - first < shape[1]
    np.add.at(out, (acc[keep], col[keep]), values[keep].astype(float))
    return out


def key_features(warehouse: Warehouse, config: HealthConfig) -> tuple[str, ...]:
    """The configured key features, or the ``top_n`` most used track events.

    A name holding a NUL character is left out: DuckDB's parser ends a string literal
    at a NUL byte, so the panel query that compares events with it would not parse
    (found by the server's fuzz test); no product event is named so.
    """
    breadth = config.components.breadth
    if breadth.features:
        return tuple(f for f in breadth.features if "\x00" not in f)
    ev = warehouse.table("events")
    usage = ev.filter(
        ev.event.notnull() & ~ev.event.isin([*RESERVED_EVENTS, *config.exclude_events])
    )
    counts = _rows(usage.group_by("event").agg(n=usage.count()))
    ranked = sorted(zip(counts["event"], counts["n"], strict=True), key=lambda r: (-r[1], r[0]))
    return tuple(str(e) for e, _ in ranked if "\x00" not in str(e))[: breadth.top_n]


def build_panel(warehouse: Warehouse, config: HealthConfig | None = None) -> AccountPanel:
    """Aggregate the warehouse into the weekly account panel (see the module doc)."""
    config = config or HealthConfig()
    ev = warehouse.table("events")
    ev = ev.filter(
        ev.account_id.notnull()
        & (ev.event.isnull() | ~ev.event.isin([*RESERVED_EVENTS, *config.exclude_events]))
    )
    ev = ev.mutate(week=week_index(ev.timestamp))
    features = key_features(warehouse, config)
    # One pass over the events: counts, active users, and the key features used as bits.
    aggs = {"n": ev.count(), "users": ev.actor_id.nunique()}
    if features:
        bits = [(ev.event == f, ibis.literal(1 << i, "int64")) for i, f in enumerate(features)]
        aggs["features"] = ibis.cases(*bits, else_=ibis.literal(0, "int64")).bit_or()
    usage = _rows(ev.group_by("account_id", "week").agg(**aggs))
    usage.setdefault("features", np.zeros(len(usage["week"]), dtype=np.int64))
    accounts = _rows(
        warehouse.table("accounts").select(
            "account_id", "name", "segment", "plan", "created_at", "churned_at"
        )
    )
    rev_t = warehouse.table("revenue").filter(lambda r: r.account_id.notnull())
    revenue = _rows(
        rev_t.select(
            "account_id",
            "period_start",
            mrr=ibis.cases((rev_t.status == "churned", 0.0), else_=rev_t.mrr.fill_null(0.0)),
            churned=rev_t.status == "churned",
        ).order_by(["account_id", "period_start"])
    )
    ids = np.unique(
        np.concatenate([accounts["account_id"], usage["account_id"], revenue["account_id"]]).astype(
            str
        )
    )
    as_of = _data_end(warehouse)
    if len(usage["week"]) == 0 or as_of is None:
        first, n_weeks = (week_of(as_of) if as_of else 0), 0
    else:
        first = int(usage["week"].min())
        n_weeks = week_of(as_of) - first + 1
    shape = (len(ids), n_weeks)

    def pos(values: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids, values.astype(str))

    events = _scatter(shape, pos(usage["account_id"]), usage["week"], usage["n"], first)
    users = _scatter(shape, pos(usage["account_id"]), usage["week"], usage["users"], first)
    masks = np.zeros(shape, dtype=np.int64)
    if n_weeks:
        cols = usage["week"].astype(np.int64) - first
        masks[pos(usage["account_id"]), cols] = usage["features"].astype(np.int64)
    breadth = _breadth(masks, config.window_weeks)
    tickets, high_open = _tickets(warehouse, config, shape, pos, first)
    surveys = _surveys(warehouse, shape, pos, first)
    seats = _seats(warehouse, config, accounts, shape, pos, first)

    a_pos = pos(accounts["account_id"])
    names, segments, plans = (np.full(len(ids), None, dtype=object) for _ in range(3))
    names[a_pos], segments[a_pos], plans[a_pos] = (
        accounts["name"],
        accounts["segment"],
        accounts["plan"],
    )
    created = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    created[a_pos] = accounts["created_at"].astype("datetime64[D]")
    churn = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    churn[a_pos] = accounts["churned_at"].astype("datetime64[D]")
    r_pos = pos(revenue["account_id"])
    r_day = revenue["period_start"].astype("datetime64[D]")
    churned_rows = revenue["churned"].astype(bool)
    first_churn = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    for i, d in zip(r_pos[churned_rows][::-1], r_day[churned_rows][::-1], strict=True):
        first_churn[i] = d  # rows are sorted, so walking backwards leaves the earliest
    churn = np.where(np.isnat(churn), first_churn, churn)

    active_weeks = np.where(events > 0, np.arange(n_weeks) + first, np.iinfo(np.int64).max)
    first_active = active_weeks.min(axis=1) if n_weeks else np.zeros(len(ids), dtype=np.int64)
    created_week = np.where(
        np.isnat(created),
        first_active,
        (created - np.datetime64(EPOCH_MONDAY)).astype(np.int64) // 7,
    )
    mrr = _weekly_mrr(r_pos, r_day, revenue["mrr"].astype(float), shape, first)
    return AccountPanel(
        account_ids=ids,
        names=names,
        segments=segments,
        plans=plans,
        created_week=created_week,
        created_day=created,
        churn_day=churn,
        first_week=first,
        key_features=features,
        events=events,
        active_users=users,
        breadth=breadth,
        tickets=tickets,
        high_open=high_open,
        seats=seats,
        mrr=mrr,
        revenue_keys=r_pos.astype(np.int64) * 2**32 + r_day.astype(np.int64),
        revenue_mrr=revenue["mrr"].astype(float),
        as_of=as_of,
        **surveys,
    )


def _data_end(warehouse: Warehouse) -> datetime | None:
    ends = []
    for table, column in (
        ("events", "timestamp"),
        ("tickets", "created_at"),
        ("surveys", "responded_at"),
    ):
        t = warehouse.table(table)
        value = t[column].max().to_pyarrow().as_py()
        if value is not None:
            ends.append(value)
    return max(ends) if ends else None


def _breadth(masks: np.ndarray, window: int) -> np.ndarray:
    """Distinct key features used in the trailing ``window`` weeks: OR the weekly bit sets."""
    used = masks.copy()
    for shift in range(1, window):
        used[:, shift:] |= masks[:, :-shift]
    return np.bitwise_count(used).astype(float)


def _tickets(warehouse, config, shape, pos, first) -> tuple[np.ndarray, np.ndarray]:
    t = warehouse.table("tickets").filter(lambda r: r.account_id.notnull())
    opened = _rows(t.group_by("account_id", week=week_index(t.created_at)).agg(n=t.count()))
    per_week = np.zeros(shape)
    keep = opened["week"] >= first
    if keep.any():
        per_week = _scatter(
            shape, pos(opened["account_id"][keep]), opened["week"][keep], opened["n"][keep], first
        )
    highs = [p.lower() for p in config.components.tickets.high_priorities]
    hp = t.filter(t.priority.lower().isin(highs))
    closed_at = ibis.coalesce(
        hp.solved_at,
        ibis.cases((hp.status.lower().isin(CLOSED_STATUSES), hp.created_at), else_=ibis.null()),
    )
    hp = hp.mutate(closed_at=closed_at)
    starts = _rows(hp.group_by("account_id", week=week_index(hp.created_at)).agg(n=hp.count()))
    closed = hp.filter(hp.closed_at.notnull())
    ends = _rows(
        closed.group_by("account_id", week=week_index(closed.closed_at)).agg(n=closed.count())
    )
    delta = _scatter(shape, pos(starts["account_id"]), starts["week"], starts["n"], first)
    delta -= _scatter(shape, pos(ends["account_id"]), ends["week"], ends["n"], first)
    return per_week, np.cumsum(delta, axis=1).clip(min=0)


def _surveys(warehouse, shape, pos, first) -> dict[str, np.ndarray]:
    s = warehouse.table("surveys")
    s = s.filter(s.account_id.notnull() & s.score.notnull())
    s = s.mutate(survey=s.survey.lower(), week=week_index(s.responded_at))
    s = s.filter((s.survey.isin(["nps", "csat"])) & (s.week >= first))
    rows = _rows(
        s.group_by("account_id", "week", "survey").agg(
            n=s.count(),
            total=s.score.sum(),
            promoters=(s.score >= 9).sum(),
            detractors=(s.score <= 6).sum(),
        )
    )
    out = {}
    for survey, fields in (
        ("nps", ("n", "total", "promoters", "detractors")),
        ("csat", ("n", "total")),
    ):
        m = rows["survey"] == survey
        acc, week = pos(rows["account_id"][m]), rows["week"][m]
        for field in fields:
            name = f"{survey}_{'sum' if field == 'total' else field}"
            out[name] = _scatter(shape, acc, week, rows[field][m], first)
    return out


def _seats(warehouse, config, accounts, shape, pos, first) -> np.ndarray:
    u = warehouse.table("users").filter(lambda r: r.account_id.notnull())
    u = u.mutate(week=ibis.coalesce(week_index(u.created_at), ibis.literal(first, "int64")))
    joined = _rows(u.group_by("account_id", "week").agg(n=u.count()))
    seats = np.cumsum(
        _scatter(shape, pos(joined["account_id"]), joined["week"], joined["n"], first), axis=1
    )
    attr = config.components.seats.seats_attribute
    if attr:
        a = warehouse.table("accounts")
        value = a.attributes.cast("json")[attr]
        declared = _rows(
            a.select(
                "account_id",
                seats=ibis.coalesce(value.unwrap_as("float64"), value.str.try_cast("float64")),
            ).filter(lambda r: r.seats > 0)
        )
        rows = pos(declared["account_id"])
        seats[rows, :] = declared["seats"].astype(float)[:, None]
    return seats


def _weekly_mrr(r_pos, r_day, mrr, shape, first) -> np.ndarray:
    """Forward-fill each account's monthly MRR onto the weeks (a period counts from its week)."""
    out = np.full(shape, np.nan)
    if shape[1] == 0 or len(r_pos) == 0:
        return out
    week = (r_day - np.datetime64(EPOCH_MONDAY)).astype(np.int64) // 7 - first
    keep = week < shape[1]
    out[r_pos[keep], np.clip(week[keep], 0, None)] = mrr[keep]  # sorted: the latest wins
    idx = np.where(~np.isnan(out), np.arange(shape[1]), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return out[np.arange(shape[0])[:, None], idx]
