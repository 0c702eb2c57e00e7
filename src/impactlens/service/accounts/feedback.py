"""Tickets and survey comments linked to a release, before and after it shipped.

A ticket belongs to a release when its ``feature`` is the release id, or when
one of its tags or its ``feature`` contains one of the release's terms as a
word; a survey comment when its text contains a term as a word. The terms
come from the release id with generic words removed (``export-timeout-fix``:
export, timeout); an id with no usable word falls back to the title's words
of four letters or more. A plural ``s`` is allowed on every term.

Counts are compared in two equal windows, [ship - W, ship) and [ship, ship + W);
when the data ends before ship + W both windows shrink to what is there.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from impactlens.errors import NotFoundError
from impactlens.service.accounts.voice import RateRatio, only_accounts, rate_ratio
from impactlens.warehouse import Warehouse

GENERIC = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "from",
        "of",
        "on",
        "in",
        "to",
        "no",
        "not",
        "new",
        "fix",
        "fixes",
        "fixed",
        "bug",
        "bugs",
        "release",
        "feature",
        "update",
        "updates",
        "improve",
        "improved",
        "improvement",
        "better",
        "faster",
        "simpler",
        "clearer",
        "redesign",
        "refresh",
        "v1",
        "v2",
        "v3",
        "v4",
        "beta",
        "alpha",
        "page",
        "flow",
        "longer",
        "more",
        "less",
    ]
)
MIN_WINDOW_DAYS = 7


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def release_terms(release_id: str, title: str | None = None) -> tuple[str, ...]:
    """The words a ticket or comment about this release would use.

    >>> release_terms("export-timeout-fix", "Exports no longer time out")
    ('export', 'timeout')
    """

    def words(text: str, min_len: int) -> list[str]:
        out = []
        for w in re.split(r"[^a-z0-9]+", text.lower()):
            w = _singular(w)
            if len(w) >= min_len and w not in GENERIC and not w.isdigit() and w not in out:
                out.append(w)
        return out

    terms = words(release_id, 3)
    if not terms and title:
        terms = words(title, 4)
    return tuple(terms)


def _pattern(terms: tuple[str, ...]) -> str:
    return r"\b(" + "|".join(re.escape(t) for t in terms) + r")s?\b"


def ticket_match(tickets: ir.Table, release_id: str, terms: tuple[str, ...]) -> ir.BooleanValue:
    """Whether a ticket is about the release (see the module doc)."""
    match = tickets.feature == release_id
    if terms:
        pattern = _pattern(terms)
        match = match | tickets.tags.lower().re_search(pattern).fill_null(False)
        match = match | tickets.feature.lower().re_search(pattern).fill_null(False)
    return match.fill_null(False)


def comment_match(surveys: ir.Table, terms: tuple[str, ...]) -> ir.BooleanValue:
    if not terms:
        return ibis.literal(False)
    return surveys.comment.lower().re_search(_pattern(terms)).fill_null(False)


@dataclass(frozen=True)
class WindowCounts:
    matched_tickets: int
    all_tickets: int
    matched_comments: int
    all_comments: int


@dataclass(frozen=True)
class LinkedFeedback:
    """Feedback about one release in equal windows before and after it shipped."""

    release_id: str
    terms: tuple[str, ...]
    shipped_at: datetime
    window_days: int
    truncated: bool  # the data ends before shipped_at + the requested window
    before: WindowCounts
    after: WindowCounts
    matched_tickets: RateRatio
    all_tickets: RateRatio
    examples: tuple[dict, ...]  # matched tickets and comments after shipping, newest first
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def release_row(warehouse: Warehouse, release_id: str) -> dict:
    r = warehouse.table("releases")
    rows = r.filter(r.release_id == release_id).to_pyarrow().to_pylist()
    if not rows:
        raise NotFoundError(
            f"no release {release_id!r} in the warehouse; see `impactlens releases`"
        )
    return rows[0]


def data_end(warehouse: Warehouse) -> datetime | None:
    ends = [
        warehouse.table(t)[c].max().to_pyarrow().as_py()
        for t, c in (
            ("events", "timestamp"),
            ("tickets", "created_at"),
            ("surveys", "responded_at"),
        )
    ]
    ends = [e for e in ends if e is not None]
    return max(ends) if ends else None


def release_feedback(
    warehouse: Warehouse,
    release_id: str,
    *,
    window_days: int = 28,
    accounts: list[str] | None = None,
    examples: int = 5,
) -> LinkedFeedback:
    """Tickets and comments about a release before vs after it shipped (optionally some accounts)."""
    release = release_row(warehouse, release_id)
    terms = release_terms(release_id, release.get("title"))
    ship: datetime = release["shipped_at"]
    end = data_end(warehouse) or ship
    days = min(window_days, max(0, (end - ship).days))
    truncated = days < window_days
    lo, hi = ship - timedelta(days=days), ship + timedelta(days=days)
    t = only_accounts(warehouse.table("tickets"), accounts)
    t = t.filter(t.created_at >= ibis.literal(lo), t.created_at < ibis.literal(hi))
    t = t.mutate(after=t.created_at >= ibis.literal(ship), hit=ticket_match(t, release_id, terms))
    s = only_accounts(warehouse.table("surveys"), accounts)
    s = s.filter(s.responded_at >= ibis.literal(lo), s.responded_at < ibis.literal(hi))
    s = s.filter(s.comment.notnull() & (s.comment.strip() != ""))
    s = s.mutate(after=s.responded_at >= ibis.literal(ship), hit=comment_match(s, terms))
    tc = {
        r["after"]: r
        for r in t.group_by("after")
        .agg(n=t.count(), hits=t.hit.cast("int64").sum())
        .to_pyarrow()
        .to_pylist()
    }
    sc = {
        r["after"]: r
        for r in s.group_by("after")
        .agg(n=s.count(), hits=s.hit.cast("int64").sum())
        .to_pyarrow()
        .to_pylist()
    }

    def counts(after: bool) -> WindowCounts:
        tr, sr = tc.get(after, {}), sc.get(after, {})
        return WindowCounts(
            int(tr.get("hits") or 0),
            int(tr.get("n") or 0),
            int(sr.get("hits") or 0),
            int(sr.get("n") or 0),
        )

    before, after = counts(False), counts(True)
    shown = _examples(t, s, examples)
    error = None if days >= MIN_WINDOW_DAYS else f"only {days} day(s) of data after the release"
    return LinkedFeedback(
        release_id,
        terms,
        ship,
        days,
        truncated,
        before,
        after,
        rate_ratio(before.matched_tickets, after.matched_tickets),
        rate_ratio(before.all_tickets, after.all_tickets),
        shown,
        error,
    )


def _examples(tickets: ir.Table, surveys: ir.Table, limit: int) -> tuple[dict, ...]:
    if limit <= 0:
        return ()
    hits = tickets.filter(tickets.hit & tickets.after)
    tk = hits.select(
        kind=ibis.literal("ticket"),
        id=hits.ticket_id,
        at=hits.created_at,
        account_id=hits.account_id,
        text=hits.tags,
    )
    sv_hits = surveys.filter(surveys.hit & surveys.after)
    sv = sv_hits.select(
        kind=ibis.literal("comment"),
        id=sv_hits.response_id,
        at=sv_hits.responded_at,
        account_id=sv_hits.account_id,
        text=sv_hits.comment,
    )
    rows = tk.union(sv).order_by([ibis.desc("at"), "id"]).limit(limit).to_pyarrow().to_pylist()
    return tuple(rows)
