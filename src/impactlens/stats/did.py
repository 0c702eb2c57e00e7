"""Difference-in-differences for a release shipped to part of the users.

For each actor we get the metric before and after the ship date; the effect
is the exposed group's change minus the unexposed group's change. Both the
plain per-actor metric (a mean over actors) and a ratio metric (sum of
numerators over sum of denominators, e.g. clicks / searches) are handled by
one linearisation: a mean is the ratio whose denominators are all 1.

A holdout comparison (everything shipped vs a holdout group) is the same
call: exposed = everyone outside the holdout, unexposed = the holdout; with
no pre-period (`pre=None` on both panels) it is a two-sample comparison of
post-period values.

Example:
    >>> import numpy as np
    >>> exposed = ActorPanel(pre=np.array([1.0, 2, 3, 4]), post=np.array([3.0, 4, 5, 7]))
    >>> unexposed = ActorPanel(pre=np.array([1.0, 2, 3, 4]), post=np.array([1.0, 2, 4, 4]))
    >>> round(estimate_did(exposed, unexposed).estimate, 2)
    2.0
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats as sps

from impactlens.stats.did_variance import build_cluster_layout, influence_variance
from impactlens.stats.impact_estimate import EffectEstimate


@dataclass(frozen=True, eq=False)
class ActorPanel:
    """One group's actors, aligned by position: metric value before and after.

    For a ratio metric `post`/`pre` hold numerators and `post_denominator`/
    `pre_denominator` the denominators. `clusters` are account ids (any
    dtype) for the cluster-robust standard error. `pre=None` means there is
    no pre-period (a holdout compared over the post-period only).
    """

    post: np.ndarray
    pre: np.ndarray | None = None
    post_denominator: np.ndarray | None = None
    pre_denominator: np.ndarray | None = None
    clusters: np.ndarray | None = None


@dataclass(frozen=True)
class PreTrendCheck:
    """Placebo DiD of the first vs the second half of the pre-period.

    `status` is `parallel` (placebo not significant at alpha), `diverging`
    (significant: the groups already moved apart before the release),
    `not_checked` or `error`. Not significant is not proof of parallel trends;
    read `lower`/`upper` for how large a pre-trend the data could hide.
    """

    status: str
    estimate: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    p_value: float = float("nan")
    relative: float = float("nan")


@dataclass(frozen=True)
class DidResult:
    """Difference-in-differences estimate with every figure a readout shows."""

    method: str
    error: str | None
    alpha: float = 0.05
    n_exposed: int = 0
    n_unexposed: int = 0
    n_clusters: int = 0
    exposed_pre: float = float("nan")
    exposed_post: float = float("nan")
    unexposed_pre: float = float("nan")
    unexposed_post: float = float("nan")
    estimate: float = float("nan")
    se: float = float("nan")
    df: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    p_value: float = float("nan")
    counterfactual_post: float = float("nan")
    relative: float = float("nan")
    relative_se: float = float("nan")
    relative_lower: float = float("nan")
    relative_upper: float = float("nan")
    pre_trend: PreTrendCheck = field(default_factory=lambda: PreTrendCheck("not_checked"))

    @property
    def validity_problem(self) -> str | None:
        """Why the estimate should not be turned into a verdict, if it should not."""
        if self.pre_trend.status == "diverging":
            return (
                "exposed and unexposed actors already trended apart before the release "
                f"(placebo DiD p = {self.pre_trend.p_value:.3f})"
            )
        return None

    def to_effect_estimate(self) -> EffectEstimate:
        """The relative effect and its interval, for `decide_verdict`."""
        return EffectEstimate(
            relative=self.relative,
            lower=self.relative_lower,
            upper=self.relative_upper,
            method=self.method,
            alpha=self.alpha,
            se_shrinks_with_days=True,
            error=self.error,
            validity_problem=self.validity_problem,
        )


def estimate_did(
    exposed: ActorPanel,
    unexposed: ActorPanel,
    *,
    alpha: float = 0.05,
    pre_trend: tuple[ActorPanel, ActorPanel] | None = None,
) -> DidResult:
    """Estimate the effect of a release on the exposed actors by difference-in-differences.

    estimate = (exposed post - exposed pre) - (unexposed post - unexposed pre),
    relative = estimate / (exposed pre + unexposed change), the exposed
    group's counterfactual post value. `pre_trend` holds the same two groups
    with `pre` = first half and `post` = second half of the pre-period; its
    placebo DiD is reported in `result.pre_trend`.
    """
    result = _estimate(exposed, unexposed, alpha)
    if pre_trend is not None and result.error is None:
        placebo = _estimate(pre_trend[0], pre_trend[1], alpha)
        check = _pre_trend_check(placebo, alpha)
        result = replace(result, pre_trend=check)
    return result


def _pre_trend_check(placebo: DidResult, alpha: float) -> PreTrendCheck:
    if placebo.error is not None:
        return PreTrendCheck(status="error")
    status = "diverging" if placebo.p_value < alpha else "parallel"
    return PreTrendCheck(
        status=status,
        estimate=placebo.estimate,
        lower=placebo.lower,
        upper=placebo.upper,
        p_value=placebo.p_value,
        relative=placebo.relative,
    )


def _method_name(exposed: ActorPanel, unexposed: ActorPanel, clustered: bool) -> str:
    ratio = exposed.post_denominator is not None
    base = "did" if exposed.pre is not None else "two_sample"
    kind = "ratio_of_sums" if ratio else "mean"
    se = "cluster_robust" if clustered else "welch"
    return f"{base}_{kind}_{se}"


def _estimate(exposed: ActorPanel, unexposed: ActorPanel, alpha: float) -> DidResult:
    _check_shapes(exposed, unexposed)
    clustered = exposed.clusters is not None or unexposed.clusters is not None
    method = _method_name(exposed, unexposed, clustered)
    n_e, n_u = len(exposed.post), len(unexposed.post)
    if n_e < 2 or n_u < 2:
        return DidResult(method=method, error="too_few_actors", n_exposed=n_e, n_unexposed=n_u)
    if not (_all_finite(exposed) and _all_finite(unexposed)):
        return DidResult(method=method, error="non_finite_values", n_exposed=n_e, n_unexposed=n_u)
    groups = [_GroupRatios.of(exposed), _GroupRatios.of(unexposed)]
    if any(g.has_zero_denominator for g in groups):
        return DidResult(method=method, error="zero_denominator", n_exposed=n_e, n_unexposed=n_u)
    e, u = groups
    layout = build_cluster_layout(exposed.clusters, unexposed.clusters, n_e, n_u)

    estimate = e.change - u.change
    counterfactual = e.pre + u.change
    var, df = influence_variance(e.change_phi, -u.change_phi, layout)
    common: dict[str, Any] = dict(
        method=method,
        alpha=alpha,
        n_exposed=n_e,
        n_unexposed=n_u,
        n_clusters=layout.n_clusters,
        exposed_pre=e.pre if exposed.pre is not None else float("nan"),
        exposed_post=e.post,
        unexposed_pre=u.pre if unexposed.pre is not None else float("nan"),
        unexposed_post=u.post,
        estimate=estimate,
        counterfactual_post=counterfactual,
    )
    if not np.isfinite(var) or var <= 0.0:
        return DidResult(error="zero_variance", **common)
    se = float(np.sqrt(var))
    t_crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    p_value = float(2.0 * sps.t.sf(abs(estimate) / se, df))

    relative = rel_se = float("nan")
    if counterfactual != 0.0:
        relative = estimate / counterfactual
        # Delta method for estimate / counterfactual: phi_rel = (phi_est - rel * phi_cf) / cf.
        rel_phi_e = (e.change_phi - relative * e.pre_phi) / counterfactual
        rel_phi_u = (-u.change_phi - relative * u.change_phi) / counterfactual
        rel_var, _ = influence_variance(rel_phi_e, rel_phi_u, layout)
        rel_se = float(np.sqrt(rel_var))
    return DidResult(
        error=None,
        se=se,
        df=df,
        lower=estimate - t_crit * se,
        upper=estimate + t_crit * se,
        p_value=p_value,
        relative=relative,
        relative_se=rel_se,
        relative_lower=relative - t_crit * rel_se,
        relative_upper=relative + t_crit * rel_se,
        **common,
    )


@dataclass(frozen=True, eq=False)
class _GroupRatios:
    """Pre and post ratio-of-sums of one group with per-actor influence values."""

    pre: float
    post: float
    pre_phi: np.ndarray
    post_phi: np.ndarray
    has_zero_denominator: bool

    @property
    def change(self) -> float:
        return self.post - self.pre

    @property
    def change_phi(self) -> np.ndarray:
        return self.post_phi - self.pre_phi

    @staticmethod
    def of(panel: ActorPanel) -> _GroupRatios:
        post, post_phi, zero_post = _ratio(panel.post, panel.post_denominator)
        if panel.pre is None:
            # No pre-period: the change is the post value itself (two-sample comparison).
            return _GroupRatios(0.0, post, np.zeros_like(post_phi), post_phi, zero_post)
        pre, pre_phi, zero_pre = _ratio(panel.pre, panel.pre_denominator)
        return _GroupRatios(pre, post, pre_phi, post_phi, zero_pre or zero_post)


def _ratio(numerator: np.ndarray, denominator: np.ndarray | None) -> tuple[float, np.ndarray, bool]:
    """R = sum(num) / sum(den) and its influence phi_i = (num_i - R den_i) / sum(den)."""
    num = np.asarray(numerator, dtype=float)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, dtype=float)
    total = float(den.sum())
    if total == 0.0:
        return float("nan"), np.zeros_like(num), True
    ratio = float(num.sum()) / total
    return ratio, (num - ratio * den) / total, False


def _all_finite(panel: ActorPanel) -> bool:
    arrays = (panel.post, panel.pre, panel.post_denominator, panel.pre_denominator)
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays if a is not None)


def _check_shapes(exposed: ActorPanel, unexposed: ActorPanel) -> None:
    # Misaligned arrays are a caller bug, not degenerate data, so they raise.
    if (exposed.pre is None) != (unexposed.pre is None):
        raise ValueError("both panels need a pre-period, or neither")
    if (exposed.post_denominator is None) != (unexposed.post_denominator is None):
        raise ValueError("both panels need denominators, or neither")
    for panel in (exposed, unexposed):
        n = len(panel.post)
        others = (panel.pre, panel.post_denominator, panel.pre_denominator, panel.clusters)
        if any(a is not None and len(a) != n for a in others):
            raise ValueError("every array of a panel needs one value per actor")
        if (panel.pre is not None) and (panel.post_denominator is not None) != (
            panel.pre_denominator is not None
        ):
            raise ValueError("a ratio panel with a pre-period needs pre denominators")
