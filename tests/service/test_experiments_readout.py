"""The readout's decisions: SRM and guardrails block a ship, losses abandon, the rest is
inconclusive with an MDE and days; corrections, methods, errors and JSON."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from test_experiments_world import METRICS, START, random_world

from impactlens.errors import NotFoundError, UserError, ValidationError
from impactlens.metrics import parse_metrics
from impactlens.service.experiments import analyze_experiment
from impactlens.stats.multiple import benjamini_hochberg, holm_bonferroni
from impactlens.stats.power import mde_relative, sample_size_relative
from impactlens.warehouse import Warehouse


@pytest.fixture(scope="module")
def winning() -> Warehouse:
    """A clear +40% on reports, a secondary and a guardrail that does not move."""
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    random_world(wh, n=1500, lift=0.4, error_lift=0.0, seed=2,
                 secondary=("reporters",), guardrails=("errors",))  # fmt: skip
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def read(winning):
    """Readouts of the winning world, each computed once per set of options."""
    cache: dict = {}

    def read(**options):
        key = tuple(sorted(options.items()))
        if key not in cache:
            cache[key] = analyze_experiment(winning, METRICS, "exp", **options)
        return cache[key]

    return read


def test_a_clear_win_with_quiet_guardrails_ships(read) -> None:
    readout = read()
    rec = readout.recommendation
    assert (rec.decision, rec.verdict) == ("ship", "win")
    assert rec.headline.startswith("Ship treat: Reports +")
    assert not readout.srm.mismatch and readout.window.status == "ended"
    roles = [(m.metric, m.role) for m in readout.metrics]
    assert roles == [("reports", "primary"), ("reporters", "secondary"), ("errors", "guardrail")]
    assert readout.metrics[2].comparisons[0].outcome != "worse"


def test_holm_and_bh_adjust_primary_and_secondary_but_not_guardrails(read) -> None:
    for correction, adjust in (
        ("holm", holm_bonferroni),
        ("benjamini_hochberg", benjamini_hochberg),
    ):
        readout = read(correction=correction, cuped=False)
        primary, secondary, guardrail = (m.comparisons[0] for m in readout.metrics)
        raw = [primary.p_value, secondary.p_value]
        assert [primary.adjusted_p_value, secondary.adjusted_p_value] == list(adjust(raw))
        assert guardrail.adjusted_p_value == guardrail.p_value


def test_sequential_intervals_are_wider_and_bayesian_reports_chance_to_win(read) -> None:
    fixed = read(correction="holm", cuped=False).primary.comparisons[0]
    seq = read(method="sequential", cuped=False)
    s = seq.primary.comparisons[0]
    assert s.method == "sequential_asymptotic_cs" and s.effect == pytest.approx(fixed.effect)
    assert s.ci_width > fixed.ci_width
    bayes = read(method="bayesian", cuped=False)
    b = bayes.primary.comparisons[0]
    assert b.p_value is None and b.chance_to_win > 0.99 and b.outcome == "better"
    assert bayes.correction.startswith("none") and bayes.recommendation.decision == "ship"
    guard = bayes.metrics[2].comparisons[0]  # errors: lower is better, so chance to win flips
    assert 0.0 < guard.chance_to_win < 1.0 and guard.risk_control >= 0


def test_readout_is_json_ready(read) -> None:
    payload = read().to_dict()
    text = json.dumps(payload, default=str)
    back = json.loads(text)
    assert back["recommendation"]["decision"] == "ship"
    assert back["exposure"]["units_by_variation"].keys() == {"control", "treat"}
    timeline = back["metrics"][0]["comparisons"][0]["timeline"]
    assert timeline and {"day", "effect", "ci_lower", "ci_upper"} <= timeline[0].keys()


def test_srm_blocks_a_winning_ship(warehouse) -> None:
    random_world(warehouse, n=1500, lift=0.4, drop_treat=0.25, seed=4)
    readout = analyze_experiment(warehouse, METRICS, "exp")
    assert readout.primary.comparisons[0].outcome == "better"  # looks like a win ...
    rec = readout.recommendation
    assert readout.srm.mismatch and readout.srm.p_value < 1e-4
    assert (rec.decision, rec.verdict) == ("iterate", "untrustworthy")  # ... but is not shippable
    assert any(b.startswith("Sample-ratio mismatch") for b in rec.blockers)


def test_a_regressed_guardrail_blocks_a_ship(warehouse) -> None:
    random_world(warehouse, n=1500, lift=0.4, error_lift=0.5, seed=6, guardrails=("errors",))
    readout = analyze_experiment(warehouse, METRICS, "exp")
    guard = readout.metrics[1].comparisons[0]
    assert guard.outcome == "worse" and guard.effect > 0  # errors went up: lower is better
    rec = readout.recommendation
    assert (rec.decision, rec.verdict) == ("iterate", "guardrail_regressed")
    assert rec.blockers and rec.blockers[0].startswith("Guardrail Errors regressed in treat")


def test_a_primary_significant_in_the_wrong_direction_abandons(warehouse) -> None:
    random_world(warehouse, n=1500, lift=-0.4, seed=8)
    rec = analyze_experiment(warehouse, METRICS, "exp").recommendation
    assert (rec.decision, rec.verdict) == ("abandon", "loss")


def test_inconclusive_says_so_with_the_mde_and_the_days_needed(warehouse) -> None:
    random_world(warehouse, n=600, lift=0.05, seed=12, ended_at=None)
    as_of = START + timedelta(days=10)
    readout = analyze_experiment(warehouse, METRICS, "exp", as_of=as_of, cuped=False)
    rec, comp = readout.recommendation, readout.primary.comparisons[0]
    assert readout.window.status == "running" and readout.window.days == 10
    assert comp.outcome == "inconclusive"
    assert (rec.decision, rec.verdict) == ("iterate", "inconclusive")
    assert rec.headline.startswith("Inconclusive: the data cannot tell")
    want_mde = mde_relative(
        comp.value_control, comp.variance_control, comp.n_control, comp.n_treatment
    )
    assert rec.mde == pytest.approx(want_mde) and 0 < rec.mde < 1
    if comp.effect > 0:  # the observed lift is in the good direction: how long to detect it
        size = sample_size_relative(comp.effect, comp.value_control, comp.variance_control,
                                    daily_units=readout.exposure.total_units / 10)  # fmt: skip
        assert rec.days_needed == max(0, size.days - 10)
        assert any("more days to detect the observed lift" in r for r in rec.reasons)
    else:
        assert rec.days_needed is None and not rec.keep_running


def test_revenue_metrics_are_skipped_in_user_level_experiments(warehouse) -> None:
    catalog = parse_metrics(
        """
