"""Evidence for backlog scores the user left out: reach from the data, impact from measured work.

- **reach**: the accounts (users, in a workspace without accounts) that used the
  linked feature or asked for it, in the window: events whose
  ``properties.flags.<flag>`` is true or whose ``properties.feature`` is the
  feature; tickets whose ``feature`` is it, or whose tags/attributes text
  names it; survey comments that name it. "Names it" = contains the feature id
  (or the id with ``-``/``_`` as spaces), one of the item's ``terms``, or at
  least two of the title words (the only one, for a one-word title).
  Weighted by ARR: sum of the reaching accounts' ARR / mean ARR of paying accounts.
- **impact** (pure): the median oriented effect of comparable measured releases
  (same feature area, else same team) on the RICE scale, see ``IMPACT_SCALE``;
- **confidence** (pure): how much comparable evidence there is, see ``confidence_from``.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from impactlens.service.portfolio import MeasuredRelease, pct
from impactlens.warehouse import Warehouse

# relative effect (oriented) lower bound -> RICE impact; below the last: 0.25 (minimal)
IMPACT_SCALE = (
    (0.15, 3.0, "massive"),
    (0.07, 2.0, "high"),
    (0.03, 1.0, "medium"),
    (0.01, 0.5, "low"),
)
MINIMAL = 0.25
_STOP = frozenset({"the", "and", "for", "with", "from", "into", "new", "better", "faster", "more"})


def impact_from_effect(effect: float) -> tuple[float, str]:
    """Map a relative effect (0.05 = +5%) onto the RICE impact scale."""
    for bound, impact, label in IMPACT_SCALE:
        if effect >= bound:
            return impact, label
    return MINIMAL, "minimal"


def comparable(
    feature: str | None, team: str | None, measured: list[MeasuredRelease]
) -> tuple[list[MeasuredRelease], str]:
    """Measured releases like this item: same feature area first, else same team."""
    with_effect = [m for m in measured if m.has_effect]
    area = {feature} | {m.feature for m in measured if feature and m.release_id == feature}
    area.discard(None)
    same = [m for m in with_effect if m.release_id in area or m.feature in area]
    if same:
        return same, f"feature {', '.join(sorted(a for a in area if a))}"
    if team:
        return [m for m in with_effect if m.team == team], f"team {team}"
    return [], "no team"


def impact_from(comparables: list[MeasuredRelease], basis: str) -> tuple[float, str] | None:
    """Median oriented effect of the comparables on the RICE scale, with its explanation."""
    effects = [m.oriented()[0] for m in comparables]
    effects = [e for e in effects if e is not None]
    if not effects:
        return None
    median = statistics.median(effects)
    impact, label = impact_from_effect(median)
    listed = ", ".join(f"{m.release_id} {pct(m.oriented()[0])}" for m in comparables[:5])
    more = f" and {len(comparables) - 5} more" if len(comparables) > 5 else ""
    return impact, (
        f"median effect {pct(median)} of {len(effects)} measured release(s) of {basis} "
        f"({listed}{more}) -> {label}"
    )


def confidence_from(comparables: list[MeasuredRelease], basis: str) -> tuple[float, str]:
    """1.0 with >= 3 comparables, at least half of whose intervals exclude zero;
    0.8 with >= 2 comparables or one interval excluding zero; else 0.5."""
    n = len(comparables)
    k = sum(
        1
        for m in comparables
        if m.ci_low is not None and m.ci_high is not None and (m.ci_low > 0 or m.ci_high < 0)
    )
    value = 1.0 if n >= 3 and 2 * k >= n else 0.8 if n >= 2 or k >= 1 else 0.5
    what = f"{n} measured release(s) of {basis}, {k} with an interval excluding zero"
    return value, what if n else f"no comparable measured release ({basis})"


def title_words(title: str) -> list[str]:
    words = re.split(r"[^a-z0-9]+", title.lower())
    return sorted({w for w in words if len(w) >= 3 and w not in _STOP and not w.isdigit()})


@dataclass(frozen=True)
class ReachEvidence:
    """Who the item reaches, as found in the data."""

    units: int  # distinct accounts (or users)
    unit: str  # "accounts" | "users"
    by_source: dict[str, int]  # usage / tickets / comments -> distinct units
    arr: float | None  # summed ARR of the reaching accounts
    arr_share: float | None  # of total ARR
    unit_share: float | None  # of all accounts (users)
    weighted: float | None  # arr / mean ARR: ARR-weighted accounts


def data_window(warehouse: Warehouse, days: int) -> tuple[datetime, datetime] | None:
    """The ``days`` up to the latest event (or ticket, or survey answer)."""
    for table, column in (
        ("events", "timestamp"),
        ("tickets", "created_at"),
        ("surveys", "responded_at"),
    ):
        t = warehouse.table(table)
        last = t[column].max().to_pyarrow().as_py()
        if last is not None:
            return last - timedelta(days=days), last
    return None


def _names(text: ir.StringValue, phrases: list[str], words: list[str]) -> ir.BooleanValue:
    low = text.lower()
    hit = ibis.literal(False)
    for p in phrases:
        hit = hit | low.contains(p)
    if words:
        need = min(2, len(words))
        hit = hit | (sum(low.contains(w).cast("int32") for w in words) >= need)
    return hit.fill_null(False)


def reach_hits(
    warehouse: Warehouse,
    window: tuple[datetime, datetime],
    *,
    feature: str | None,
    flags: list[str],
    phrases: list[str],
    words: list[str],
) -> ir.Table:
    """Rows (source, account_id, user_id) of usage and requests that point at the item."""
    start, end = window
    parts = []
    if feature or flags:
        ev = warehouse.table("events")
        ev = ev.filter((ev.timestamp >= start) & (ev.timestamp <= end))
        props = ev.properties.cast("json")
        used = ibis.literal(False)
        for flag in flags:
            used = used | (props["flags"][flag].cast("string") == "true")
        if feature:
            used = used | (props["feature"].str == feature)
        parts.append(
            ev.filter(used.fill_null(False)).select(
                "account_id", "user_id", source=ibis.literal("usage")
            )
        )
    tk = warehouse.table("tickets")
    tk = tk.filter((tk.created_at >= start) & (tk.created_at <= end))
    asked = _names(tk.tags.fill_null("") + " " + tk.attributes.fill_null(""), phrases, words)
    if feature:
        asked = asked | (tk.feature == feature).fill_null(False)
    parts.append(tk.filter(asked).select("account_id", "user_id", source=ibis.literal("tickets")))
    sv = warehouse.table("surveys")
    sv = sv.filter((sv.responded_at >= start) & (sv.responded_at <= end) & sv.comment.notnull())
    parts.append(
        sv.filter(_names(sv.comment, phrases, words)).select(
            "account_id", "user_id", source=ibis.literal("comments")
        )
    )
    return ibis.union(*parts)


def arr_by_account(warehouse: Warehouse) -> ir.Table:
    """ARR = 12 x MRR of each account in the latest revenue month (absent accounts: none)."""
    rev = warehouse.table("revenue")
    latest = rev.period_start.max()
    month = rev.filter(rev.period_start == latest)
    return month.group_by("account_id").agg(arr=(month.mrr * 12).sum())


@dataclass(frozen=True)
class Population:
    """Who reach is counted among: the unit, how many there are, and their ARR."""

    unit: str  # "accounts" | "users"
    total_units: int
    arr: dict[str, float]  # paying account -> ARR

    @property
    def total_arr(self) -> float:
        return sum(self.arr.values())

    @property
    def mean_arr(self) -> float | None:
        return self.total_arr / len(self.arr) if self.arr else None


def population(warehouse: Warehouse) -> Population:
    """Accounts (with their ARR) when the workspace has accounts, else users."""
    accounts = warehouse.count("accounts")
    if not accounts:
        return Population("users", warehouse.count("users"), {})
    arrs = arr_by_account(warehouse)
    rows = arrs.filter(arrs.arr > 0).to_pyarrow().to_pylist()
    return Population("accounts", accounts, {r["account_id"]: float(r["arr"]) for r in rows})


def reach_evidence(hits: ir.Table, pop: Population) -> ReachEvidence:
    """Count the distinct units in ``hits`` per source and overall, with their ARR.

    One query returns the distinct (source, unit) pairs; a reach set is at most
    every account, so it is counted in Python.
    """
    key = "account_id" if pop.unit == "accounts" else "user_id"
    hits = hits.filter(hits[key].notnull())
    pairs = hits.select("source", unit=hits[key]).distinct().to_pyarrow().to_pylist()
    reached = {p["unit"] for p in pairs}
    by_source: dict[str, int] = {}
    for p in pairs:
        by_source[p["source"]] = by_source.get(p["source"], 0) + 1
    arr = arr_share = weighted = None
    if pop.arr:
        arr = sum(pop.arr.get(a, 0.0) for a in reached)
        arr_share, weighted = arr / pop.total_arr, arr / (pop.mean_arr or 1.0)
    return ReachEvidence(
        units=len(reached),
        unit=pop.unit,
        by_source=by_source,
        arr=arr,
        arr_share=arr_share,
        unit_share=len(reached) / pop.total_units if pop.total_units else None,
        weighted=weighted,
    )
