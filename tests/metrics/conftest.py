"""Hypothesis profiles for the metric tests: ``HYPOTHESIS_PROFILE=dev`` skips shrinking."""

from __future__ import annotations

import os

from hypothesis import Phase, settings

settings.register_profile("dev", phases=[Phase.explicit, Phase.reuse, Phase.generate])
# The fast suite runs a handful of examples per kind (Ibis compiles each query in ~0.3 s);
# IMPACTLENS_METRIC_EXAMPLES=200 runs many more (tens of minutes), e.g. before a release.
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
