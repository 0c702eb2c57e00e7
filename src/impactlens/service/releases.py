"""Did what we shipped help? One release's estimate and verdict, and all of a period's.

Method choice, per hypothesis metric:

- a release with an audience (a flag or a list of accounts) is estimated by
  difference-in-differences of exposed vs unexposed actors, per actor, before
  vs after, clustered by account;
- a release shipped to everyone is estimated by a structural time-series
  counterfactual of the daily metric, with the holdout group's series as a
  control when a holdout exists, and an interval calibrated on placebo ship
  dates inside the pre-period (``stats.counterfactual``).

Guardrails are estimated the same way. The verdict (``stats.impact_verdict``)
is met / not met / harmful / inconclusive / too early / no hypothesis; releases
shipped days apart on the same metric are flagged as confounded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from impactlens.config import Workspace
from impactlens.domain import Release
from impactlens.metrics import MetricCatalog, load_metrics
from impactlens.metrics.spec import (
    EventCount,
    MetricBase,
    RatioMetric,
    TicketsMetric,
    referenced_events,
)
from impactlens.service import release_data as data
from impactlens.service.catalog import get_release, list_releases
from impactlens.service.ledger import MetricSuggestion, confounded_groups, suggest_metrics
from impactlens.stats.counterfactual import CounterfactualResult, estimate_counterfactual
from impactlens.stats.did import estimate_did
from impactlens.stats.impact_estimate import EffectEstimate
from impactlens.stats.impact_verdict import GuardrailEstimate, decide_verdict, plain_statement
from impactlens.warehouse import Warehouse

PRE_DAYS = 56
MAX_POST_DAYS = 28


@dataclass(frozen=True)
class ChartSeries:
    """What the release chart draws: the metric per day, the counterfactual band, the ship day."""

    days: tuple[str, ...]
    observed: tuple[float | None, ...]
    observed_label: str = ""
    comparison: tuple[float | None, ...] = ()  # the unexposed group's metric (DiD releases)
    comparison_label: str = ""
    predicted: tuple[float | None, ...] = ()
    lower: tuple[float | None, ...] = ()
    upper: tuple[float | None, ...] = ()
    ship_index: int = 0


@dataclass(frozen=True)
class MetricImpact:
    """One metric's estimated change after a release."""

    metric: str
    label: str
    role: str  # primary | guardrail
    method: str
    relative: float
    lower: float
    upper: float
    error: str | None
    validity_problem: str | None
    details: dict[str, Any]
    chart: ChartSeries | None = None
    audience_accounts: tuple[str, ...] | None = None  # None: everyone outside the holdout

    def effect_estimate(self, alpha: float = 0.05) -> EffectEstimate:
        return EffectEstimate(
            relative=self.relative, lower=self.lower, upper=self.upper, method=self.method,
            alpha=alpha, se_shrinks_with_days=self.method.startswith("difference"),
            error=self.error, validity_problem=self.validity_problem,
        )  # fmt: skip


@dataclass(frozen=True)
class ReleaseImpact:
    """A release, what it was meant to do, what moved, and the honest verdict."""

    release: Release
    verdict: str
    reason: str
    statement: str
    post_days: int
    primary: MetricImpact | None = None
    guardrails: tuple[MetricImpact, ...] = ()
    confounded_with: tuple[str, ...] = ()
    suggestions: tuple[MetricSuggestion, ...] = ()
    mde: float | None = None
    days_needed: float | None = None
    reach_users: int = 0
    reach_accounts: int = 0
    reach_arr: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def measured(self) -> bool:
        """Has a verdict that says something about the metric (not too early, not missing)."""
        return self.verdict in ("met", "not_met", "harmful", "inconclusive")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["release"]["shipped_at"] = self.release.shipped_at.isoformat()
        return _finite(out)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _overlaps(
    release: Release, releases: list[Release], windows: data.Windows, metrics: tuple[str, ...]
) -> list[str]:
    """Other releases aimed at one of these metrics that shipped inside this release's windows.

    Their effect is part of the before/after comparison for that metric; the
    review says so next to the number instead of letting it pass as this release's.
    """
    notes = []
    for other in releases:
        if other.release_id == release.release_id or other.hypothesis is None:
            continue
        if (
            other.hypothesis.metric in metrics
            and windows.pre_start <= other.shipped_at < windows.post_end
        ):
            days = (other.shipped_at.date() - release.shipped_at.date()).days
            when = f"{abs(days)} day(s) {'after' if days >= 0 else 'before'}"
            notes.append(
                f"{other.release_id} ({when}) also targets {other.hypothesis.metric}: "
                "its effect is inside this comparison"
            )
    return notes


