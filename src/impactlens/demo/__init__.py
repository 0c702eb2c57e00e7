"""The demo company: a realistic B2B SaaS with planted, known truths.

``generate_company`` writes the data contract's files (events, accounts, users,
releases, experiments, surveys, tickets, revenue, deployments, incidents,
backlog) plus ``truth.json``, which records every planted effect so that tests of
later analyses can check they recover it. See docs/demo-company.md.
"""

from impactlens.demo.generate import DemoManifest, generate_company
from impactlens.demo.profile import DEFAULT_END, SIZES

__all__ = ["DEFAULT_END", "SIZES", "DemoManifest", "generate_company"]
