"""Who a release with an audience is compared with, and how many it reached.

A small synthetic company: 40 accounts of two users each, one user of each
seen with ``flags.new_search = true`` after the ship day and the other with
it ``false`` (a 50% rollout); the flag lifts search click-through by 20% and
leaves errors per session alone. Alongside them, 400 anonymous visitors who
only show up after the ship day and never see an error: a group with a
metric mix of its own whose share of the sessions jumps at the ship day. The
difference-in-differences must compare the rollout with its own control arm
(and an account audience with the other accounts' users), not with them;
compared with "every other active actor" the error-rate guardrail reads a
large, significant increase that nobody caused.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from impactlens.config import init_workspace
from impactlens.metrics import load_metrics
from impactlens.service import release_data as data
from impactlens.service.releases import PRE_DAYS, review_release
from impactlens.stats.did import estimate_did

SHIP = datetime(2026, 3, 2)
ACCOUNTS = tuple(f"acc-{i:02d}" for i in range(40))
GONE = ACCOUNTS[35:]  # their users stop 10 days before the ship day
EVERYONE = "fewer-errors"  # a release shipped to everyone: no audience
AUDIENCE = ACCOUNTS[:20]
# Releases whose audience is a filter: one the accounts' plan answers (the pilot's
# 20 accounts are the enterprise ones), one that is not a simple filter.
FILTERED = {
    "pilot-by-plan": "plan = 'enterprise'",
    "big-accounts": "seats > 10",
}  # the account release's audience: more than a literal IN list holds
ANONYMOUS = 400
SESSIONS = 6  # per user and day
METRICS = """
metrics:
  - {name: sessions, kind: count, event: Session Started, higher_is_better: true}
  - {name: searches, kind: count, event: Search Performed, higher_is_better: true}
  - name: error_rate
    kind: ratio
    numerator: {event: Error Shown}
    denominator: sessions
    actor: user
    higher_is_better: false
  - name: search_click_through
    kind: ratio
    numerator: {event: Search Result Clicked}
    denominator: searches
    actor: user
    higher_is_better: true
  - name: account_error_rate
    kind: ratio
    numerator: {event: Error Shown}
    denominator: {event: Session Started}
    actor: account
    higher_is_better: false
