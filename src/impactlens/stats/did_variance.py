"""Cluster-robust variance of a linear statistic from per-actor influence values.

Every difference-in-differences figure (the DiD itself, the counterfactual
post mean, the relative effect) is a smooth function of group ratios-of-sums,
so its sampling error is the sum of per-actor *influence* values (the first
order Taylor term). Summing influences inside a cluster and squaring is the
sandwich estimator; with every actor its own cluster it reduces exactly to
Welch's variance for a difference of means, which is why one routine serves
the naive and the cluster-robust standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterLayout:
    """Cluster index of every actor in the exposed and the unexposed group.

    `shared` is true when some cluster holds actors of both groups (a flag
    rolled out to part of an account), which changes the small-sample factor
    and the degrees of freedom, see `influence_variance`.
    """

    exposed: np.ndarray
    unexposed: np.ndarray
    n_clusters_exposed: int
    n_clusters_unexposed: int
    n_clusters: int
    shared: bool


def build_cluster_layout(
    exposed_ids: np.ndarray | None,
    unexposed_ids: np.ndarray | None,
    n_exposed: int,
    n_unexposed: int,
) -> ClusterLayout:
    """Map cluster labels (any dtype) to integer codes; no labels = one cluster per actor."""
    if exposed_ids is not None and unexposed_ids is not None:
        both = np.concatenate([np.asarray(exposed_ids).ravel(), np.asarray(unexposed_ids).ravel()])
        _, codes = np.unique(both, return_inverse=True)
        exposed_codes, unexposed_codes = codes[:n_exposed], codes[n_exposed:]
    else:
        # With labels on one side only the groups cannot share a cluster, so
        # the unexposed codes simply continue after the exposed ones.
        exposed_codes = _codes(exposed_ids, n_exposed)
        offset = int(exposed_codes.max()) + 1 if n_exposed else 0
        unexposed_codes = _codes(unexposed_ids, n_unexposed) + offset
    shared = bool(np.intersect1d(exposed_codes, unexposed_codes).size)
    n_clusters = int(np.unique(np.concatenate([exposed_codes, unexposed_codes])).size)
    return ClusterLayout(
        exposed=exposed_codes,
        unexposed=unexposed_codes,
        n_clusters_exposed=int(np.unique(exposed_codes).size),
        n_clusters_unexposed=int(np.unique(unexposed_codes).size),
        n_clusters=n_clusters,
        shared=shared,
    )


def _codes(ids: np.ndarray | None, n: int) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    return np.unique(np.asarray(ids).ravel(), return_inverse=True)[1]


def influence_variance(
    exposed_influence: np.ndarray,
    unexposed_influence: np.ndarray,
    layout: ClusterLayout,
) -> tuple[float, float]:
    """Return (variance, degrees of freedom) of a statistic from per-actor influences.

    Disjoint clusters: V = sum over groups k of G_k/(G_k-1) * sum_g (sum_{i in g} phi_i)^2,
    with Welch-Satterthwaite degrees of freedom over the two group terms (each
    with G_k - 1). Shared clusters: V = G/(G-1) * sum_g (sum phi)^2 with G - 1
    degrees of freedom (the usual CR1 correction without the (N-1)/(N-K) factor).
    """
    n_all = layout.n_clusters
    if layout.shared:
        sums = np.bincount(layout.exposed, weights=exposed_influence, minlength=n_all)
        sums += np.bincount(layout.unexposed, weights=unexposed_influence, minlength=n_all)
        g = layout.n_clusters
        if g < 2:
            return float("nan"), float("nan")
        return float(g / (g - 1) * np.sum(sums**2)), float(g - 1)
    parts = []
    for codes, phi, g in (
        (layout.exposed, exposed_influence, layout.n_clusters_exposed),
        (layout.unexposed, unexposed_influence, layout.n_clusters_unexposed),
    ):
        if g < 2:
            return float("nan"), float("nan")
        sums = np.bincount(codes, weights=phi, minlength=n_all)
        parts.append((g / (g - 1) * float(np.sum(sums**2)), g - 1))
    variance = sum(v for v, _ in parts)
    denominator = sum(v**2 / df for v, df in parts)
    df = variance**2 / denominator if denominator > 0 else float("nan")
    return variance, df
