"""Sample-ratio mismatch: did the arms receive the traffic split the experiment intended?

A Pearson chi-square goodness-of-fit test of the observed unit counts against the
intended weights (gbstats ``check_srm``). A tiny p-value means assignment or logging
is broken and the effect estimates should not be trusted; the default threshold,
0.001, is GrowthBook's.

Example:
    >>> r = srm_test([5000, 5200])
    >>> round(r.p_value, 4), r.mismatch
    (0.0477, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

SRM = "srm_chi_square"
TOO_FEW_ARMS = "too_few_arms"
NO_UNITS = "no_units"
INVALID_WEIGHTS = "invalid_weights"


@dataclass(frozen=True)
class SrmResult:
    """Chi-square statistic, p-value and verdict of a sample-ratio check."""

    method: str
    counts: tuple[int, ...]
    weights: tuple[float, ...]
    expected: tuple[float, ...]
    chi_square: float
    dof: int
    p_value: float
    threshold: float
    mismatch: bool
    error: str | None = None


def srm_test(
    counts: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """Test observed units per arm against intended weights (equal when None).

    chi^2 = sum_i (o_i - e_i)^2 / e_i with e_i = N w_i / sum(w), on k - 1 degrees of
    freedom. ``mismatch`` is p < threshold. Weights are normalised, so [1, 1] and
    [0.5, 0.5] mean the same split.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    observed = tuple(int(c) for c in counts)
    raw = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(observed)
    if len(raw) != len(observed):
        raise ValueError(f"{len(observed)} counts but {len(raw)} weights")
    k = len(observed)
    total_weight = sum(raw)
    valid = all(math.isfinite(w) and w > 0 for w in raw)
    share = tuple(w / total_weight for w in raw) if valid else raw
    total = sum(observed)

    def failed(error: str) -> SrmResult:
        return SrmResult(SRM, observed, share, (), math.nan, max(k - 1, 0), math.nan,
                         threshold, False, error)  # fmt: skip

    if k < 2:
        return failed(TOO_FEW_ARMS)
    if not valid or any(c < 0 for c in observed):
        return failed(INVALID_WEIGHTS)
    if total == 0:
        return failed(NO_UNITS)
    expected = tuple(total * s for s in share)
    chi_square = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = float(special.chdtrc(k - 1, chi_square))
    return SrmResult(
        SRM, observed, share, expected, chi_square, k - 1, p_value, threshold, p_value < threshold
    )
