"""The ledger before shipping: recording releases, confounding, metric suggestions."""

from __future__ import annotations

from datetime import datetime

import pytest

from impactlens.domain import Audience, Hypothesis, Release
from impactlens.errors import ValidationError
from impactlens.service.catalog import get_release, list_releases
from impactlens.service.ledger import (
    confounded_groups,
    feature_terms,
    record_release,
    suggest_metrics,
)


def _release(rid: str, day: int, metric: str | None, flag: str | None = None) -> Release:
    hyp = Hypothesis(metric, "increase", 0.05) if metric else None
    return Release(
        rid, rid, "feature", datetime(2026, 3, day), hypothesis=hyp, audience=Audience(flag=flag)
    )


def test_record_release_round_trips_and_re_recording_replaces(warehouse) -> None:
    record_release(
        warehouse, release_id="search-v2", kind="feature", shipped_at=datetime(2026, 3, 2, 10),
        metric="search_click_through", expected="increase", min_effect=0.05,
        guardrails=["error_rate"], flag="search_v2", team="discovery",
    )  # fmt: skip
    got = get_release(warehouse, "search-v2")
    assert got.hypothesis == Hypothesis("search_click_through", "increase", 0.05, ("error_rate",))
    assert got.audience.flag == "search_v2" and got.team == "discovery"
    record_release(
        warehouse, release_id="search-v2", kind="feature", shipped_at=datetime(2026, 3, 3)
    )
    assert [r.shipped_at.day for r in list_releases(warehouse)] == [3]
    assert get_release(warehouse, "search-v2").hypothesis is None


def test_record_release_reports_every_problem_at_once(warehouse) -> None:
    with pytest.raises(ValidationError) as err:
        record_release(
            warehouse, release_id="x", kind="wibble", metric="nope", expected="sideways",
            min_effect=-1, known_metrics=["error_rate"],
        )  # fmt: skip
    fields = sorted(p.field for p in err.value.problems)
    assert fields == ["hypothesis", "hypothesis.expected", "hypothesis.min_effect", "kind"]
    assert warehouse.count("releases") == 0


def test_releases_days_apart_on_one_metric_are_confounded() -> None:
    releases = [
        _release("templates", 10, "reports_per_active_user"),
        _release("builder-speedup", 12, "reports_per_active_user"),
        _release("later", 25, "reports_per_active_user"),
        _release("other-metric", 11, "error_rate"),
        _release("no-hypothesis", 11, None),
    ]
    groups = confounded_groups(releases)
    assert groups == {"templates": ("builder-speedup",), "builder-speedup": ("templates",)}


def test_disjoint_flag_audiences_are_not_confounded() -> None:
    a = _release("a", 10, "m", flag="flag_a")
    b = _release("b", 11, "m", flag="flag_b")
    assert confounded_groups([a, b]) == {}


def test_suggestions_come_from_events_the_feature_touches() -> None:
    release = Release(
        "export-timeout-fix", "Exports no longer time out", "fix", datetime(2026, 3, 1)
    )
    assert {"export", "exports", "timeout", "time", "out"} & feature_terms(release) >= {
        "export",
        "timeout",
    }
    metric_events = {
        "export_failure_rate": ["Export Failed", "Report Exported"],
        "search_click_through": ["Search Performed", "Search Result Clicked"],
        "time_to_export": ["Report Created", "Report Exported"],
    }
    names = [s.metric for s in suggest_metrics(release, metric_events)]
    assert names[0] == "export_failure_rate"
    assert "search_click_through" not in names