metrics:
  - {name: reports, kind: count, event: Report Created, higher_is_better: true}
  - {name: mrr, kind: revenue, stat: mrr, higher_is_better: true}
"""
    )
    random_world(warehouse, n=100, seed=1, guardrails=("mrr",))
    readout = analyze_experiment(warehouse, catalog, "exp")
    mrr = readout.metrics[1]
    assert mrr.skipped and "per account" in mrr.skipped and mrr.comparisons == ()


def test_bad_requests_are_user_errors_that_name_the_problem(warehouse) -> None:
    random_world(warehouse, n=20, seed=1, secondary=("nope", "reports_typo"))
    with pytest.raises(ValidationError) as err:
        analyze_experiment(warehouse, METRICS, "exp")
    assert sorted("nope" in str(p) or "reports_typo" in str(p) for p in err.value.problems) == [
        True,
        True,
    ]
    with pytest.raises(NotFoundError, match="known: exp"):
        analyze_experiment(warehouse, METRICS, "missing")
    with pytest.raises(UserError, match="unknown method"):
        analyze_experiment(warehouse, METRICS, "exp", method="magic")
    with pytest.raises(UserError, match="unknown correction"):
        analyze_experiment(warehouse, METRICS, "exp", correction="bonferroni")


def test_an_experiment_without_exposures_reads_as_no_data(warehouse) -> None:
    random_world(warehouse, n=0)
    readout = analyze_experiment(warehouse, METRICS, "exp")
    assert readout.exposure.total_units == 0 and readout.srm.error == "no_units"
    assert readout.recommendation.verdict == "no_data"
    assert readout.primary.comparisons[0].error == "empty_arm"
    assert any("No exposures" in w for w in readout.warnings)
    assert math.isnan(readout.primary.comparisons[0].effect)
