"""Backlog scores, pure: each factor with its source, RICE, ROI, ranking and what-if.

- RICE = reach x impact x confidence / effort_days
- ROI  = (business_impact + user_impact + technical_sustainability)
         / (effort_days x (1 + 0.25 x (dependencies - 1)))     (factors on 1-5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from impactlens.errors import UserError, ValidationError
from impactlens.service.backlog_items import validate_item

RankBy = Literal["rice", "roi"]
Weight = Literal["users", "accounts", "arr"]
# share of ARR (or of accounts) reached -> business impact 1-5
BUSINESS_SHARE = ((0.40, 5.0), (0.20, 4.0), (0.10, 3.0), (0.05, 2.0))
# RICE impact -> user impact 1-5 (3 massive -> 5 ... 0.25 minimal -> 1)
USER_FROM_IMPACT = ((3.0, 5.0), (2.0, 4.0), (1.0, 3.0), (0.5, 2.0))
DEPENDENCY_STEP = 0.25


@dataclass(frozen=True)
class ScoreField:
    """One factor of a score: its value, whether impactlens estimated it, and from what."""

    value: float | None
    estimated: bool
    source: str


def given(value: float, source: str = "given") -> ScoreField:
    return ScoreField(float(value), False, source)


@dataclass(frozen=True)
class ScoredItem:
    """A backlog item with every factor explained, its RICE and ROI, and its rank."""

    item_id: str
    title: str
    team: str | None
    feature: str | None
    reach: ScoreField
    impact: ScoreField
    confidence: ScoreField
    effort: ScoreField
    business_impact: ScoreField
    user_impact: ScoreField
    sustainability: ScoreField
    dependencies: ScoreField
    rice: float | None = None
    roi: float | None = None
    rank: int = 0

    FACTORS = (
        "reach",
        "impact",
        "confidence",
        "effort",
        "business_impact",
        "user_impact",
        "sustainability",
        "dependencies",
    )

    def factors(self) -> dict[str, ScoreField]:
        return {name: getattr(self, name) for name in self.FACTORS}

    def explain(self) -> list[str]:
        """One line per factor: name, value, and given/estimated with its source."""
        lines = []
        for name, f in self.factors().items():
            value = "n/a" if f.value is None else f"{f.value:g}"
            tag = "estimated" if f.estimated else "given"
            lines.append(f"{name}: {value} ({tag}: {f.source})")
        return lines


@dataclass(frozen=True)
class BacklogRanking:
    """Backlog items, best first, and how they were scored."""

    items: tuple[ScoredItem, ...]
    by: RankBy
    weight: Weight
    reach_unit: str
    window: tuple[str, str] | None

    def get(self, item_id: str) -> ScoredItem:
        for item in self.items:
            if item.item_id == item_id:
                return item
        raise UserError(
            f"no backlog item {item_id!r}; known: {', '.join(i.item_id for i in self.items)}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "by": self.by,
            "weight": self.weight,
            "reach_unit": self.reach_unit,
            "window": self.window,
            "items": [asdict(i) | {"explain": i.explain()} for i in self.items],
        }


def rice(
    reach: float | None, impact: float | None, confidence: float | None, effort: float | None
) -> float | None:
    """RICE = reach x impact x confidence / effort (None when a factor is missing)."""
    if None in (reach, impact, confidence, effort) or not effort or effort <= 0:
        return None
    return reach * impact * confidence / effort  # type: ignore[operator]


def roi(
    business: float | None,
    user: float | None,
    sustainability: float | None,
    effort: float | None,
    dependencies: float | None,
) -> float | None:
    """ROI = (business + user + sustainability) / (effort x (1 + 0.25 x (dependencies - 1)))."""
    if None in (business, user, sustainability, dependencies) or not effort or effort <= 0:
        return None
    cost = effort * (1 + DEPENDENCY_STEP * (dependencies - 1))  # type: ignore[operator]
    return (business + user + sustainability) / cost  # type: ignore[operator]


def step(value: float, table: tuple[tuple[float, float], ...]) -> float:
    return next((score for bound, score in table if value >= bound), 1.0)


def user_from_impact(impact: ScoreField) -> ScoreField:
    if impact.value is None:
        return ScoreField(3.0, True, "neutral default: no impact to derive it from")
    tag = "estimated" if impact.estimated else "given"
    return ScoreField(
        step(impact.value, USER_FROM_IMPACT), True, f"from RICE impact {impact.value:g} ({tag})"
    )


def rescore(item: ScoredItem) -> ScoredItem:
    """Recompute RICE and ROI from the item's factors."""
    return replace(
        item,
        rice=rice(item.reach.value, item.impact.value, item.confidence.value, item.effort.value),
        roi=roi(
            item.business_impact.value,
            item.user_impact.value,
            item.sustainability.value,
            item.effort.value,
            item.dependencies.value,
        ),
    )


