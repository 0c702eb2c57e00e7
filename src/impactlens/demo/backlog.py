"""Candidate work for prioritisation (backlog.yaml).

Some items carry reach / impact / confidence; the others leave them out so the
prioritisation layer has to estimate them from the data. Items that extend a
shipped feature link to its release id. ``REACH_EVENT`` names the event whose
30-day active users are the honest reach of a linked item; truth.json reports
that figure from the generated rows.
"""

from __future__ import annotations

BACKLOG: tuple[dict[str, object], ...] = (
    {
        "id": "saved-searches",
        "title": "Saved searches with alerts",
        "team": "discovery",
        "effort_days": 10,
        "feature": "search-v2",
    },
    {
        "id": "search-synonyms",
        "title": "Synonyms in search",
        "team": "discovery",
        "effort_days": 6,
        "feature": "search-v2",
        "reach": 900,
        "impact": 1,
        "confidence": 0.8,
    },
    {
        "id": "scheduled-exports",
        "title": "Scheduled exports by email",
        "team": "reporting",
        "effort_days": 12,
        "feature": "export-timeout-fix",
    },
    {
        "id": "bulk-export",
        "title": "Bulk export to S3",
        "team": "reporting",
        "effort_days": 20,
        "reach": 300,
        "impact": 2,
        "confidence": 0.5,
    },
    {
        "id": "template-sharing",
        "title": "Share report templates across teams",
        "team": "reporting",
        "effort_days": 8,
        "feature": "report-templates",
    },
    {
        "id": "bulk-actions-undo",
        "title": "Undo for bulk actions",
        "team": "reporting",
        "effort_days": 4,
        "feature": "bulk-actions",
        "impact": 2,
        "confidence": 0.7,
    },
    {
        "id": "invite-reminders",
        "title": "Reminders for pending invites",
        "team": "growth",
        "effort_days": 3,
        "feature": "invite-flow-redesign",
    },
    {
        "id": "annual-billing",
        "title": "Annual billing with discount",
        "team": "growth",
        "effort_days": 9,
        "reach": 120,
        "impact": 3,
        "confidence": 0.6,
    },
    {
        "id": "scim-provisioning",
        "title": "SCIM user provisioning",
        "team": "platform",
        "effort_days": 15,
        "feature": "sso-login",
        "confidence": 0.5,
    },
    {
        "id": "audit-log",
        "title": "Audit log export",
        "team": "platform",
        "effort_days": 7,
        "reach": 60,
        "impact": 1,
        "confidence": 0.9,
    },
    {
        "id": "dashboard-embeds",
        "title": "Embed dashboards in other tools",
        "team": "growth",
        "effort_days": 14,
    },
)

# The product event whose users are the reach of an item extending a release.
REACH_EVENT = {
    "search-v2": "Search Performed",
    "export-timeout-fix": "Report Exported",
    "report-templates": "Report Created",
    "bulk-actions": "Report Created",
    "invite-flow-redesign": "User Invited",
    "sso-login": "Session Started",
}
