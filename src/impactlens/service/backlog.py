"""Prioritisation: RICE and a five-factor ROI for backlog items, with what the user left out
estimated from the data and marked as estimated, with its source.

- RICE = reach x impact x confidence / effort_days
- ROI  = (business_impact + user_impact + technical_sustainability)
         / (effort_days x (1 + 0.25 x (dependencies - 1)))     (factors on 1-5)

``backlog_items`` reads and validates items, ``backlog_evidence`` finds reach and
comparable releases in the data, ``backlog_scores`` computes and ranks (pure);
this module puts them together. docs/prioritisation.md has every rule.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

from impactlens.errors import UserError
from impactlens.service.backlog_evidence import (
    ItemLinks,
    Population,
    ReachEvidence,
    comparable,
    confidence_from,
    data_window,
    feature_words,
    impact_from,
    population,
    reach_evidence,
    reach_hits,
    title_words,
)
from impactlens.service.backlog_items import BacklogItem, add_backlog_item, read_backlog
from impactlens.service.backlog_scores import (
    BUSINESS_SHARE,
    BacklogRanking,
    RankBy,
    RankMove,
    ScoredItem,
    ScoreField,
    Weight,
    WhatIf,
    given,
    rank,
    rescore,
    rice,
    roi,
    step,
    user_from_impact,
    what_if,
)
from impactlens.service.catalog import list_releases
from impactlens.service.portfolio import MeasuredRelease, measured_releases
from impactlens.warehouse import Warehouse


@dataclass
class _Context:
    measured: list[MeasuredRelease]
    releases: dict
    window: tuple | None
    population: Population
    weight: Weight
    efforts: list[float] = field(default_factory=list)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit[:-1] if n == 1 else unit}"


def _reach(item: BacklogItem, ev: ReachEvidence | None, ctx: _Context) -> ScoreField:
    if item.reach is not None:
        return given(item.reach)
    if ev is None or ctx.window is None:
        return ScoreField(0.0, True, "no usage, ticket or comment data to estimate from")
    unit = "users" if ctx.weight == "users" else "accounts"
    total = ev.users if unit == "users" else ev.accounts
    per = ev.users_by_source if unit == "users" else ev.accounts_by_source
    order = ("usage", "tickets", "comments")
    sources = ", ".join(f"{per[s]} via {s}" for s in order if s in per) or "none found"
    span = f"{ctx.window[0]:%Y-%m-%d}..{ctx.window[1]:%Y-%m-%d}"
    text = f"{_count(total, unit)} used or asked for it ({sources}) in {span}"
    if ctx.weight == "arr":
        share = f"{(ev.arr_share or 0) * 100:.1f}% of ARR"
        return ScoreField(
            round(ev.weighted or 0.0, 2), True, f"ARR-weighted: {text}, holding {share}"
        )
    return ScoreField(float(total), True, text)


def _business(item: BacklogItem, ev: ReachEvidence | None) -> ScoreField:
    if item.business_impact is not None:
        return given(item.business_impact)
    if ev is None or (ev.users == 0 and ev.accounts == 0):
        return ScoreField(3.0, True, "neutral default: nothing in the data names it")
    for share, what in (
        (ev.arr_share, "of ARR"),
        (ev.account_share, "of accounts (no revenue data)"),
        (ev.user_share, "of users (no account data)"),
    ):
        if share is not None:
            return ScoreField(
                step(share, BUSINESS_SHARE), True, f"reach holds {share * 100:.1f}% {what}"
            )
    return ScoreField(3.0, True, "neutral default: no revenue, account or user data")


def _effort(
    item: BacklogItem, comps: list[MeasuredRelease], basis: str, ctx: _Context
) -> ScoreField:
    if item.effort_days is not None and item.effort_days > 0:
        return given(item.effort_days)
    days = [m.effort_days for m in comps if m.effort_days and m.effort_days > 0]
    if days:
        return ScoreField(
            statistics.median(days), True, f"median effort of {len(days)} release(s) of {basis}"
        )
    if ctx.efforts:
        return ScoreField(
            statistics.median(ctx.efforts), True, "median effort of the other backlog items"
        )
    return ScoreField(None, True, "no effort given and nothing to estimate it from")


def score_item(item: BacklogItem, ev: ReachEvidence | None, ctx: _Context) -> ScoredItem:
    comps, basis = comparable(item.feature, item.team, ctx.measured)
    if item.impact is not None:
        impact = given(item.impact)
    else:
        found = impact_from(comps, basis)
        impact = (
            ScoreField(found[0], True, found[1])
            if found
            else ScoreField(1.0, True, f"RICE default 1 (medium): no measured release of {basis}")
        )
    if item.confidence is not None:
        confidence = given(item.confidence)
    else:
        value, why = confidence_from(comps, basis)
        confidence = ScoreField(value, True, why)
    user = given(item.user_impact) if item.user_impact is not None else user_from_impact(impact)
    sustain = (
        given(item.sustainability)
        if item.sustainability is not None
        else ScoreField(3.0, True, "neutral default: not given")
    )
    deps = (
        given(item.dependencies)
        if item.dependencies is not None
        else ScoreField(1.0, True, "default: no dependencies declared")
    )
    # comparable releases of the same team estimate effort even when impact came from a feature
    effort_comps = comps or comparable(None, item.team, ctx.measured)[0]
    return rescore(
        ScoredItem(
            item.item_id,
            item.title,
            item.team,
            item.feature,
            reach=_reach(item, ev, ctx),
            impact=impact,
            confidence=confidence,
            effort=_effort(item, effort_comps, basis, ctx),
            business_impact=_business(item, ev),
            user_impact=user,
            sustainability=sustain,
            dependencies=deps,
        )
    )


def item_links(item: BacklogItem, releases: dict) -> ItemLinks:
    """What names ``item`` in the data: flags, events, phrases and title words."""
    release = releases.get(item.feature) if item.feature else None
    flags = [f for f in (release.audience.flag if release else None, item.flag) if f]
    if item.feature and not flags:
        flags = sorted({item.feature, item.feature.replace("-", "_")})
    phrases = [p.lower() for p in item.terms]
    if item.feature:
        spaced = item.feature.lower().replace("-", " ").replace("_", " ")
        phrases += sorted({item.feature.lower(), spaced})
    elif not item.terms:
        phrases.append(item.item_id.lower())
    event_words = () if item.reach_events or not item.feature else feature_words(item.feature)
    return ItemLinks(
        feature=item.feature,
        flags=tuple(flags),
        events=item.reach_events,
        event_words=tuple(event_words),
        phrases=tuple(phrases),
        words=tuple(title_words(release.title if release else item.title)),
    )


def _evidence(warehouse: Warehouse, item: BacklogItem, ctx: _Context) -> ReachEvidence | None:
    if ctx.window is None or (item.reach is not None and item.business_impact is not None):
        return None
    hits = reach_hits(warehouse, ctx.window, item_links(item, ctx.releases))
    return reach_evidence(hits, ctx.population)


def rank_backlog(
    warehouse: Warehouse,
    *,
    measured: list[MeasuredRelease] | None = None,
    weight: Weight = "users",
    by: RankBy = "rice",
    window_days: int = 90,
    as_of: datetime | None = None,
) -> BacklogRanking:
    """Score every backlog item (RICE and ROI), estimating what is missing, best first.

    ``measured`` defaults to the release-impact service's verdicts. Reach is read
    from the ``window_days`` before ``as_of`` (default: the end of the last day with data).
    """
    if weight not in ("users", "accounts", "arr") or by not in ("rice", "roi"):
        raise UserError(
            f"weight must be users, accounts or arr (got {weight!r}); "
            f"by must be rice or roi (got {by!r})"
        )
    if weight == "arr" and warehouse.count("revenue") == 0:
        raise UserError(
            "no revenue data to weight reach by ARR; import revenue or use --weight accounts"
        )
    items = read_backlog(warehouse)
    ctx = _Context(
        measured=list(measured) if measured is not None else measured_releases(warehouse),
        releases={r.release_id: r for r in list_releases(warehouse)},
        window=data_window(warehouse, window_days, as_of),
        population=population(warehouse),
        weight=weight,
        efforts=[i.effort_days for i in items if i.effort_days and i.effort_days > 0],
    )
    scored = [score_item(i, _evidence(warehouse, i, ctx), ctx) for i in items]
    window = None if ctx.window is None else (ctx.window[0].isoformat(), ctx.window[1].isoformat())
    unit = "ARR-weighted accounts" if weight == "arr" else weight
    return BacklogRanking(rank(scored, by), by, weight, unit, window)


def what_if_backlog(
    warehouse: Warehouse,
    item_id: str,
    *,
    measured: list[MeasuredRelease] | None = None,
    weight: Weight = "users",
    by: RankBy = "rice",
    window_days: int = 90,
    as_of: datetime | None = None,
    **changes: float | None,
) -> WhatIf:
    """Rank the backlog, then show how ``changes`` (reach, impact, confidence, effort) move
    ``item_id``. Nothing is written."""
    ranking = rank_backlog(
        warehouse, measured=measured, weight=weight, by=by, window_days=window_days, as_of=as_of
    )
    return what_if(ranking, item_id, **changes)


__all__ = [
    "BacklogItem",
    "BacklogRanking",
    "RankBy",
    "RankMove",
    "ScoreField",
    "ScoredItem",
    "Weight",
    "WhatIf",
    "add_backlog_item",
    "rank_backlog",
    "rice",
    "roi",
    "what_if",
    "what_if_backlog",
]
