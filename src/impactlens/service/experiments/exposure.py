"""Who is in an experiment, from when, and for how long it is analysed.

The unit of analysis enters at its **first** ``Experiment Viewed`` (the
``exposures`` table) inside the experiment's window; a user seen in more than one
variation is contaminated and excluded (and counted, so the readout can say how
many). For ``unit: account`` an account is in the arm its users saw; an account
whose users saw different arms is excluded the same way.

Everything here is an Ibis expression over the warehouse: the population is never
pulled into Python, only its counts are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from impactlens.domain import Experiment
from impactlens.errors import UserError

DAY = timedelta(days=1)


@dataclass(frozen=True)
class AnalysisWindow:
    """Exposures and metrics count in [start, end); ``end`` is exclusive.

    ``ended_at`` stored as a date (midnight) is the experiment's last day, so the
    window runs to the end of it; an ``ended_at`` with a time of day is exclusive.
    """

    start: datetime
    end: datetime
    as_of: datetime | None
    ended: bool

    @property
    def status(self) -> str:
        return "ended" if self.ended else "running"

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "days": self.days}


def naive_utc(value: datetime) -> datetime:
    """The warehouse stores naive UTC; accept aware datetimes from callers."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def experiment_end(experiment: Experiment) -> datetime | None:
    """The exclusive end of a declared experiment (see :class:`AnalysisWindow`)."""
    ended = experiment.ended_at
    if ended is None:
        return None
    ended = naive_utc(ended)
    return ended + DAY if ended.time() == time(0) else ended


def analysis_window(
    warehouse: Any, experiment: Experiment, as_of: datetime | None = None
) -> AnalysisWindow:
    """[started_at, min(end, as_of)); a running experiment without ``as_of`` runs to the last data."""
    start = naive_utc(experiment.started_at)
    declared_end = experiment_end(experiment)
    if as_of is not None:
        as_of = naive_utc(as_of)
        end = as_of if declared_end is None else min(as_of, declared_end)
        ended = declared_end is not None and declared_end <= as_of
    elif declared_end is not None:
        end, ended = declared_end, True
    else:
        end, ended = _data_end(warehouse, start), False
    if end <= start:
        raise UserError(
            f"experiment {experiment.experiment_id!r} has nothing to analyse: the window "
            f"[{start}, {end}) is empty (started_at is after as_of or ended_at)"
        )
    return AnalysisWindow(start, end, as_of, ended)


def _data_end(warehouse: Any, start: datetime) -> datetime:
    """Just after the last event or exposure, so a running experiment reads all the data."""
    last = [
        warehouse.table(name).timestamp.max().to_pyarrow().as_py()
        for name in ("events", "exposures")
    ]
    known = [t for t in last if t is not None]
    return max(known) + timedelta(microseconds=1) if known else start + DAY


@dataclass(frozen=True)
class ExposureSummary:
    """Units per variation and every exclusion, as counted before any metric is read."""

    unit: str
    variations: tuple[str, ...]
    units: tuple[int, ...]  # per variation, in the experiment's order (the SRM input)
    users: tuple[int, ...]  # exposed users per variation (= units for unit: user)
    exposed_users: int  # every actor with an exposure in the window
    multiple_variations: int  # users excluded: seen in more than one variation
    unknown_variation: int  # users excluded: a variation the experiment does not declare
    mixed_accounts: int = 0  # accounts excluded: users in different variations
    users_in_mixed_accounts: int = 0
    users_without_account: int = 0
    first_exposure: datetime | None = None
    last_exposure: datetime | None = None

    @property
    def total_units(self) -> int:
        return sum(self.units)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "units_by_variation": dict(zip(self.variations, self.units, strict=True)),
            "total_units": self.total_units,
        }


@dataclass(frozen=True)
class Population:
    """The analysed units as Ibis tables, and their counts.

    ``users``: ``actor_id``, ``variation_id``, ``start_at`` (first exposure),
    ``account_id``, ``day`` (UTC date of the first exposure). For ``unit: account``
    ``accounts`` has the same columns per account (``actor_id`` is the account id,
    ``start_at`` the account's first exposure) and ``users`` only holds users of
    accounts that stayed in one arm.
    """

    users: ir.Table
    accounts: ir.Table | None
    summary: ExposureSummary
    cached: tuple[Any, ...] = ()

    def release(self) -> None:
        """Drop the temporary tables the population was materialised into."""
        for table in self.cached:
            table.release()


