"""The runnable examples in the release-impact stats docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["did", "counterfactual", "impact_verdict"])
def test_docstring_examples(name):
    module = importlib.import_module(f"impactlens.stats.{name}")
    failed, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 and failed == 0