"""


def _events(seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []

    def add(event: str, ts: datetime, user: str | None, anon: str | None, account: str | None,
            props: dict) -> None:  # fmt: skip
        rows.append({
            "message_id": f"m{len(rows)}", "timestamp": ts, "type": "track", "event": event,
            "user_id": user, "anonymous_id": anon, "actor_id": user or anon,
            "account_id": account, "properties": json.dumps(props),
        })  # fmt: skip

    for account in ACCOUNTS:
        for arm, flag in enumerate((True, False)):
            user = f"u-{account[4:]}-{arm}"
            last = SHIP - timedelta(days=10) if account in GONE else SHIP + timedelta(days=28)
            day = SHIP - timedelta(days=PRE_DAYS)
            while day < last:
                post = day >= SHIP
                props = {"flags": {"new_search": flag}} if post else {}
                click = 0.36 if post and flag else 0.30
                for k in range(SESSIONS):
                    ts = day + timedelta(hours=8 + 2 * k, minutes=rng.randrange(60))
                    add("Session Started", ts, user, None, account, props)
                    if rng.random() < 0.10:
                        add("Error Shown", ts + timedelta(minutes=5), user, None, account, props)
                    add("Search Performed", ts + timedelta(minutes=1), user, None, account, props)
                    if rng.random() < click:
                        add("Search Result Clicked", ts + timedelta(minutes=2), user, None,
                            account, props)  # fmt: skip
                day += timedelta(days=1)
    for i in range(ANONYMOUS):
        visit = SHIP + timedelta(days=rng.randrange(28), hours=rng.randrange(24))
        for k in range(5):
            add("Session Started", visit + timedelta(minutes=10 * k), None, f"anon-{i}", None, {})
    return rows


def _fill(wh, events: list[dict], held: tuple[str, ...] = ()) -> None:
    wh.write("events", pa.Table.from_pylist(events))
    plans = ["enterprise" if a in AUDIENCE else "pro" for a in ACCOUNTS]
    accounts = {"account_id": list(ACCOUNTS), "name": list(ACCOUNTS), "plan": plans}
    if held:
        accounts["attributes"] = [json.dumps({"holdout": a in held}) for a in ACCOUNTS]
    wh.write("accounts", pa.table(accounts))
    users = sorted({e["user_id"] for e in events if e["user_id"]})
    wh.write("users", pa.table({"user_id": users, "account_id": [f"acc-{u[2:4]}" for u in users]}))
    revenue = [
        {"account_id": a, "period_start": month, "mrr": 100.0 * (i + 1) + (50.0 if late else 0.0)}
        for i, a in enumerate(ACCOUNTS)
        for late, month in enumerate((date(2026, 2, 1), date(2026, 3, 1)))
        if not (late and a in GONE)
    ]
    wh.write("revenue", pa.Table.from_pylist(revenue))
    hypothesis = {
        "hypothesis_metric": "search_click_through", "hypothesis_expected": "increase",
        "hypothesis_min_effect": 0.05, "hypothesis_guardrails": json.dumps(["error_rate"]),
    }  # fmt: skip
    wh.write(
        "releases",
        pa.Table.from_pylist([
            {"release_id": "new-search", "title": "New search", "kind": "feature",
             "shipped_at": SHIP + timedelta(hours=8), "audience_flag": "new_search",
             "audience_accounts": None, "audience_filter": None, **hypothesis},
            {"release_id": "pilot", "title": "Pilot accounts", "kind": "feature",
             "shipped_at": SHIP + timedelta(hours=8), "audience_flag": None,
             "audience_accounts": json.dumps(list(AUDIENCE)), **hypothesis},
            *({"release_id": rid, "title": "By filter", "kind": "feature",
               "shipped_at": SHIP + timedelta(hours=8), "audience_flag": None,
               "audience_accounts": None, "audience_filter": text, **hypothesis}
              for rid, text in FILTERED.items()),
            {"release_id": EVERYONE, "title": "Fewer errors", "kind": "fix",
             "shipped_at": SHIP + timedelta(hours=8), "audience_flag": None,
             "audience_accounts": None, "hypothesis_metric": "error_rate",
             "hypothesis_expected": "decrease", "hypothesis_min_effect": 0.05,
             "hypothesis_guardrails": json.dumps(["account_error_rate"])},
        ]),
    )  # fmt: skip


def _company(tmp_path_factory, name: str, held: tuple[str, ...] = ()):
    """(workspace, read-only warehouse, events) of the company, ``held`` accounts held out."""
    workspace = init_workspace(tmp_path_factory.mktemp(name))
    workspace.metrics_path.write_text(METRICS)
    events = _events()
    wh = workspace.connect()
    try:
        _fill(wh, events, held)
    finally:
        wh.close()
    return workspace, workspace.connect(read_only=True), events


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workspace, wh, events = _company(tmp_path_factory, "audiences")
    yield workspace, wh, events
    wh.close()


def _brute_force_did(events: list[dict], windows: data.Windows, metric: tuple[str, str]) -> float:
    """Ratio-of-sums DiD of the two flag arms from the raw events (no metrics layer).

    Arms: the users seen with the flag true / false in the post window (none is
    seen with both); Σ numerator / Σ denominator of each arm before and after.
    """
    post = [e for e in events if windows.ship <= e["timestamp"] < windows.post_end]
    arms = {
        flag: {e["actor_id"] for e in post if f'"new_search": {flag}' in e["properties"]}
        for flag in ("true", "false")
    }
    assert not arms["true"] & arms["false"]

    def ratio(arm: set[str], lo: datetime, hi: datetime) -> float:
        rows = [e for e in events if e["actor_id"] in arm and lo <= e["timestamp"] < hi]
        return sum(e["event"] == metric[0] for e in rows) / sum(
            e["event"] == metric[1] for e in rows
        )

    before = {f: ratio(arm, windows.pre_start, windows.ship) for f, arm in arms.items()}
    after = {f: ratio(arm, windows.ship, windows.post_end) for f, arm in arms.items()}
    change_control = after["false"] - before["false"]
    did = after["true"] - before["true"] - change_control
    return did / (before["true"] + change_control)


def test_a_flag_release_is_compared_with_its_control_arm(world) -> None:
    workspace, wh, events = world
    got = review_release(wh, workspace, "new-search")
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    primary, guard = got.primary, got.guardrails[0]
    assert guard.metric == "error_rate"
    # 35 active accounts, one user in each arm; no anonymous visitor in either.
    for impact in (primary, guard):
        assert (impact.details["n_exposed"], impact.details["n_unexposed"]) == (35, 35)
    assert primary.relative == pytest.approx(
        _brute_force_did(events, windows, ("Search Result Clicked", "Search Performed")), rel=1e-9
    )
    assert guard.relative == pytest.approx(
        _brute_force_did(events, windows, ("Error Shown", "Session Started")), rel=1e-9
    )
    assert guard.lower <= 0 <= guard.upper, (guard.relative, guard.lower, guard.upper)
    assert got.verdict == "met", got.reason
    assert primary.lower > 0


def test_an_account_release_leaves_out_actors_without_an_account(world) -> None:
    workspace, wh, _ = world
    got = review_release(wh, workspace, "pilot")
    guard = got.guardrails[0]
    # 20 audience accounts × 2 users; the other 15 active accounts' users, no visitor.
    assert (guard.details["n_exposed"], guard.details["n_unexposed"]) == (40, 30)
    assert guard.details["exposed_accounts"] == 20
    assert guard.lower <= 0 <= guard.upper, (guard.relative, guard.lower, guard.upper)
    assert got.verdict != "harmful", got.reason


@pytest.mark.parametrize("audience", ["flag", "accounts"])
def test_every_other_active_actor_would_read_a_false_harm(world, audience) -> None:
    """The world is one where the old comparison group fails: with the anonymous
    visitors among the unexposed, the error rate's DiD is significantly positive."""
    workspace, wh, events = world
    catalog = load_metrics(workspace.metrics_path, wh)
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    if audience == "flag":
        exposed = data.flag_actors(wh, "new_search", windows.ship, windows.post_end)
    else:
        exposed = data.account_actors(wh, AUDIENCE, windows.pre_start, windows.post_end)
    pair = data.actor_panels(wh, catalog, "error_rate", windows, exposed=exposed, timezone="UTC")
    result = estimate_did(pair.exposed, pair.unexposed)
    visitors = {
        e["actor_id"]
        for e in events
        if e["user_id"] is None and windows.ship <= e["timestamp"] < windows.post_end
    }
    assert len(visitors) > 300
    assert result.n_unexposed == (35 if audience == "flag" else 30) + len(visitors)
    assert result.relative_lower > 0.05, (result.relative, result.relative_lower)