def _in_sentence(label: str) -> str:
    """'Search click-through' -> 'search click-through'; 'NPS' and 'MRR' stay as they are."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() else label[:1].lower() + label[1:]


def trend_for(is_rate: bool) -> str:
    """The counterfactual's trend, chosen by what the metric is, before looking at its data.

    A rate (errors per session, click-through: events per event) hovers around
    a level, so a local level (CausalImpact's own default) is used; a total that
    grows with the customer base (sessions, MRR), or activity per customer
    (:func:`counts_per_actor`), gets a local linear trend whose slope is averaged
    over a grid. The study in docs/release-impact-statistics.md shows why totals
    never get the local level: with a wandering growth rate its false claims
    reach 26%.
    """
    return "local_level" if is_rate else "local_linear"


def counts_per_actor(metric: MetricBase, catalog: MetricCatalog) -> bool:
    """Is this ratio events per actor (invites per active account, reports per active user)?

    Such a ratio is a total divided by the customers present: it grows as teams
    fill their seats and usage drifts, the way a total does, so it does not
    hover around a level. On the large demo, invites per active account grew
    3.8% a month and a local level read +3.7% [+1.4%, +6.1%] for the null
    invite-flow release (docs/release-impact.md). Tickets per active account
    are such a ratio too. Events per event (errors per session) and actors per
    actor (a share) are rates.

    >>> from impactlens.metrics.spec import RatioMetric
    >>> m = RatioMetric(name="x", kind="ratio", higher_is_better=True,
    ...     numerator={"event": "User Invited"},
    ...     denominator={"event": "Session Started", "aggregate": "actors"})
    >>> counts_per_actor(m, None)
    True
    """
    if isinstance(metric, TicketsMetric):
        return metric.stat == "per_active_account"
    if not isinstance(metric, RatioMetric):
        return False

    def actors(part: str | EventCount) -> bool:
        if isinstance(part, EventCount):
            return part.aggregate == "actors"
        named = metric.part(part) or catalog.get(part)
        return named.kind == "unique"

    return actors(metric.denominator) and not actors(metric.numerator)


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# (exposed actors, unexposed actors or None: every other actor with an account)
Arms = tuple[set[str], set[str] | None]


def _arms(
    warehouse: Warehouse, release: Release, windows: data.Windows, accounts: tuple[str, ...] | None
) -> Arms | None:
    """Who a flag or account release reached and whom it is compared with, read once
    for all of its metrics; None when it shipped to everyone.

    A flag: its own control arm (seen with it false after the ship day). Accounts (a
    list or what a filter selects): the actors of the other accounts, not anonymous
    visitors.
    """
    if release.audience.flag:
        return data.flag_arm_sets(warehouse, release.audience.flag, windows.ship, windows.post_end)
    if accounts is not None:
        return data.account_actors(warehouse, accounts, windows.pre_start, windows.post_end), None
    return None


def _metric_impact(
    warehouse: Warehouse,
    catalog: MetricCatalog,
    release: Release,
    metric_name: str,
    role: str,
    windows: data.Windows,
    timezone: str,
    holdout: list[str],
    arms: Arms | None = None,
) -> MetricImpact:
    """One metric's estimate; ``arms`` are the release's exposed and unexposed actors
    (:func:`_arms`), None for a release shipped to everyone."""
    metric = catalog.get(metric_name)
    audience = release.audience
    if arms is not None:
        exposed, unexposed = arms
        pair = data.actor_panels(
            warehouse, catalog, metric_name, windows, exposed=exposed, timezone=timezone,
            exclude_accounts=tuple(holdout), unexposed=unexposed,
            require_account=not audience.flag,
        )  # fmt: skip
        result = estimate_did(
            pair.exposed,
            pair.unexposed,
            pre_trend=(pair.exposed_pre_trend, pair.unexposed_pre_trend),
        )
        return MetricImpact(
            metric=metric_name, label=metric.label, role=role,
            method="difference-in-differences (" + result.method + ")",
            relative=result.relative, lower=result.relative_lower, upper=result.relative_upper,
            error=result.error, validity_problem=result.validity_problem,
            details={
                "n_exposed": result.n_exposed, "n_unexposed": result.n_unexposed,
                "n_clusters": result.n_clusters, "exposed_pre": result.exposed_pre,
                "exposed_post": result.exposed_post, "unexposed_pre": result.unexposed_pre,
                "unexposed_post": result.unexposed_post, "p_value": result.p_value,
                "pre_trend": result.pre_trend.status, "exposed_accounts": len(pair.exposed_accounts),
            },
            audience_accounts=pair.exposed_accounts,
            chart=data.flag_chart(
                warehouse, catalog, metric_name, windows, audience.flag, timezone,
                exclude_accounts=tuple(holdout),
            )
            if audience.flag and role == "primary"
            else None,
        )  # fmt: skip

    daily = data.daily_values(
        warehouse, catalog, metric_name, windows, timezone=timezone,
        treated_filters=everyone_filters(holdout), control_filters=holdout_filters(holdout),
    )  # fmt: skip
    controls = None if daily.control is None else daily.control.reshape(-1, 1)
    is_rate = daily.ratio and not counts_per_actor(metric, catalog)
    forecast = estimate_counterfactual(
        daily.values, daily.post_start, controls=controls, trend=trend_for(is_rate)
    )
    return _counterfactual_impact(metric_name, metric.label, role, daily, forecast)


def everyone_filters(holdout: list[str]) -> list[dict]:
    """Who the series of a release shipped to everyone counts (the treated side).

    Without a holdout, every actor of the metric: a user metric counts anonymous
    visitors too (they saw the release; a pricing-page change reaches only them),
    an account metric has no actor without an account anyway. With a holdout, the
    actors of the other accounts only: the holdout is of accounts, so its control
    series holds no visitor, and a treated series with visitors in it would set
    their traffic (a campaign, a crawler) against a control that cannot have it;
    ``holdout_impact`` compares the same two populations.
    """
    if not holdout:
        return []
    return [{"field": "account.account_id", "op": "exists"}, *data.outside_accounts(tuple(holdout))]


def holdout_filters(holdout: list[str]) -> list[dict] | None:
    """The holdout accounts' actors (the control series), None without a holdout."""
    return [{"field": "account.account_id", "op": "in", "value": holdout}] if holdout else None


def _counterfactual_impact(
    metric_name: str, label: str, role: str, daily: data.DailyValues, result: CounterfactualResult
) -> MetricImpact:
    """The counterfactual estimate as a metric impact, with its chart."""
    pad = (None,) * daily.post_start
    chart = ChartSeries(
        days=tuple(d.isoformat() for d in daily.days),
        observed=tuple(None if not math.isfinite(v) else float(v) for v in daily.values),
        predicted=pad + tuple(result.predicted),
        lower=pad + tuple(result.predicted_lower),
        upper=pad + tuple(result.predicted_upper),
        ship_index=daily.post_start,
    )
    return MetricImpact(
        metric=metric_name, label=label, role=role, method=result.method,
        relative=result.relative, lower=result.relative_lower, upper=result.relative_upper,
        error=result.error, validity_problem=result.validity_problem,
        details={
            "average_effect": result.average_effect, "average_observed": result.average_observed,
            "average_predicted": result.average_predicted,
            "probability_of_effect": result.probability_of_effect, "p_value": result.p_value,
            "placebo_inflation": result.calibration.inflation, "pre_period_mape": result.calibration.mape,
            "n_controls": result.n_controls,
        },
        chart=chart,
    )  # fmt: skip


def review_release(
    warehouse: Warehouse,
    workspace: Workspace,
    release_id: str,
    *,
    as_of: datetime | None = None,
    catalog: MetricCatalog | None = None,
    all_releases: list[Release] | None = None,
) -> ReleaseImpact:
    """Estimate one release's effect on its hypothesis metric and guardrails, with a verdict."""
    catalog = catalog or load_metrics(workspace.metrics_path, warehouse)
    release = get_release(warehouse, release_id)
    releases = all_releases if all_releases is not None else list_releases(warehouse)
    confounded = confounded_groups(releases).get(release.release_id, ())
    end = as_of or data.data_end(warehouse) or release.shipped_at
    windows = data.windows_for(
        release.shipped_at, end=end, pre_days=PRE_DAYS, max_post_days=MAX_POST_DAYS
    )
    hypothesis = release.hypothesis

    if hypothesis is None:
        metric_events = {m.name: referenced_events(m) for m in catalog.metrics}
        suggestions = tuple(suggest_metrics(release, metric_events))
        hint = ", ".join(s.metric for s in suggestions) or "a metric in metrics.yaml"
        return ReleaseImpact(
            release=release, verdict="no_hypothesis",
            reason=f"no hypothesis: how would we know if this didn't help? Candidates: {hint}",
            statement=f"{release.release_id} shipped without a hypothesis; nothing was measured.",
            post_days=windows.post_days, suggestions=suggestions, confounded_with=confounded,
        )  # fmt: skip

    holdout = data.holdout_accounts(warehouse)
    tz = workspace.config.timezone
    primary = guardrails = None
    named, audience_note = (None, None)
    if not release.audience.flag:
        named, audience_note = data.audience_accounts(
            warehouse, release.audience.accounts, release.audience.filter
        )
    notes: list[str] = [audience_note] if audience_note else []
    if windows.post_days >= 1:
        arms = _arms(warehouse, release, windows, named)
        primary = _metric_impact(
            warehouse, catalog, release, hypothesis.metric, "primary", windows, tz, holdout, arms
        )
        guardrails = tuple(
            _metric_impact(warehouse, catalog, release, g, "guardrail", windows, tz, holdout, arms)
            for g in hypothesis.guardrails
            if g in catalog
        )
        missing = [g for g in hypothesis.guardrails if g not in catalog]
        if missing:
            notes.append(f"guardrails not in metrics.yaml: {', '.join(missing)}")
        notes.extend(
            _overlaps(release, releases, windows, (hypothesis.metric, *hypothesis.guardrails))
        )
    verdict = decide_verdict(
        primary.effect_estimate() if primary else None,
        expected=hypothesis.expected,
        min_effect=hypothesis.min_effect or 0.0,
        days_observed=windows.post_days,
        guardrails=[
            GuardrailEstimate(
                g.metric,
                g.effect_estimate(),
                "decrease" if catalog.get(g.metric).higher_is_better else "increase",
            )
            for g in (guardrails or ())
        ],
    )
    metric = catalog.get(hypothesis.metric)
    statement = (
        plain_statement(_in_sentence(metric.label), primary.relative, primary.lower, primary.upper)
        if primary is not None and primary.error is None
        else f"{metric.label}: no estimate"
    )
    reason = verdict.reason[:1].upper() + verdict.reason[1:].rstrip(".") + "."
    if confounded:
        reason += f" Confounded with {', '.join(confounded)}: shipped days apart on the same metric, so the estimate covers them together."
    audience_accounts = primary.audience_accounts if primary is not None else None
    if audience_accounts is None and named is not None:
        audience_accounts = named
    users, accounts, arr = data.reach(warehouse, windows, audience_accounts, exclude=tuple(holdout))
    statement = f"{release.release_id} {statement}" + (
        f" for {users:,} users in {accounts:,} accounts worth ${arr:,.0f} ARR" if users else ""
    )
    return ReleaseImpact(
        release=release, verdict=verdict.verdict, reason=reason, statement=statement,
        post_days=windows.post_days, primary=primary, guardrails=guardrails or (),
        confounded_with=confounded, mde=_finite_or_none(verdict.minimum_detectable_effect), days_needed=verdict.days_needed,
        reach_users=users, reach_accounts=accounts, reach_arr=arr, notes=tuple(notes),
    )  # fmt: skip


def review_releases(
    warehouse: Warehouse,
    workspace: Workspace,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    team: str | None = None,
    as_of: datetime | None = None,
    progress: Any = None,
) -> list[ReleaseImpact]:
    """Every release shipped in [start, end) (optionally one team's), each with its verdict."""
    catalog = load_metrics(workspace.metrics_path, warehouse)
    everything = list_releases(warehouse)
    chosen = list_releases(warehouse, start=start, end=end, team=team)
    out = []
    for i, release in enumerate(chosen):
        if progress is not None:
            progress(f"estimating: {release.release_id}", i, len(chosen))
        out.append(
            review_release(
                warehouse,
                workspace,
                release.release_id,
                as_of=as_of,
                catalog=catalog,
                all_releases=everything,
            )  # fmt: skip
        )
    if progress is not None:
        progress("estimating: done", len(chosen), len(chosen))
    return out


def measured_releases(warehouse: Warehouse, workspace: Workspace | None = None) -> list[Any]:
    """Every release's verdict in the portfolio's shape (for backlog, delivery and portfolio views).

    ``workspace`` defaults to the current one (``-w`` or the nearest impactlens.yaml).
    """
    from impactlens.config import load_workspace
    from impactlens.service.review import measured_from

    ws = workspace or load_workspace()
    return measured_from(review_releases(warehouse, ws))
