"""The data a release-impact estimate needs, pulled from the metrics layer.

Two shapes, both aggregated in the warehouse:

- ``actor_panels``: per actor, the metric's numerator and denominator before
  and after the ship date (and in the two halves of the pre-period, for the
  parallel-trends placebo), for an exposed and an unexposed group. This feeds
  difference-in-differences.
- ``daily_values``: the metric per local day over the pre and post windows,
  for the treated population and, when a holdout exists, for the holdout as a
  control series. This feeds the time-series counterfactual.

Nothing here decides anything; ``service.releases`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from impactlens.metrics import MetricCatalog, metric_per_actor, metric_series
from impactlens.metrics.engines import json_text
from impactlens.metrics.query import isin_values
from impactlens.metrics.series import ACTOR_KINDS
from impactlens.stats.did import ActorPanel
from impactlens.warehouse import Warehouse

HOLDOUT_FLAG = "holdout"


@dataclass(frozen=True)
class Windows:
    """Pre and post windows around a ship date, in UTC."""

    pre_start: datetime
    ship: datetime
    post_end: datetime
    post_from: datetime | None = None  # the post window may start later (holdout readouts)

    @property
    def post_start(self) -> datetime:
        return self.post_from or self.ship

    @property
    def pre_mid(self) -> datetime:
        return self.pre_start + (self.ship - self.pre_start) / 2

    @property
    def post_days(self) -> int:
        return max(0, (self.post_end - self.post_start).days)

    @property
    def pre_days(self) -> int:
        return (self.ship - self.pre_start).days


def data_end(warehouse: Warehouse) -> datetime | None:
    """The last event time: what "now" is for the data, unless the caller says otherwise."""
    return warehouse.table("events").timestamp.max().to_pyarrow().as_py()


def has_holdout(warehouse: Warehouse) -> bool:
    """Whether any account or event is marked as held out of every release."""
    return bool(holdout_accounts(warehouse))


def holdout_accounts(warehouse: Warehouse) -> list[str]:
    """Accounts whose attributes say ``holdout: true`` (the contract's account attributes)."""
    accounts = warehouse.table("accounts")
    flag = json_text(warehouse.engine, accounts.attributes, (HOLDOUT_FLAG,))
    rows = accounts.filter(flag.lower().isin(["true", "1"])).select("account_id")
    return sorted(rows.to_pyarrow().column(0).to_pylist())


def _frame_arrays(frame_table: pa.Table, ratio: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ids = frame_table.column("actor_id").to_pylist()
    if ratio:
        num = np.nan_to_num(
            frame_table.column("numerator").to_numpy(zero_copy_only=False).astype(float)
        )
        den = np.nan_to_num(
            frame_table.column("denominator").to_numpy(zero_copy_only=False).astype(float)
        )
    else:
        num = np.nan_to_num(
            frame_table.column("value").to_numpy(zero_copy_only=False).astype(float)
        )
        den = np.ones_like(num)
    return {a: (n, d) for a, n, d in zip(ids, num, den, strict=True)}


@dataclass(frozen=True)
class PanelPair:
    """Exposed and unexposed actors, with the pre-trend halves, ready for estimate_did."""

    exposed: ActorPanel
    unexposed: ActorPanel
    exposed_pre_trend: ActorPanel
    unexposed_pre_trend: ActorPanel
    ratio: bool
    exposed_accounts: tuple[str, ...]
    exposed_actors: int


def outside_accounts(accounts: tuple[str, ...]) -> list[dict]:
    """A metrics filter leaving out ``accounts`` (actors without an account stay)."""
    if not accounts:
        return []
    return [{"field": "account.account_id", "op": "not_in", "value": list(accounts)}]


def audience_accounts(
    warehouse: Warehouse, accounts: tuple[str, ...], filter_text: str | None
) -> tuple[tuple[str, ...] | None, str | None]:
    """(the accounts a release's audience names, a note): its list, or what a filter selects.

    A filter is read as the accounts page reads it (``service.accounts.release_impact``):
    ``column = 'value'``, ``!=``, ``in ('a', 'b')``, joined by ``and``, over the
    accounts' columns and attributes. Anything else gives ``None`` (no accounts
    named) and a note that says so.
    """
    if accounts or not filter_text:
        return (accounts or None), None
    from impactlens.service.accounts.release_impact import filter_predicate

    table = warehouse.table("accounts")
    predicate = filter_predicate(table, filter_text)
    if predicate is None:
        return None, (
            f"audience filter {filter_text!r} is not a simple filter over accounts "
            "(column = 'value', column in ('a', 'b'), joined by and): estimated as shipped to everyone"
        )
    chosen = table.filter(predicate).account_id.to_pyarrow().to_pylist()
    return tuple(sorted(chosen)), None


def flag_actors(
    warehouse: Warehouse, flag: str, lo: datetime, hi: datetime, value: str = "true"
) -> set[str]:
    """Actors seen with ``properties.flags.<flag> = <value>`` (``true``/``false``) in [lo, hi)."""
    events = warehouse.table("events")
    window = events.filter((events.timestamp >= lo) & (events.timestamp < hi))
    seen = json_text(warehouse.engine, window.properties, ("flags", flag))
    on = window.filter(seen == value).select("actor_id").distinct()
    return set(on.to_pyarrow().column(0).to_pylist())


def flag_arms(
    warehouse: Warehouse, flag: str, lo: datetime, hi: datetime, unit: str = "user"
) -> ir.Table:
    """A flag's rollout arms in [lo, hi) as a query: ``actor_id``, ``segment`` (``true``/``false``).

    ``true``: seen with ``properties.flags.<flag> = true``; ``false``: seen with it
    ``false`` and never ``true`` (the rollout's control arm). ``unit`` ``account``
    gives accounts, an account with users in both arms being exposed. One scan of
    the window's events; nothing is pulled into Python.
    """
    events = warehouse.table("events")
    key = "actor_id" if unit == "user" else "account_id"
    window = events.filter(
        (events.timestamp >= lo) & (events.timestamp < hi) & events[key].notnull()
    )
    seen = json_text(warehouse.engine, window.properties, ("flags", flag))
    rows = window.select(_k=window[key], _seen=seen)
    rows = rows.filter(rows._seen.isin(["true", "false"]))
    arms = rows.group_by("_k").agg(_on=(rows._seen == "true").any())
    return arms.select(actor_id=arms._k, segment=ibis.ifelse(arms._on, "true", "false"))


def flag_arm_sets(
    warehouse: Warehouse, flag: str, lo: datetime, hi: datetime
) -> tuple[set[str], set[str]]:
    """(exposed, unexposed) actors of :func:`flag_arms`, for the difference-in-differences."""
    table = flag_arms(warehouse, flag, lo, hi).to_pyarrow()
    arms: tuple[set[str], set[str]] = (set(), set())
    for actor, arm in zip(*table.to_pydict().values(), strict=True):
        arms[arm != "true"].add(actor)
    return arms


def account_actors(
    warehouse: Warehouse, accounts: tuple[str, ...], lo: datetime, hi: datetime
) -> set[str]:
    """Actors with events in [lo, hi) that belong to one of ``accounts``."""
    events = warehouse.table("events")
    window = events.filter(
        (events.timestamp >= lo)
        & (events.timestamp < hi)
        & isin_values(events.account_id, accounts)
    )
    return set(window.select("actor_id").distinct().to_pyarrow().column(0).to_pylist())


def actor_panels(
    warehouse: Warehouse,
    catalog: MetricCatalog,
    metric_name: str,
    windows: Windows,
    *,
    exposed: set[str],
    timezone: str,
    exclude_accounts: tuple[str, ...] = (),
    unexposed: set[str] | None = None,
    require_account: bool = False,
) -> PanelPair:
    """Per-actor numerator/denominator in the pre and post windows, split into exposed/unexposed.

    One metric query per window for every actor; membership is decided here.
    The population is the actors active in the post window (exposure is only
    observable there); one not seen before counts 0 in the pre window. The
    unexposed group is the rest of that population, narrowed to ``unexposed``
    when given (a flag's control arm) and to actors with an account when
    ``require_account`` (an audience of accounts): actors outside the
    rollout, such as anonymous visitors, have a metric mix of their own whose
    share moves between windows, and the DiD would read that as an effect.
    For additive (ratio) metrics the pre window is the sum of its two halves,
    so three queries serve the estimate and its parallel-trends placebo.
    """
    metric = catalog.get(metric_name)
    accounts = _actor_accounts(warehouse)
    if metric.actor == "account":
        # The metric's actors are accounts: an account is exposed via its users (and
        # exposure wins for an account with users in both arms).
        def of_accounts(actors: set[str]) -> set[str]:
            return {accounts[a] for a in actors if accounts.get(a)} | (
                actors & set(accounts.values())
            )

        exposed = of_accounts(exposed)
        unexposed = None if unexposed is None else of_accounts(unexposed)
    filters = outside_accounts(exclude_accounts)

    def per_actor(lo: datetime, hi: datetime) -> tuple[dict, bool]:
        frame = metric_per_actor(
            warehouse, metric, start=lo, end=hi, timezone=timezone, filters=filters, catalog=catalog
        )
        return _frame_arrays(frame.table, frame.ratio), frame.ratio

    pre1, ratio = per_actor(windows.pre_start, windows.pre_mid)
    pre2, _ = per_actor(windows.pre_mid, windows.ship)
    post, _ = per_actor(windows.post_start, windows.post_end)
    if ratio:
        pre = {a: _add(pre1.get(a), pre2.get(a)) for a in set(pre1) | set(pre2)}
    else:
        pre, _ = per_actor(windows.pre_start, windows.ship)

    # Both groups are the actors active after the ship date: exposure to a flag can
    # only be seen in actors who came back, so counting the ones who left only in
    # the unexposed group would turn churn into a fake trend there.
    everyone = sorted(post)
    if require_account and metric.actor == "user":
        everyone = [a for a in everyone if accounts.get(a)]
    panels = {}
    for group, actors in (
        ("exposed", [a for a in everyone if a in exposed]),
        (
            "unexposed",
            [a for a in everyone if a not in exposed and (unexposed is None or a in unexposed)],
        ),
    ):
        clusters = np.array([accounts.get(a) or a for a in actors], dtype=object)

        def arrays(values: dict, actors: list[str] = actors) -> tuple[np.ndarray, np.ndarray]:
            num = np.array([values.get(a, (0.0, 0.0))[0] for a in actors], dtype=float)
            den = np.array([values.get(a, (0.0, 0.0))[1] for a in actors], dtype=float)
            return num, den

        (pre_n, pre_d), (post_n, post_d) = arrays(pre), arrays(post)
        (p1_n, p1_d), (p2_n, p2_d) = arrays(pre1), arrays(pre2)
        main = ActorPanel(
            post=post_n, pre=pre_n, clusters=clusters,
            post_denominator=post_d if ratio else None, pre_denominator=pre_d if ratio else None,
        )  # fmt: skip
        placebo = ActorPanel(
            post=p2_n, pre=p1_n, clusters=clusters,
            post_denominator=p2_d if ratio else None, pre_denominator=p1_d if ratio else None,
        )  # fmt: skip
        panels[group] = (main, placebo, actors)
    exposed_list = panels["exposed"][2]
    return PanelPair(
        exposed=panels["exposed"][0],
        unexposed=panels["unexposed"][0],
        exposed_pre_trend=panels["exposed"][1],
        unexposed_pre_trend=panels["unexposed"][1],
        ratio=ratio,
        exposed_accounts=tuple(sorted({accounts.get(a) or a for a in exposed_list})),
        exposed_actors=len(exposed_list),
    )


def _add(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float]:
    a = a or (0.0, 0.0)
    b = b or (0.0, 0.0)
    return a[0] + b[0], a[1] + b[1]


def _actor_accounts(warehouse: Warehouse) -> dict[str, str]:
    """Each actor's account: from users, else the account its events carry."""
    events = warehouse.table("events")
    from_events = (
        events.filter(events.account_id.notnull())
        .group_by("actor_id")
        .agg(account_id=events.account_id.max())
    )
    mapping = dict(
        zip(*from_events.to_pyarrow().to_pydict().values(), strict=True)  # actor_id, account_id
    )
    users = warehouse.table("users")
    for uid, aid in zip(
        *users.select("user_id", "account_id").to_pyarrow().to_pydict().values(), strict=True
    ):
        if aid:
            mapping[uid] = aid
    return mapping


@dataclass(frozen=True)
class DailyValues:
    """The metric per local day: treated population, and the holdout as a control if any."""

    days: tuple[date, ...]
    values: np.ndarray
    control: np.ndarray | None
    post_start: int
    ratio: bool = False  # value = numerator / denominator: a rate, not a total


def daily_values(
    warehouse: Warehouse,
    catalog: MetricCatalog,
    metric_name: str,
    windows: Windows,
    *,
    timezone: str,
    treated_filters: list[dict],
    control_filters: list[dict] | None,
) -> DailyValues:
    """Daily series over [pre_start, post_end) for the treated group (and the control group)."""
    metric = catalog.get(metric_name)
    start, end = windows.pre_start.date(), windows.post_end.date()
    treated = metric_series(
        warehouse, metric, grain="day", start=start, end=end, timezone=timezone,
        filters=treated_filters, catalog=catalog,
    )  # fmt: skip
    days = tuple(treated.column("period_start"))
    values = np.array([np.nan if v is None else v for v in treated.column("value")], dtype=float)
    control = None
    if control_filters is not None:
        ctl = metric_series(
            warehouse, metric, grain="day", start=start, end=end, timezone=timezone,
            filters=control_filters, catalog=catalog,
        )  # fmt: skip
        control = np.array([np.nan if v is None else v for v in ctl.column("value")], dtype=float)
        control = _informative_control(values, control, windows_post_start(days, windows))
    # The ship day itself is partly before and partly after: it counts as post.
    return DailyValues(days, values, control, windows_post_start(days, windows), treated.ratio)


def flag_chart(
    warehouse: Warehouse,
    catalog: MetricCatalog,
    metric_name: str,
    windows: Windows,
    flag: str,
    timezone: str,
    *,
    exclude_accounts: tuple[str, ...] = (),
):  # -> releases.ChartSeries (built there to keep this module free of presentation types)
    """The metric per day in the flag's two arms, the groups the DiD compares, for the chart.

    The arms are decided in the post window (:func:`flag_arms`, in the metric's
    unit) and drawn over the pre and post windows, outside ``exclude_accounts``.
    Only the post window's events are read for the flag; the metric reads the
    hourly rollup when it can. Kinds the ``actors=`` option cannot narrow
    (docs/metrics.md) fall back to the ``flag.<name>`` segment: every actor's
    latest value over all events, a scan of the whole events table.
    """
    from impactlens.service.releases import ChartSeries

    metric = catalog.get(metric_name)
    arms: dict[str, Any] = (
        {"actors": flag_arms(warehouse, flag, windows.ship, windows.post_end, metric.actor)}
        if metric.kind in ACTOR_KINDS
        else {"segment": f"flag.{flag}"}
    )
    filters = outside_accounts(exclude_accounts)
    frame = metric_series(
        warehouse, metric, grain="day", start=windows.pre_start.date(), end=windows.post_end.date(),
        timezone=timezone, catalog=catalog, filters=filters, **arms,
    )  # fmt: skip
    rows = frame.rows()
    days = sorted({r["period_start"] for r in rows})
    by = {(r["period_start"], str(r["segment"]).lower()): r["value"] for r in rows}
    on = tuple(by.get((d, "true")) for d in days)
    off = tuple(by.get((d, "false"), by.get((d, "(none)"))) for d in days)
    ship = windows_post_start(tuple(days), windows)
    return ChartSeries(
        days=tuple(d.isoformat() for d in days), observed=on, observed_label=f"{flag} on",
        comparison=off, comparison_label=f"{flag} off", ship_index=ship,
    )  # fmt: skip


MIN_CONTROL_CORRELATION = 0.3


def windows_post_start(days: tuple[date, ...], windows: Windows) -> int:
    ship_day = windows.ship.date()
    return next((i for i, d in enumerate(days) if d >= ship_day), len(days))


def _informative_control(
    values: np.ndarray, control: np.ndarray, post_start: int
) -> np.ndarray | None:
    """Keep a control series only if it is complete and tracks the metric before the release.

    A control that does not co-move with the metric in the pre-period (pre-period
    correlation below ``MIN_CONTROL_CORRELATION``) adds noise to the forecast,
    not information: a small holdout's daily ratio is mostly sampling noise.
    """
    if not np.all(np.isfinite(control)) or post_start < 14:
        return None
    pre_v, pre_c = values[:post_start], control[:post_start]
    if np.std(pre_c) == 0 or np.std(pre_v) == 0 or not np.all(np.isfinite(pre_v)):
        return None
    corr = float(np.corrcoef(pre_v, pre_c)[0, 1])
    return control if corr >= MIN_CONTROL_CORRELATION else None


def reach(
    warehouse: Warehouse,
    windows: Windows,
    accounts: tuple[str, ...] | None,
    *,
    exclude: tuple[str, ...] = (),
) -> tuple[int, int, float]:
    """(active users, active accounts, their ARR) in the post window; ``accounts`` None = everyone."""
    events = warehouse.table("events")
    post = events.filter((events.timestamp >= windows.ship) & (events.timestamp < windows.post_end))
    if accounts is not None:
        post = post.filter(isin_values(post.account_id, accounts))
    if exclude:  # a NULL account_id is dropped here, as by any NOT IN
        post = post.filter(~isin_values(post.account_id, exclude))
    row = post.aggregate(
        users=post.user_id.nunique(), accounts=post.account_id.nunique()
    ).to_pyarrow()
    active_accounts = post.select("account_id").distinct()
    revenue = warehouse.table("revenue")
    latest = revenue.group_by("account_id").agg(period_start=revenue.period_start.max())
    current = revenue.semi_join(latest, ["account_id", "period_start"])
    arr = current.semi_join(active_accounts, "account_id").mrr.sum().to_pyarrow().as_py() or 0.0
    return int(row["users"][0].as_py()), int(row["accounts"][0].as_py()), 12.0 * float(arr)


def windows_for(
    shipped_at: datetime, *, end: datetime, pre_days: int, max_post_days: int
) -> Windows:
    """Whole local days: pre = the ``pre_days`` before the ship day, post up to ``end``."""
    ship_day = datetime.combine(shipped_at.date(), datetime.min.time())
    post_end = min(
        ship_day + timedelta(days=max_post_days), datetime.combine(end.date(), datetime.min.time())
    )
    return Windows(ship_day - timedelta(days=pre_days), ship_day, max(post_end, ship_day))
