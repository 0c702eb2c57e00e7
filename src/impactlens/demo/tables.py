"""The CSV and YAML files of the contract, as columns and plain data.

One function per file; each returns exactly the contract's columns (plus, for
accounts and users, a few attribute columns the contract allows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from impactlens.demo.catalog import PLANTED_EXPERIMENTS, PlantedRelease
from impactlens.demo.company import PLANS, ROLES, SEGMENTS
from impactlens.demo.delivery import Delivery
from impactlens.demo.lifecycle import NEVER, TICKET_TAGS
from impactlens.demo.profile import iso_ms, iso_one
from impactlens.demo.surveys import SURVEYS, SurveyAnswers
from impactlens.demo.tickets import PRIORITIES, TicketRows
from impactlens.demo.world import World
from impactlens.demo.writer import Columns, Timestamp

REGION = {
    -8: "na-west",
    -7: "na-west",
    -6: "na-central",
    -5: "na-east",
    -4: "na-east",
    0: "emea",
    1: "emea",
    2: "emea",
}


def _iso_or_empty(values: np.ndarray) -> np.ndarray:
    text = iso_ms(np.where(values == NEVER, 0, values)).astype(object)
    text[values == NEVER] = ""
    return text


def accounts_columns(world: World) -> Columns:
    acc, life = world.accounts, world.life
    return {
        "account_id": acc.ids,
        "name": acc.names,
        "plan": PLANS[acc.plan],
        "segment": SEGMENTS[acc.segment],
        "created_at": iso_ms(acc.created_ms),
        "churned_at": _iso_or_empty(life.churn_ms),
        "seats": acc.seats,
        "region": [REGION[int(t)] for t in acc.tz_offset],
        "holdout": np.where(acc.holdout, "true", "false"),
    }


def users_columns(world: World) -> Columns:
    users = world.users
    return {
        "user_id": users.ids,
        "account_id": world.accounts.ids[users.account],
        "created_at": iso_ms(users.created_ms),
        "role": ROLES[users.role],
    }


def revenue_columns(world: World) -> Columns:
    life, acc = world.life, world.accounts
    a, m = np.nonzero(life.status != "")
    return {
        "account_id": acc.ids[a],
        "period_start": [life.months[k].isoformat() for k in m],
        "mrr": [f"{v:.2f}" for v in life.mrr[a, m]],
        "plan": PLANS[acc.plan[a]],
        "status": life.status[a, m],
    }


def surveys_columns(world: World, answers: SurveyAnswers) -> Columns:
    sel = ~answers.in_app
    order = np.argsort(answers.ts[sel], kind="stable")
    user = answers.user[sel][order]
    return {
        "response_id": [f"resp-{i:06d}" for i in range(1, len(order) + 1)],
        "responded_at": iso_ms(answers.ts[sel][order]),
        "user_id": world.users.ids[user],
        "account_id": world.accounts.ids[world.users.account[user]],
        "survey": np.array(SURVEYS)[answers.survey[sel][order]],
        "score": answers.score[sel][order],
        "comment": answers.comment[sel][order],
    }


def tickets_columns(world: World, t: TicketRows) -> Columns:
    return {
        "ticket_id": [f"tkt-{i:06d}" for i in range(1, t.n + 1)],
        "created_at": iso_ms(t.created_ms),
        "solved_at": _iso_or_empty(t.solved_ms),
        "account_id": world.accounts.ids[t.account],
        "user_id": world.users.ids[t.user],
        "priority": PRIORITIES[t.priority],
        "status": t.status,
        "tags": np.array(TICKET_TAGS)[t.tag],
        "feature": t.feature,
        "satisfaction": np.where(t.satisfaction > 0, t.satisfaction.astype(str), ""),
    }


def deployments_columns(d: Delivery) -> Columns:
    return {
        "deploy_id": d.deploy_ids,
        "service": d.service,
        "deployed_at": iso_ms(d.deployed_ms),
        "commit_sha": d.sha,
        "committed_at": iso_ms(d.committed_ms),
        "release_id": d.release_id,
        "status": d.status,
    }


def incidents_columns(d: Delivery) -> Columns:
    return {
        "incident_id": d.incident_ids,
        "started_at": iso_ms(d.started_ms),
        "resolved_at": iso_ms(d.resolved_ms),
        "severity": d.severity,
        "deploy_id": d.incident_deploy,
        "release_id": d.incident_release,
    }


def releases_yaml(world: World, releases: Sequence[PlantedRelease]) -> list[dict]:
    out = []
    for r in sorted(releases, key=lambda r: (r.day, r.id)):
        item: dict[str, object] = {
            "id": r.id,
            "title": r.title,
            "kind": r.kind,
            "shipped_at": Timestamp(iso_one(r.shipped_ms(world.period))),
            "team": r.team,
            "effort_days": r.effort_days,
            "links": [f"https://tracker.example/{r.team.upper()[:3]}-{100 + r.day}"],
        }
        if r.hypothesis is not None:
            h = r.hypothesis
            hypothesis: dict[str, object] = {
                "metric": h.metric,
                "expected": h.expected,
                "min_effect": h.min_effect,
            }
            if h.guardrails:
                hypothesis["guardrails"] = list(h.guardrails)
            item["hypothesis"] = hypothesis
        if r.audience_flag:
            item["audience"] = {"flag": r.audience_flag}
        out.append(item)
    return out


def experiments_yaml(world: World) -> list[dict]:
    out = []
    for e in PLANTED_EXPERIMENTS:
        item: dict[str, object] = {
            "id": e.id,
            "name": e.name,
            "hypothesis": e.hypothesis,
            "primary_metric": e.primary_metric,
        }
        if e.guardrails:
            item["guardrails"] = list(e.guardrails)
        item.update(
            {
                "variations": list(e.variations),
                "started_at": world.period.start + timedelta(days=e.start_day),
                "ended_at": world.period.start + timedelta(days=e.end_day),
                "unit": e.unit,
                "weights": list(e.weights),
            }
        )
        out.append(item)
    return out
