"""The impactlens server: Segment-compatible ingest API, read API and dashboard.

``create_app(settings)`` is the ASGI app; ``impactlens serve`` runs it on uvicorn.
See docs/server.md for the endpoints and docs/design/ingest-durability.md for
how an acknowledged event is kept.
"""

from impactlens.server.app import create_app
from impactlens.server.settings import (
    IngestLimits,
    ServerSettings,
    settings_for_workspace,
    settings_from_file,
)

__all__ = [
    "IngestLimits",
    "ServerSettings",
    "create_app",
    "settings_for_workspace",
    "settings_from_file",
]