def first_exposures(warehouse: Any, experiment: Experiment, window: AnalysisWindow) -> ir.Table:
    """One row per exposed actor: first exposure, its variation, and whether it saw several."""
    ex = warehouse.table("exposures")
    ex = ex.filter(
        (ex.experiment_id == experiment.experiment_id)
        & ex.actor_id.notnull()
        & (ex.timestamp >= ibis.literal(window.start))
        & (ex.timestamp < ibis.literal(window.end))
    )
    # min != max is an exact "more than one variation" on every engine (no nunique).
    per = ex.group_by("actor_id").agg(
        start_at=ex.timestamp.min(),
        _vmin=ex.variation_id.min(),
        _vmax=ex.variation_id.max(),
        _acc=ex.account_id.max(),
    )
    users = warehouse.table("users").select(_uid="user_id", _uacc="account_id")
    per = per.left_join(users, per.actor_id == users._uid)
    return per.select(
        "actor_id",
        "start_at",
        variation_id=per._vmin,
        multiple=(per._vmin != per._vmax).fill_null(False),
        account_id=per._acc.fill_null(per._uacc),
        day=per.start_at.date(),
    )


def exposed_population(
    warehouse: Any, experiment: Experiment, window: AnalysisWindow
) -> Population:
    """The experiment's analysable units (see :class:`Population`) and the exclusion counts.

    The first exposures are materialised once (Ibis ``cache``, a temporary table on
    every engine), so each metric's query reads them instead of recomputing them;
    call :meth:`Population.release` when done.
    """
    firsts = first_exposures(warehouse, experiment, window).cache()
    declared = list(experiment.variations)
    known = firsts.variation_id.isin(declared)
    counts = (
        firsts.group_by(
            variation_id=ibis.ifelse(known, firsts.variation_id, ibis.null("string")),
            multiple=firsts.multiple,
            no_account=firsts.account_id.isnull(),
        )
        .agg(n=firsts.count(), first=firsts.start_at.min(), last=firsts.start_at.max())
        .to_pyarrow()
        .to_pylist()
    )
    clean = [r for r in counts if not r["multiple"] and r["variation_id"] is not None]
    per_user = {v: sum(r["n"] for r in clean if r["variation_id"] == v) for v in declared}
    times = [r["first"] for r in counts] + [r["last"] for r in counts]
    times = [t for t in times if t is not None]
    base = dict(
        variations=tuple(declared),
        exposed_users=sum(r["n"] for r in counts),
        multiple_variations=sum(r["n"] for r in counts if r["multiple"]),
        unknown_variation=sum(
            r["n"] for r in counts if not r["multiple"] and r["variation_id"] is None
        ),
        first_exposure=min(times) if times else None,
        last_exposure=max(times) if times else None,
    )
    users = firsts.filter(~firsts.multiple & known).drop("multiple")
    if experiment.unit != "account":
        units = tuple(per_user[v] for v in declared)
        summary = ExposureSummary("user", units=units, users=units, **base)  # type: ignore[arg-type]
        return Population(users, None, summary, (firsts,))
    return _account_population(users, declared, clean, base, firsts)


def _account_population(
    users: ir.Table, declared: list[str], clean: list[dict], base: dict, firsts: Any
) -> Population:
    with_account = users.filter(users.account_id.notnull())
    per_account = with_account.group_by(actor_id=with_account.account_id).agg(
        start_at=with_account.start_at.min(),
        _vmin=with_account.variation_id.min(),
        _vmax=with_account.variation_id.max(),
        _users=with_account.count(),
    )
    mixed = per_account._vmin != per_account._vmax
    stats = (
        per_account.group_by(
            variation_id=ibis.ifelse(mixed, ibis.null("string"), per_account._vmin)
        )
        .agg(accounts=per_account.count(), users=per_account._users.sum())
        .to_pyarrow()
        .to_pylist()
    )
    by_arm = {r["variation_id"]: r for r in stats}
    accounts = (
        per_account.filter(~mixed)
        .select(
            "actor_id",
            "start_at",
            variation_id="_vmin",
            account_id="actor_id",
            day=per_account.start_at.date(),
        )
        .cache()
    )
    users = with_account.semi_join(accounts, with_account.account_id == accounts.actor_id)
    summary = ExposureSummary(
        "account",
        units=tuple(int(by_arm.get(v, {}).get("accounts") or 0) for v in declared),
        users=tuple(int(by_arm.get(v, {}).get("users") or 0) for v in declared),
        mixed_accounts=int(by_arm.get(None, {}).get("accounts") or 0),
        users_in_mixed_accounts=int(by_arm.get(None, {}).get("users") or 0),
        users_without_account=sum(r["n"] for r in clean if r["no_account"]),
        **base,
    )
    return Population(users, accounts, summary, (firsts, accounts))
