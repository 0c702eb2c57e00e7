"""Evidence for backlog scores the user left out: reach from the data, impact from measured work.

- **reach**: the users (or accounts) that used the linked feature or asked for it
  in the window. Usage (items with a feature): events whose
  ``properties.flags.<flag>`` is true, whose ``properties.feature`` is the
  feature, and whose name is one of the item's ``reach_event`` names (or, when
  none is given, contains a word of the feature id). Requests: tickets whose
  ``feature`` is it or whose tags/attributes text names it; survey comments that
  name it. "Names it" = contains the feature id (or the id with ``-``/``_`` as
  spaces), one of the item's ``terms``, or at least two of the title words (the
  only one, for a one-word title). Weighted by ARR: sum of the reaching
  accounts' ARR / mean ARR of paying accounts.
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
    effects = [e for e in (m.oriented()[0] for m in comparables) if e is not None]
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


def feature_words(feature: str) -> list[str]:
    """Words of a feature id that name its events: "export-timeout-fix" -> export, timeout."""
    words = set()
    for w in re.split(r"[^a-z0-9]+", feature.lower()):
        if len(w) >= 4 and w not in _STOP and not w.isdigit():
            words.add(w)
            if w.endswith("s") and len(w) > 4:
                words.add(w[:-1])  # "templates" -> "template"
    return sorted(words)


@dataclass(frozen=True)
class ReachEvidence:
    """Who the item reaches, as found in the data."""

    users: int  # distinct users
    accounts: int  # distinct accounts
    users_by_source: dict[str, int]  # usage / tickets / comments -> distinct users
    accounts_by_source: dict[str, int]
    arr: float | None  # summed ARR of the reaching accounts
    arr_share: float | None  # of total ARR
    account_share: float | None  # of all accounts
    user_share: float | None  # of all users
    weighted: float | None  # arr / mean ARR: ARR-weighted accounts


def data_window(
    warehouse: Warehouse, days: int, as_of: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """[end - days, end): ``end`` is ``as_of``, else the end of the day of the latest
    event (or ticket, or survey answer)."""
    if as_of is not None:
        return as_of - timedelta(days=days), as_of
    for table, column in (
        ("events", "timestamp"),
        ("tickets", "created_at"),
        ("surveys", "responded_at"),
    ):
        t = warehouse.table(table)
        last = t[column].max().to_pyarrow().as_py()
        if last is not None:
            end = datetime.combine(last.date(), datetime.min.time()) + timedelta(days=1)
            return end - timedelta(days=days), end
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


@dataclass(frozen=True)
class ItemLinks:
    """How an item is recognised in the data (see the module docstring)."""

    feature: str | None
    flags: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # exact event names (the item's ``reach_event``)
    event_words: tuple[str, ...] = ()  # else: event names containing one of these
    phrases: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def reach_hits(
    warehouse: Warehouse, window: tuple[datetime, datetime], links: ItemLinks
) -> ir.Table:
    """Rows (source, user_id, account_id) of usage and requests that point at the item."""
    start, end = window
    parts = []
    if links.feature or links.flags or links.events:
        ev = warehouse.table("events")
        ev = ev.filter((ev.timestamp >= start) & (ev.timestamp < end))
        props = ev.properties.cast("json")
        used = ibis.literal(False)
        for flag in links.flags:
            used = used | (props["flags"][flag].cast("string") == "true")
        if links.feature:
            used = used | (props["feature"].str == links.feature)
        if links.events:
            used = used | ev.event.isin(links.events)
        for w in links.event_words:
            used = used | ev.event.lower().contains(w)
        parts.append(
            ev.filter(used.fill_null(False)).select(
                "user_id", "account_id", source=ibis.literal("usage")
            )
        )
    tk = warehouse.table("tickets")
    tk = tk.filter((tk.created_at >= start) & (tk.created_at < end))
    text = tk.tags.fill_null("") + " " + tk.attributes.fill_null("")
    asked = _names(text, list(links.phrases), list(links.words))
    if links.feature:
        asked = asked | (tk.feature == links.feature).fill_null(False)
    parts.append(tk.filter(asked).select("user_id", "account_id", source=ibis.literal("tickets")))
    sv = warehouse.table("surveys")
    sv = sv.filter((sv.responded_at >= start) & (sv.responded_at < end) & sv.comment.notnull())
    parts.append(
        sv.filter(_names(sv.comment, list(links.phrases), list(links.words))).select(
            "user_id", "account_id", source=ibis.literal("comments")
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
    """Everyone reach is counted among: how many users and accounts, and the accounts' ARR."""

    users: int
    accounts: int
    arr: dict[str, float]  # paying account -> ARR

    @property
    def total_arr(self) -> float:
        return sum(self.arr.values())

    @property
    def mean_arr(self) -> float | None:
        return self.total_arr / len(self.arr) if self.arr else None


def population(warehouse: Warehouse) -> Population:
    """How many users and accounts the workspace knows, and each paying account's ARR."""
    arrs = arr_by_account(warehouse)
    rows = arrs.filter(arrs.arr > 0).to_pyarrow().to_pylist()
    return Population(
        users=warehouse.count("users"),
        accounts=warehouse.count("accounts"),
        arr={r["account_id"]: float(r["arr"]) for r in rows},
    )


def reach_evidence(hits: ir.Table, pop: Population) -> ReachEvidence:
    """Distinct users and accounts in ``hits``, per source and overall, with their ARR.

    One query returns the distinct (source, user, account) rows; a reach set is at
    most everyone, so it is counted in Python.
    """
    rows = hits.distinct().to_pyarrow().to_pylist()
    users = {r["user_id"] for r in rows if r["user_id"] is not None}
    accounts = {r["account_id"] for r in rows if r["account_id"] is not None}
    by_user: dict[str, set] = {}
    by_account: dict[str, set] = {}
    for r in rows:
        if r["user_id"] is not None:
            by_user.setdefault(r["source"], set()).add(r["user_id"])
        if r["account_id"] is not None:
            by_account.setdefault(r["source"], set()).add(r["account_id"])
    arr = arr_share = weighted = None
    if pop.arr:
        arr = sum(pop.arr.get(a, 0.0) for a in accounts)
        arr_share, weighted = arr / pop.total_arr, arr / (pop.mean_arr or 1.0)
    return ReachEvidence(
        users=len(users),
        accounts=len(accounts),
        users_by_source={k: len(v) for k, v in by_user.items()},
        accounts_by_source={k: len(v) for k, v in by_account.items()},
        arr=arr,
        arr_share=arr_share,
        account_share=len(accounts) / pop.accounts if pop.accounts else None,
        user_share=len(users) / pop.users if pop.users else None,
        weighted=weighted,
    )
