"""Plausible, made-up company names for the demo accounts."""

from __future__ import annotations

import numpy as np


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADJ = _words(
    "North Blue Iron Silver Bright Red Green Swift Clear Stone Oak River Summit "
    "Harbor Pine Golden Quiet Polar Solar Cedar Maple Vector Atlas Nova Prime Urban "
    "Coastal Alpine Lunar Delta "
)
_NOUN = _words(
    "wind field point bridge gate works stack forge line path peak wave light mark "
    "view base craft loop grid yard "
)
_KIND = _words(
    "Analytics Labs Systems Health Logistics Retail Media Finance Robotics Foods "
    "Energy Software Travel Studios Partners Insurance "
)


def company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` plausible company names; a repeated name gets a number ("Oakline Labs 2")."""
    seen: dict[str, int] = {}
    names = []
    for a, b, c in zip(
        rng.integers(len(_ADJ), size=n),
        rng.integers(len(_NOUN), size=n),
        rng.integers(len(_KIND), size=n),
        strict=True,
    ):
        name = f"{_ADJ[a]}{_NOUN[b]} {_KIND[c]}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return np.array(names)
