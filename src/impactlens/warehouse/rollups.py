"""Derived tables maintained at import time (owned by the metrics layer's needs).

``refresh_after_import`` is called by the importer inside the import's
transaction, after new events were written, with the UTC time range they span.
"""

from __future__ import annotations

from datetime import datetime


def refresh_after_import(
    warehouse: object, min_timestamp: datetime, max_timestamp: datetime
) -> None:
    """Bring derived tables up to date for events in [min_timestamp, max_timestamp]."""
    return None
