"""The library calls behind the analysis pages: releases, experiments, accounts, backlog, delivery.

The release estimates are slow (seconds per release), so every analysis here
runs on a connection of its own (``heavy``): a review being computed never
holds the read lock the overview, the metrics pages and the read API share.
Each result is computed once per state of the data (``WorkspaceRuntime.cached``)
and the impact review is warmed in the background at startup.
No SQL and no statistics here: those live in ``service``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from impactlens.errors import NotFoundError
from impactlens.server.runtime import WorkspaceRuntime

log = logging.getLogger("impactlens.server")
T = TypeVar("T")

REVIEW_DAYS = 180  # the releases and coverage the dashboard shows: the last half year

# Re-entrant: _warm_once updates state under it and _state() takes it too.
_registry_lock = threading.RLock()


class AnalysesClosed(RuntimeError):
    """The server is stopping: no new analysis starts."""


@dataclass
class _State:
    """Per served workspace: the analyses connection, its lock, the newest review."""

    connection: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    latest_review: Any = None
    warming: bool = False
    closed: bool = False


def _state(runtime: WorkspaceRuntime) -> _State:
    with _registry_lock:
        state = runtime.__dict__.get("_analyses")
        if state is None:
            state = runtime.__dict__["_analyses"] = _State()
        return state


def heavy(runtime: WorkspaceRuntime, key: tuple, call: Callable[[Any], T]) -> T:
    """``call(warehouse)`` once per data state on the analyses connection (one at a time).

    The lock is held around the cache lookup too, so a second visitor waits for
    the first computation instead of starting another.
    """
    state = _state(runtime)
    with state.lock:
        if state.closed:
            raise AnalysesClosed("the server is stopping")
        if state.connection is None:
            state.connection = runtime.workspace.connect()
        connection = state.connection
        return runtime.cached(("analyses", *key), lambda: call(connection))


def close_analyses(runtime: WorkspaceRuntime) -> None:
    """Release the analyses connection (on shutdown, so the warehouse file is free).

    Waits for an analysis under way (the lock) rather than closing under it.
    """
    state = _state(runtime)
    with state.lock:
        state.closed = True
        state.latest_review = None
        if state.connection is not None:
            state.connection.close()
            state.connection = None


# Releases -------------------------------------------------------------------------


def read_review(runtime: WorkspaceRuntime) -> Any:
    """The impact review of the last REVIEW_DAYS: every release's verdict and the coverage."""
    from impactlens.service.review import build_review

    review = heavy(
        runtime,
        ("review", REVIEW_DAYS),
        lambda wh: build_review(wh, runtime.workspace, last_days=REVIEW_DAYS),
    )
    _state(runtime).latest_review = review
    return review


def peek_review(runtime: WorkspaceRuntime) -> Any | None:
    """The newest review already computed, without waiting; None starts one in the background.

    The overview must stay quick, so it shows the last review (possibly from a
    moment before the latest import) rather than wait half a minute for a new one.
    """
    state = _state(runtime)
    review = state.latest_review
    if review is None and not state.closed:
        with _registry_lock:
            start, state.warming = not state.warming, True
        if start:
            threading.Thread(target=_warm_once, args=(runtime,), daemon=True).start()
    return review


def _warm_once(runtime: WorkspaceRuntime) -> None:
    try:
        warm_analyses(runtime)
    finally:
        state = _state(runtime)
        with _registry_lock:
            state.warming = False


def read_release(runtime: WorkspaceRuntime, release_id: str) -> Any:
    """One release's impact: from the cached review, else estimated on its own."""
    from impactlens.service.releases import review_release

    found = next(
        (r for r in read_review(runtime).releases if r.release.release_id == release_id), None
    )
    if found is not None:
        return found
    return heavy(
        runtime,
        ("release", release_id),
        lambda wh: review_release(wh, runtime.workspace, release_id),
    )