def _brute_reach(events, ship, end, accounts, exclude) -> tuple[int, int]:
    rows = [e for e in events if ship <= e["timestamp"] < end]
    if accounts is not None:
        rows = [e for e in rows if e["account_id"] in accounts]
    if exclude:
        rows = [e for e in rows if e["account_id"] is not None and e["account_id"] not in exclude]
    return (
        len({e["user_id"] for e in rows if e["user_id"] is not None}),
        len({e["account_id"] for e in rows if e["account_id"] is not None}),
    )


@pytest.mark.parametrize(
    ("accounts", "exclude"),
    [
        (None, ()),
        (None, ACCOUNTS[::2] + ("acc-unknown",)),  # 21 ids: a constant table
        (None, ACCOUNTS[:3]),  # a literal list
        (AUDIENCE + GONE, ()),
        (AUDIENCE + GONE, ACCOUNTS[10:28]),
        (ACCOUNTS[:3], ACCOUNTS[1:2]),
    ],
)
def test_reach_counts_what_a_brute_force_count_does(world, accounts, exclude) -> None:
    _, wh, events = world
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    users, n_accounts, arr = data.reach(wh, windows, accounts, exclude=exclude)
    expected_users, expected_accounts = _brute_reach(
        events, windows.ship, windows.post_end, accounts, exclude
    )
    assert (users, n_accounts) == (expected_users, expected_accounts)
    assert users > 0
    active = {e["account_id"] for e in events if windows.ship <= e["timestamp"] < windows.post_end}
    active &= set(accounts) if accounts is not None else set(ACCOUNTS)
    active -= set(exclude)
    # The latest month's MRR of each active account (March: 100 × (i + 1) + 50), × 12.
    assert arr == pytest.approx(12 * sum(100.0 * (ACCOUNTS.index(a) + 1) + 50.0 for a in active))


HELD = ACCOUNTS[20:35]  # active to the end, outside the pilot audience


@pytest.fixture(scope="module")
def holdout_world(tmp_path_factory):
    """The same company with fifteen accounts held out (``holdout: true``)."""
    workspace, wh, _ = _company(tmp_path_factory, "holdout", HELD)
    yield workspace, wh
    wh.close()


def test_the_holdout_is_compared_with_other_accounts_not_visitors(holdout_world) -> None:
    """Errors per session are 10% for every user before and after; the visitors who
    arrive after the ship day (no account, no errors) must not read as the releases
    having cut the error rate of everyone outside the holdout."""
    from impactlens.service.holdout import holdout_impact

    workspace, wh = holdout_world
    assert data.holdout_accounts(wh) == sorted(HELD)
    (impact,) = holdout_impact(wh, workspace, ["error_rate"])
    assert impact.error is None
    # 15 held accounts x 2 users; the other 20 accounts active to the end x 2 users.
    assert (impact.n_holdout, impact.n_rest) == (30, 40)
    assert impact.lower <= 0 <= impact.upper, (impact.relative, impact.lower, impact.upper)


def _brute_daily(events: list[dict], windows: data.Windows, counted) -> list[float | None]:
    """Errors per session per UTC day from the raw events of the actors ``counted`` keeps."""
    sums: dict[date, list[int]] = {}
    for e in events:
        if counted(e) and e["event"] in ("Error Shown", "Session Started"):
            day = sums.setdefault(e["timestamp"].date(), [0, 0])
            day[e["event"] == "Session Started"] += 1
    days = (windows.post_end - windows.pre_start).days
    out = []
    for i in range(days):
        errors, sessions = sums.get((windows.pre_start + timedelta(days=i)).date(), (0, 0))
        out.append(errors / sessions if sessions else None)
    return out


