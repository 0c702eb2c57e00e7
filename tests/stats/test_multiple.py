"""Holm and Benjamini-Hochberg adjustments against statsmodels.stats.multitest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from impactlens.stats.multiple import (
    BENJAMINI_HOCHBERG,
    HOLM,
    adjust_p_values,
    benjamini_hochberg,
    holm_bonferroni,
)


def p_value_lists() -> list[list[float]]:
    """Seeded lists with ties, exact 0 and 1, tiny values and sizes from 1 to 40."""
    rng = np.random.default_rng(12)
    lists = [[0.0], [1.0], [0.05, 0.05, 0.05], [0.0, 1.0, 0.5, 0.5], [1e-12, 0.2, 1e-9]]
    for size in (2, 5, 13, 40):
        lists.append(list(rng.uniform(0, 1, size)))
        lists.append(list(np.round(rng.beta(0.3, 2.0, size), 2)))  # rounded: many ties
    return lists


# statsmodels' multipletests runs gc.collect() on every call, so the cases are a fixed,
# seeded batch rather than hundreds of generated examples.
@pytest.mark.parametrize("p_values", p_value_lists())
def test_holm_and_bh_match_statsmodels(p_values):
    _, holm, _, _ = multipletests(p_values, method="holm")
    _, bh, _, _ = multipletests(p_values, method="fdr_bh")
    assert holm_bonferroni(p_values) == pytest.approx(tuple(holm), rel=1e-12, abs=1e-15)
    assert benjamini_hochberg(p_values) == pytest.approx(tuple(bh), rel=1e-12, abs=1e-15)


def test_small_example_by_hand():
    # Sorted 0.01, 0.03, 0.04 (m = 3). Holm: 3*.01=.03, max(.03, 2*.03)=.06, max(.06, .04)=.06.
    # BH: .04*3/3=.04, min(.04, .03*3/2=.045)=.04, min(.04, .01*3)=.03.
    assert holm_bonferroni([0.01, 0.04, 0.03]) == pytest.approx((0.03, 0.06, 0.06))
    assert benjamini_hochberg([0.01, 0.04, 0.03]) == pytest.approx((0.03, 0.04, 0.04))


def test_nan_p_values_pass_through_and_do_not_count():
    adjusted = holm_bonferroni([0.01, math.nan, 0.04])
    assert math.isnan(adjusted[1])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)


def test_adjust_p_values_rejects_at_alpha():
    rng = np.random.default_rng(9)
    p = list(rng.uniform(0, 0.2, 12))
    holm = adjust_p_values(p, method=HOLM, alpha=0.1)
    bh = adjust_p_values(p, method=BENJAMINI_HOCHBERG, alpha=0.1)
    reject_holm, *_ = multipletests(p, alpha=0.1, method="holm")
    reject_bh, *_ = multipletests(p, alpha=0.1, method="fdr_bh")
    assert holm.rejected == tuple(reject_holm) and bh.rejected == tuple(reject_bh)
    assert sum(bh.rejected) >= sum(holm.rejected)
    with pytest.raises(ValueError):
        adjust_p_values(p, method="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        holm_bonferroni([1.5])
