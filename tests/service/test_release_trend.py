"""Which counterfactual trend a release shipped to everyone gets, by what its metric is.

Events per event (errors per session, clicks per search) hover around a level and
get the local level; events per actor (invites per active account, reports per
active user, tickets per active account) grow with the customers' teams and usage
the way a total does and get the local linear trend. On the large demo the local
level read the null invite-flow release's invites per active account as +3.7%
[+1.4%, +6.1%] (docs/release-impact.md); tests/stats/test_counterfactual_simulation.py
measures the false readings on a series of that shape.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import impactlens.demo
from impactlens.metrics import load_metrics
from impactlens.metrics.catalog import parse_metrics
from impactlens.service.releases import counts_per_actor, trend_for

DEMO_METRICS = Path(impactlens.demo.__file__).parent / "metrics.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_metrics(DEMO_METRICS)


@pytest.mark.parametrize(
    ("name", "per_actor"),
    [
        ("invites_per_account", True),  # User Invited / active_accounts
        ("reports_per_active_user", True),  # Report Created / active_users
        ("dashboards_per_user", True),
        ("tickets_per_account", True),  # tickets, stat per_active_account
        ("error_rate", False),  # Error Shown / sessions (a count metric)
        ("search_click_through", False),  # clicks / searches
        ("export_failure_rate", False),  # inline event counts on both sides
        ("sessions", False),  # a total: not a ratio at all
        ("activation_7d", False),  # a conversion
    ],
)
def test_ratios_over_a_count_of_actors_are_activity_per_actor(catalog, name, per_actor):
    assert counts_per_actor(catalog.get(name), catalog) is per_actor


def test_a_share_of_actors_and_inline_actor_parts():
    catalog = parse_metrics(
        """
metrics:
  - name: active_users
    kind: unique
    higher_is_better: true
  - name: searchers_share
    kind: ratio
    numerator: {event: Search Performed, aggregate: actors}
    denominator: active_users
    higher_is_better: true
  - name: invites_per_inviter
    kind: ratio
    numerator: {event: User Invited}
    denominator: {event: User Invited, aggregate: actors}
    higher_is_better: true
""",
        file="metrics.yaml",
    )
    # actors over actors is a share, a rate; events over inline distinct actors is not
    assert counts_per_actor(catalog.get("searchers_share"), catalog) is False
    assert counts_per_actor(catalog.get("invites_per_inviter"), catalog) is True


def test_the_trend_follows_from_the_kind():
    assert trend_for(True) == "local_level"
    assert trend_for(False) == "local_linear"