@pytest.mark.parametrize("held", [False, True])
def test_a_release_to_everyone_counts_visitors_only_without_a_holdout(
    world, holdout_world, held
) -> None:
    """Without a holdout the user metric's series counts the anonymous visitors (they
    saw the release) and the account metric's cannot (they have no account); with
    one, both series are the other accounts' actors, as the holdout readout's
    comparison is. The visitors arrive after the ship day and never see an error."""
    workspace, wh = holdout_world if held else world[:2]
    events = world[2]
    got = review_release(wh, workspace, EVERYONE)
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    primary, (guard,) = got.primary, got.guardrails
    assert primary.method.startswith("structural_time_series")

    def customer(e: dict) -> bool:
        return e["account_id"] is not None and e["account_id"] not in (HELD if held else ())

    user_series = _brute_daily(events, windows, customer if held else (lambda e: True))
    assert len(primary.chart.observed) == len(user_series) == windows.pre_days + windows.post_days
    assert primary.chart.observed == pytest.approx(user_series, rel=1e-12)
    assert guard.chart.observed == pytest.approx(_brute_daily(events, windows, customer), rel=1e-12)
    if held:
        # Nothing changed for the customers: the visitors' error-free sessions must not
        # read as the fix cutting errors.
        assert primary.lower <= 0 <= primary.upper, (primary.relative, primary.lower, primary.upper)


@pytest.mark.parametrize("held", [False, True])
def test_the_flag_chart_draws_the_arms_the_estimate_compares(world, holdout_world, held) -> None:
    """Each line is Σ clicks / Σ searches per UTC day of one arm (seen with the flag
    true in the post window; seen only false), outside the holdout, from raw events."""
    workspace, wh = holdout_world if held else world[:2]
    events = world[2]
    chart = review_release(wh, workspace, "new-search").primary.chart
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    post = [e for e in events if windows.ship <= e["timestamp"] < windows.post_end]
    on = {e["actor_id"] for e in post if '"new_search": true' in e["properties"]}
    off = {e["actor_id"] for e in post if '"new_search": false' in e["properties"]} - on
    outside = {e["actor_id"] for e in events if e["account_id"] not in (HELD if held else ())}
    days = [(windows.pre_start + timedelta(days=i)).date() for i in range(84)][
        : windows.pre_days + windows.post_days
    ]
    assert chart.days == tuple(d.isoformat() for d in days)
    assert chart.ship_index == windows.pre_days
    for arm, line in ((on & outside, chart.observed), (off & outside, chart.comparison)):
        assert len(arm) == (20 if held else 35)
        counts = {d: [0, 0] for d in days}
        for e in events:
            day = counts.get(e["timestamp"].date())
            if day is not None and e["actor_id"] in arm and e["event"].startswith("Search"):
                day[e["event"] == "Search Performed"] += 1
        assert line == pytest.approx([c / s for c, s in counts.values()], rel=1e-12)


def test_flag_arms_are_the_sets_the_estimate_uses(world) -> None:
    _, wh, _ = world
    windows = data.windows_for(SHIP, end=data.data_end(wh), pre_days=PRE_DAYS, max_post_days=28)
    exposed, unexposed = data.flag_arm_sets(wh, "new_search", windows.ship, windows.post_end)
    assert exposed == data.flag_actors(wh, "new_search", windows.ship, windows.post_end)
    assert (
        unexposed
        == data.flag_actors(wh, "new_search", windows.ship, windows.post_end, value="false")
        - exposed
    )
    assert len(exposed) == len(unexposed) == 35


def test_a_filter_audience_is_the_accounts_it_selects(world) -> None:
    workspace, wh, _ = world
    pilot, by_plan = (review_release(wh, workspace, r) for r in ("pilot", "pilot-by-plan"))
    assert by_plan.primary.method.startswith("difference-in-differences")
    for a, b in ((pilot.primary, by_plan.primary), (pilot.guardrails[0], by_plan.guardrails[0])):
        assert (b.relative, b.lower, b.upper) == (a.relative, a.lower, a.upper)
        assert b.details == a.details
    assert (by_plan.reach_users, by_plan.reach_accounts) == (
        pilot.reach_users,
        pilot.reach_accounts,
    )
    assert not any("filter" in n for n in by_plan.notes)


def test_a_filter_it_cannot_read_is_said_not_hidden(world) -> None:
    workspace, wh, _ = world
    got = review_release(wh, workspace, "big-accounts")
    assert got.primary.method.startswith("structural_time_series")
    assert any("'seats > 10' is not a simple filter" in n for n in got.notes), got.notes
