"""Multiple-comparison adjustments: Holm-Bonferroni (FWER) and Benjamini-Hochberg (FDR).

An experiment with several metrics or arms runs several tests; adjusting their
p-values keeps the family's error rate at alpha. Holm controls the chance of any
false positive; Benjamini-Hochberg the expected share of false positives among the
discoveries, and is less conservative. NaN p-values (tests that could not run) are
left as NaN and do not count towards the number of tests m.

Example:
    >>> holm_bonferroni([0.01, 0.04, 0.03])
    (0.03, 0.06, 0.06)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

HOLM: Final = "holm"
BENJAMINI_HOCHBERG: Final = "benjamini_hochberg"
Method = Literal["holm", "benjamini_hochberg"]


@dataclass(frozen=True)
class MultipleTestingResult:
    """Raw and adjusted p-values, in input order, and which hypotheses are rejected."""

    method: str
    alpha: float
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]


def _finite(p_values: Sequence[float]) -> list[tuple[int, float]]:
    pairs = [(i, float(p)) for i, p in enumerate(p_values) if not math.isnan(p)]
    if any(not 0.0 <= p <= 1.0 for _, p in pairs):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    return sorted(pairs, key=lambda pair: pair[1])


def holm_bonferroni(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm step-down: p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), p sorted ascending."""
    ordered = _finite(p_values)
    m = len(ordered)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (index, p) in enumerate(ordered):  # rank j - 1
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return tuple(adjusted)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """BH step-up: p~_(i) = min_{j >= i} min(1, m p_(j) / j), p sorted ascending."""
    ordered = _finite(p_values)
    m = len(ordered)
    adjusted = [math.nan] * len(p_values)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        index, p = ordered[rank]
        running = min(running, m * p / (rank + 1))
        adjusted[index] = running
    return tuple(adjusted)


def adjust_p_values(
    p_values: Sequence[float], *, method: Method = HOLM, alpha: float = 0.05
) -> MultipleTestingResult:
    """Adjust p-values with Holm or Benjamini-Hochberg and say which are rejected at alpha."""
    if method == HOLM:
        adjusted = holm_bonferroni(p_values)
    elif method == BENJAMINI_HOCHBERG:
        adjusted = benjamini_hochberg(p_values)
    else:
        raise ValueError(f"unknown method {method!r}; use 'holm' or 'benjamini_hochberg'")
    return MultipleTestingResult(
        method=method,
        alpha=alpha,
        p_values=tuple(float(p) for p in p_values),
        adjusted=adjusted,
        rejected=tuple(bool(p <= alpha) for p in adjusted),
    )