def rank(items: list[ScoredItem], by: RankBy) -> tuple[ScoredItem, ...]:
    """Best first by ``by`` (ties: the other score, then id); unscoreable items last."""

    def key(i: ScoredItem) -> tuple:
        main, other = (i.rice, i.roi) if by == "rice" else (i.roi, i.rice)
        return (main is None, -(main or 0.0), -(other or 0.0), i.item_id)

    return tuple(replace(i, rank=n) for n, i in enumerate(sorted(items, key=key), start=1))


@dataclass(frozen=True)
class RankMove:
    item_id: str
    old_rank: int
    new_rank: int


@dataclass(frozen=True)
class WhatIf:
    """How the ranking moves if one item's factors were different (nothing is written)."""

    item_id: str
    changes: dict[str, float]
    before: ScoredItem
    after: ScoredItem
    moves: tuple[RankMove, ...]  # every item whose rank changed
    ranking: BacklogRanking

    @property
    def old_rank(self) -> int:
        return self.before.rank

    @property
    def new_rank(self) -> int:
        return self.after.rank

    def to_dict(self) -> dict[str, object]:
        return {
            "item_id": self.item_id,
            "changes": self.changes,
            "old_rank": self.old_rank,
            "new_rank": self.new_rank,
            "old_score": {"rice": self.before.rice, "roi": self.before.roi},
            "new_score": {"rice": self.after.rice, "roi": self.after.roi},
            "moves": [asdict(m) for m in self.moves],
            "ranking": self.ranking.to_dict(),
        }


def what_if(
    ranking: BacklogRanking,
    item_id: str,
    *,
    reach: float | None = None,
    impact: float | None = None,
    confidence: float | None = None,
    effort: float | None = None,
) -> WhatIf:
    """Re-rank with the named factors of ``item_id`` replaced. Pure: nothing is written.

    A user impact that was derived from the RICE impact follows a new impact.
    """
    before = ranking.get(item_id)
    changes = {
        k: v
        for k, v in (
            ("reach", reach),
            ("impact", impact),
            ("confidence", confidence),
            ("effort", effort),
        )
        if v is not None
    }
    values = {
        "item_id": item_id,
        "effort_days": effort,
        "reach": reach,
        "impact": impact,
        "confidence": confidence,
    }
    problems = validate_item(values, f"what-if {item_id}")[1]
    if problems:
        raise ValidationError(problems, "the what-if values are not valid")

    def tried(value: float | None, current: ScoreField) -> ScoreField:
        return current if value is None else given(value, "what-if")

    new = replace(
        before,
        reach=tried(reach, before.reach),
        impact=tried(impact, before.impact),
        confidence=tried(confidence, before.confidence),
        effort=tried(effort, before.effort),
    )
    if "impact" in changes and before.user_impact.estimated:
        new = replace(new, user_impact=user_from_impact(new.impact))
    items = [rescore(new) if i.item_id == item_id else i for i in ranking.items]
    reranked = rank(items, ranking.by)
    old = {i.item_id: i.rank for i in ranking.items}
    moves = tuple(
        RankMove(i.item_id, old[i.item_id], i.rank) for i in reranked if old[i.item_id] != i.rank
    )
    after = next(i for i in reranked if i.item_id == item_id)
    return WhatIf(item_id, changes, before, after, moves, replace(ranking, items=reranked))