def read_release_delivery(runtime: WorkspaceRuntime, release_id: str) -> Any | None:
    """The release's deploys and incidents; None when nothing records them."""
    from impactlens.service.delivery_facts import release_delivery

    review = read_review(runtime)
    if release_id in review.delivery:
        return review.delivery[release_id]

    def call(wh: Any) -> Any:
        try:
            return release_delivery(wh, release_id)
        except NotFoundError:
            return None

    return heavy(runtime, ("release-delivery", release_id), call)


def release_chart_svg(impact: Any) -> str | None:
    """The metric per day with the counterfactual band and the ship day (labels escaped)."""
    from impactlens.reports.review import release_chart

    return release_chart(impact)


def review_html(runtime: WorkspaceRuntime) -> str:
    """The full impact review as the standalone HTML page ``impactlens review`` writes."""
    from impactlens.reports.review import render_html

    review = read_review(runtime)
    return runtime.cached(("analyses", "review-html", REVIEW_DAYS), lambda: render_html(review))


def measured(runtime: WorkspaceRuntime) -> list[Any]:
    """The review's verdicts in the portfolio's shape (backlog and team view inputs)."""
    from impactlens.service.review import measured_from

    return measured_from(read_review(runtime).releases)


def warm_analyses(runtime: WorkspaceRuntime) -> None:
    """Estimate the review in the background at startup so the first visit is quick."""
    try:
        read_review(runtime)
    except Exception:  # best effort: the page reports its own errors
        log.debug("analyses warm-up failed", exc_info=True)


# Experiments ----------------------------------------------------------------------


def read_experiments(runtime: WorkspaceRuntime) -> list[Any]:
    from impactlens.service.experiments import experiment_statuses

    return heavy(runtime, ("experiments",), experiment_statuses)


def read_experiment(runtime: WorkspaceRuntime, experiment_id: str) -> Any:
    from impactlens.service.experiments import analyze_experiment

    return heavy(
        runtime,
        ("experiment", experiment_id),
        lambda wh: analyze_experiment(wh, runtime.workspace, experiment_id),
    )


def experiment_charts(readout: Any) -> dict[str, str]:
    """The forest plot and each metric's cumulative lift (SVG; labels escaped)."""
    from impactlens.render.experiment_report import charts

    return charts(readout)


# Accounts -------------------------------------------------------------------------


def read_account_book(runtime: WorkspaceRuntime) -> Any:
    from impactlens.service.accounts import build_account_book, configs_from_workspace

    health, churn = configs_from_workspace(runtime.workspace)
    return heavy(
        runtime,
        ("account-book",),
        lambda wh: build_account_book(wh, health_config=health, churn_config=churn),
    )


def read_accounts(
    runtime: WorkspaceRuntime, *, at_risk: bool = False, segment: str | None = None
) -> Any:
    return read_account_book(runtime).listing(at_risk=at_risk, segment=segment)


def read_account(runtime: WorkspaceRuntime, account_id: str) -> Any:
    book = read_account_book(runtime)
    return heavy(runtime, ("account", account_id), lambda wh: book.detail(wh, account_id))


# Backlog and delivery -------------------------------------------------------------


def read_backlog(runtime: WorkspaceRuntime, *, by: str = "rice", weight: str = "users") -> Any:
    from impactlens.service.backlog import rank_backlog

    verdicts = measured(runtime)
    return heavy(
        runtime,
        ("backlog", by, weight),
        lambda wh: rank_backlog(wh, measured=verdicts, by=by, weight=weight),  # type: ignore[arg-type]
    )


def read_delivery(runtime: WorkspaceRuntime, *, by: str = "team") -> Any:
    from impactlens.service.delivery import delivery_report

    return heavy(runtime, ("delivery", by), lambda wh: delivery_report(wh, by=by))  # type: ignore[arg-type]


def read_team_view(runtime: WorkspaceRuntime) -> list[Any]:
    from impactlens.service.delivery import team_view

    verdicts = measured(runtime)
    return heavy(runtime, ("team-view",), lambda wh: team_view(wh, verdicts))
