"""Experiment readouts that end in a decision.

``analyze_experiment`` reads an A/B test from the warehouse: who was exposed
(first exposure counts, contaminated users excluded), each metric per exposed
unit from the metrics layer, sums per arm aggregated in the warehouse, the
chosen test from :mod:`impactlens.stats` (fixed-horizon, sequential or
Bayesian; CUPED; cluster-robust for account-randomised tests), the sample-ratio
check, multiple-comparison control and a ship / iterate / abandon
recommendation. The decision itself is recorded with ``decide_experiment``.

    readout = analyze_experiment(warehouse, workspace, "onboarding-checklist")
    readout.recommendation.decision, readout.recommendation.headline

Modules: ``exposure`` (population, window), ``collect`` (warehouse sums),
``sums`` (statistic choice), ``analysis`` (tests, corrections, timelines),
``recommend`` (rules), ``results`` (values), ``readout`` (orchestration),
``decisions`` (list, status, decision record). docs/experiments.md has the rules.
"""

from impactlens.service.experiments.collect import ENTRY_GRACE, PRE_DAYS
from impactlens.service.experiments.decisions import (
    decide_experiment,
    experiment_statuses,
    experiments_without_decision,
    has_ended,
)
from impactlens.service.experiments.exposure import AnalysisWindow, ExposureSummary
from impactlens.service.experiments.readout import analyze_experiment
from impactlens.service.experiments.results import (
    Comparison,
    ExperimentReadout,
    ExperimentStatus,
    MetricReadout,
    Recommendation,
    TimelinePoint,
    UserLevelComparison,
)

__all__ = [
    "ENTRY_GRACE",
    "PRE_DAYS",
    "AnalysisWindow",
    "Comparison",
    "ExperimentReadout",
    "ExperimentStatus",
    "ExposureSummary",
    "MetricReadout",
    "Recommendation",
    "TimelinePoint",
    "UserLevelComparison",
    "analyze_experiment",
    "decide_experiment",
    "experiment_statuses",
    "experiments_without_decision",
    "has_ended",
]
