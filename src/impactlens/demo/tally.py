"""Running per-user counts the batches leave behind for truth.json.

The truth file reports what the *generated rows* contain for each experiment
(exposed units per arm, metric sums), next to the planted effect, so a test of a
later analysis can tell sampling noise from a bug. Batches fill these arrays as
they go; nothing here holds events.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from impactlens.demo.lifecycle import NEVER

PRE_PERIOD_MS = 28 * 86_400_000  # the pre-experiment window a CUPED adjustment would use


class Tally:
    """Mutable accumulator over batches (one slot per user)."""

    def __init__(self, n_users: int, windows: dict[str, tuple[int, int]]) -> None:
        self.windows = windows
        self.first_report = np.full(n_users, NEVER)
        self.dash_exposed = np.full(n_users, NEVER)
        self.dash_views = np.zeros(n_users, dtype=np.int64)
        self.dash_views_before = np.zeros(n_users, dtype=np.int64)  # 28 days before the window
        self.search_exposed = np.full(n_users, NEVER)
        self.ac_searches = np.zeros(n_users, dtype=np.int64)
        self.ac_clicks = np.zeros(n_users, dtype=np.int64)
        self.events: Counter[str] = Counter()
        self.visitors: dict[str, np.ndarray] = {}

    def first_in_window(
        self,
        user: np.ndarray,
        ts: np.ndarray,
        eligible: np.ndarray,
        window: tuple[int, int],
        into: np.ndarray,
    ) -> None:
        """Record each user's first eligible time inside ``window`` (their exposure)."""
        inside = eligible & (ts >= window[0]) & (ts < window[1])
        np.minimum.at(into, user[inside], ts[inside])

    def searches(
        self, user: np.ndarray, ts: np.ndarray, clicked: np.ndarray, eligible: np.ndarray
    ) -> None:
        """Autocomplete exposure = first search in its window; count what follows."""
        window = self.windows["search-autocomplete"]
        self.first_in_window(user, ts, eligible, window, self.search_exposed)
        after = (ts >= self.search_exposed[user]) & (ts < window[1])
        np.add.at(self.ac_searches, user[after], 1)
        np.add.at(self.ac_clicks, user[after & clicked], 1)

    def dashboards(self, user: np.ndarray, ts: np.ndarray) -> None:
        start, end = self.windows["team-dashboards"]
        after = (ts >= self.dash_exposed[user]) & (ts < end)
        np.add.at(self.dash_views, user[after], 1)
        before = (ts >= start - PRE_PERIOD_MS) & (ts < start)
        np.add.at(self.dash_views_before, user[before], 1)

    def reports(self, user: np.ndarray, ts: np.ndarray) -> None:
        np.minimum.at(self.first_report, user, ts)
