"""The impact ledger before shipping: record a release with its hypothesis, find gaps.

``record_release`` is what ``impactlens ship`` calls from a CI job after a
deploy; ``confounded_groups`` and ``suggest_metrics`` are the honest
bookkeeping around verdicts: releases that share a metric within a few days
are never credited one by one, and a release without a hypothesis gets
candidate metrics instead of silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from impactlens.domain import Audience, Hypothesis, Release
from impactlens.errors import ProblemList
from impactlens.warehouse import Warehouse

RELEASE_KINDS = ("release", "feature", "fix", "flag", "experiment")
CONFOUNDING_DAYS = 7


def record_release(
    warehouse: Warehouse,
    *,
    release_id: str,
    title: str | None = None,
    kind: str = "release",
    shipped_at: datetime | None = None,
    team: str | None = None,
    effort_days: float | None = None,
    metric: str | None = None,
    expected: str | None = None,
    min_effect: float | None = None,
    guardrails: Iterable[str] = (),
    flag: str | None = None,
    accounts: Iterable[str] = (),
    known_metrics: Iterable[str] | None = None,
) -> Release:
    """Validate and upsert one release (re-recording the same id replaces it).

    Every problem is reported at once, e.g. an unknown kind and a metric that
    metrics.yaml does not define.
    """
    problems = ProblemList()
    if not release_id or not release_id.strip():
        problems.add("a release needs an id", field="id")
    if kind not in RELEASE_KINDS:
        problems.add(f"unknown kind {kind!r}; use one of {', '.join(RELEASE_KINDS)}", field="kind")
    if metric is None and (expected or min_effect is not None):
        problems.add("--expected/--min-effect need --metric", field="hypothesis.metric")
    if metric is not None and expected not in ("increase", "decrease"):
        problems.add("expected must be increase or decrease", field="hypothesis.expected")
    if min_effect is not None and not min_effect >= 0:
        problems.add(
            "min_effect is a relative change and must be >= 0", field="hypothesis.min_effect"
        )
    guardrails = tuple(guardrails)
    if known_metrics is not None:
        known = set(known_metrics)
        for name in (metric, *guardrails):
            if name is not None and name not in known:
                problems.add(f"metric {name!r} is not defined in metrics.yaml", field="hypothesis")
    problems.raise_if_any(f"release {release_id!r} was not recorded")

    shipped = shipped_at or datetime.now(UTC).replace(tzinfo=None)
    if shipped.tzinfo is not None:
        shipped = shipped.astimezone(UTC).replace(tzinfo=None)
    hypothesis = (
        Hypothesis(metric, expected, min_effect, guardrails) if metric else None  # type: ignore[arg-type]
    )
    release = Release(
        release_id=release_id,
        title=title or release_id,
        kind=kind,
        shipped_at=shipped,
        team=team,
        effort_days=effort_days,
        hypothesis=hypothesis,
        audience=Audience(flag=flag, accounts=tuple(accounts)),
    )
    row = {
        "release_id": release.release_id,
        "title": release.title,
        "kind": release.kind,
        "shipped_at": release.shipped_at,
        "team": team,
        "effort_days": effort_days,
        "links": json.dumps([]),
        "hypothesis_metric": metric,
        "hypothesis_expected": expected if metric else None,
        "hypothesis_min_effect": min_effect,
        "hypothesis_guardrails": json.dumps(list(guardrails)),
        "audience_flag": flag,
        "audience_accounts": json.dumps(list(release.audience.accounts)),
        "audience_filter": None,
        "attributes": json.dumps({"recorded_by": "impactlens ship"}),
    }
    with warehouse.transaction():
        warehouse.write("releases", pa.Table.from_pylist([row]))
    return release


def confounded_groups(
    releases: Iterable[Release], *, days: int = CONFOUNDING_DAYS
) -> dict[str, tuple[str, ...]]:
    """For each release, the other releases on the same metric shipped within ``days`` of it.

    Two releases that move the same metric a few days apart cannot be told
    apart by a before/after comparison; the review says so instead of
    crediting either.
    """
    with_metric = [r for r in releases if r.hypothesis is not None]
    window = timedelta(days=days)
    out: dict[str, tuple[str, ...]] = {}
    for r in with_metric:
        assert r.hypothesis is not None
        others = tuple(
            o.release_id
            for o in with_metric
            if o.release_id != r.release_id
            and o.hypothesis is not None
            and o.hypothesis.metric == r.hypothesis.metric
            and abs(o.shipped_at - r.shipped_at) <= window
            and (r.audience.is_everyone or o.audience.is_everyone or r.audience == o.audience)
        )
        if others:
            out[r.release_id] = others
    return out


_STOP = {"v1", "v2", "v3", "the", "a", "an", "and", "or", "for", "to", "of", "on", "in", "new", "fix", "no", "now", "with", "faster", "better"}  # fmt: skip


def feature_terms(release: Release) -> set[str]:
    """Words that name what a release touches, from its id and title ("search-v2" -> {"search"})."""
    words = re.split(r"[^a-z0-9]+", f"{release.release_id} {release.title}".lower())
    terms = set()
    for w in words:
        if len(w) < 3 or w in _STOP or w.isdigit():
            continue
        terms.add(w)
        if w.endswith("s") and len(w) > 4:
            terms.add(w[:-1])  # "exports" -> "export"
    return terms


@dataclass(frozen=True)
class MetricSuggestion:
    """A candidate metric for a release that has no hypothesis, and why it fits."""

    metric: str
    reason: str


def suggest_metrics(
    release: Release, metric_events: Mapping[str, Iterable[str]], *, limit: int = 3
) -> list[MetricSuggestion]:
    """Metrics whose events share a word with the release's id or title.

    ``metric_events`` maps each metric name to the event names it reads.
    """
    terms = feature_terms(release)
    scored = []
    for metric, events in metric_events.items():
        hits = sorted({e for e in events if terms & set(re.split(r"[^a-z0-9]+", e.lower()))})
        name_hit = bool(terms & set(metric.lower().split("_")))
        if hits or name_hit:
            score = len(hits) + (1 if name_hit else 0)
            touched = ", ".join(hits) if hits else metric
            scored.append((score, metric, f"reads {touched}, which {release.release_id} touches"))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [MetricSuggestion(m, why) for _, m, why in scored[:limit]]
