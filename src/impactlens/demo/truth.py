"""truth.json: every planted truth, with what the generated rows actually hold.

For each planted effect it records the design (metric, relative effect,
audience, dates) and, where a check needs it, the realised figures from the
rows (arm sizes, sums, DORA numbers) so a later analysis can be tested against
both the truth and the sampling noise around it.
"""

from __future__ import annotations

from dataclasses import asdict
from statistics import NormalDist

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo import events as ev
from impactlens.demo.backlog import BACKLOG, REACH_EVENT
from impactlens.demo.company import TRIAL_CONVERSION, TRIAL_DAYS
from impactlens.demo.delivery import PLANTED, Delivery, dora_figures
from impactlens.demo.experiment_truth import experiment_truth
from impactlens.demo.leaving import CHURN_MODEL, DETRACTOR_BELOW, NEVER, WIND_DOWN
from impactlens.demo.lifecycle import DISENGAGEMENT, TICKET_TAGS, USAGE_STEP_SD
from impactlens.demo.profile import DAY_MS, WEEKDAY_FACTOR, iso_one
from impactlens.demo.surveys import ANSWER_RATE, IN_APP_SHARE, SCORE_MODEL, SURVEYS, SurveyAnswers
from impactlens.demo.tally import Tally
from impactlens.demo.tickets import TicketRows
from impactlens.demo.world import World

_Z = NormalDist()


def build_truth(
    world: World,
    releases,
    tally: Tally,
    answers: SurveyAnswers,
    tickets: TicketRows,
    delivery: Delivery,
    last_seen: dict,
    manifest,
) -> dict:
    period = world.period
    return {
        "generator": {
            "size": manifest.size,
            "seed": manifest.seed,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "timestamps": "UTC",
        },
        "files": {k: str(v.relative_to(manifest.out_dir)) for k, v in manifest.files.items()},
        "event_files": [str(p.relative_to(manifest.out_dir)) for p in manifest.event_files],
        "counts": dict(manifest.counts),
        "seasonality": {"weekday_factor_mon_to_sun": WEEKDAY_FACTOR.tolist()},
        "holdout": _holdout(world),
        "flags": {
            "search_v2": {
                "share": 0.5,
                "by": "hash of user_id",
                "excludes": "holdout",
                "users_in_rollout": int(world.users.search_v2.sum()),
            }
        },
        "rates": _rates(),
        "releases": [_release(world, r) for r in releases if r in c.PLANTED_RELEASES],
        "minor_releases": [r.id for r in releases if r not in c.PLANTED_RELEASES],
        "confounded": [
            {
                "releases": ["report-templates", "report-builder-speedup"],
                "metric": "reports_per_active_user",
                "combined_relative": round((1 + c.TEMPLATES_LIFT) * (1 + c.SPEEDUP_LIFT) - 1, 6),
            }
        ],
        "experiments": experiment_truth(world, tally),
        "churn": _churn(world),
        "surveys": {
            "score_model": SCORE_MODEL,
            "answer_rate": ANSWER_RATE,
            "in_app_share": IN_APP_SHARE,
            "counts": {
                s: {
                    "in_app": int(((answers.survey == k) & answers.in_app).sum()),
                    "csv": int(((answers.survey == k) & ~answers.in_app).sum()),
                }
                for k, s in enumerate(SURVEYS)
            },
        },
        "tickets": {
            "by_tag": {t: int((tickets.tag == k).sum()) for k, t in enumerate(TICKET_TAGS)},
            "driver": "expected errors (export failures, bulk-action errors) and sessions",
        },
        "dora": {
            "planted": PLANTED,
            "observed": dora_figures(
                delivery.service,
                delivery.deployed_ms,
                delivery.committed_ms,
                delivery.status,
                delivery.started_ms,
                delivery.resolved_ms,
                int((period.weekday_factor() > 0.5).sum()),
            ),
        },
        "backlog": _backlog(world, last_seen),
    }


def _holdout(world: World) -> dict:
    acc = world.accounts
    return {
        "start": iso_one(world.timeline.holdout_start),
        "share": c.HOLDOUT_SHARE,
        "accounts": acc.ids[acc.holdout].tolist(),
        "users": int(acc.holdout[world.users.account].sum()),
        "attribute": "accounts.csv holdout=true",
        "event_flag": "properties.flags.holdout=true",
        "receives": "no release effect and no experiment after the start",
        "expected_cumulative_relative": {
            "search_click_through": round(0.5 * c.SEARCH_V2_LIFT, 6),
            "error_rate": round(
                (c.P_FAIL_AFTER + c.KAPPA_BULK) / (c.P_FAIL_BEFORE + c.KAPPA) - 1, 6
            ),
            "export_failure_rate": round(c.P_FAIL_AFTER / c.P_FAIL_BEFORE - 1, 6),
            "reports_per_active_user": round((1 + c.TEMPLATES_LIFT) * (1 + c.SPEEDUP_LIFT) - 1, 6),
        },
    }


def _rates() -> dict:
    return {
        "searches_per_session": ev.SEARCHES_PER_SESSION,
        "click_p_mean": 0.42,
        "search_latency_median_ms": {
            "before": ev.LATENCY_MEDIAN_MS,
            "search_v2": ev.LATENCY_V2_MEDIAN_MS,
        },
        "dashboards_per_session": ev.DASHBOARDS_PER_SESSION,
        "reports_per_session": ev.REPORTS_PER_SESSION,
        "export_failure_p": {"before_fix": c.P_FAIL_BEFORE, "after_fix": c.P_FAIL_AFTER},
        "other_errors_per_export": {
            "base": round(c.KAPPA, 6),
            "after_bulk_actions": round(c.KAPPA_BULK, 6),
        },
        "error_model": "E[Error Shown | session] = exports x account factor x (p_fail + kappa)",
        "activation_7d": {
            "base": c.ONBOARDING_BASE,
            "checklist": round(c.ONBOARDING_BASE * (1 + c.ONBOARDING_LIFT), 6),
        },
    }


def _release(world: World, r: c.PlantedRelease) -> dict:
    shipped = r.shipped_ms(world.period)
    return {
        "id": r.id,
        "team": r.team,
        "kind": r.kind,
        "shipped_at": iso_one(shipped),
        "label": r.label,
        "hypothesis": None
        if r.hypothesis is None
        else {
            "metric": r.hypothesis.metric,
            "expected": r.hypothesis.expected,
            "min_effect": r.hypothesis.min_effect,
            "guardrails": list(r.hypothesis.guardrails),
        },
        "audience": {"flag": r.audience_flag}
        if r.audience_flag
        else "everyone outside the holdout",
        "true_effects": [
            {"metric": e.metric, "relative": e.relative, "audience": e.audience, "note": e.note}
            for e in r.effects
        ],
        "pre_period_days": round((shipped - world.period.start_ms) / DAY_MS, 2),
        "post_period_days": round((world.period.end_ms - shipped) / DAY_MS, 2),
    }


def _churn(world: World) -> dict:
    life, acc = world.life, world.accounts
    churned = life.churn_ms < NEVER
    return {
        "model": (
            "a paying account decides to leave by a monthly hazard, logit h = intercept"
            " + sum(coef x feature), then winds down and churns lead_days later"
        ),
        "coefficients": CHURN_MODEL,
        "features": {
            "usage_decline": (
                "log expected activity (users present x their session rates x the latent usage)"
                " at mid-month m-1 minus mid-month m; the account's events follow it"
            ),
            "log1p_tickets_per_10_seats": (
                "log(1 + 10 x tickets the account filed in month m / max(seats, 10)),"
                " tickets.csv and accounts.csv seats"
            ),
            "detractor": f"account's latent NPS mean below {DETRACTOR_BELOW} (its NPS answers are low)",
            "log_seats": "log of the account's seats (accounts.csv seats)",
        },
        "wind_down": {
            **asdict(WIND_DOWN),
            "note": (
                "from the decision on, log usage falls by `decline` every 30 days, the account"
                " files `tickets` extra billing tickets every 30 days and its survey answers lose"
                " surveys.leaving points; it churns lead_days later"
            ),
        },
        "decided": int((life.decided_ms < NEVER).sum()),
        "disengagement": {
            **asdict(DISENGAGEMENT),
            "step_sd": USAGE_STEP_SD,
            "note": (
                "log usage is a monthly walk: each month an account starts, with probability"
                " start, a run of `months` months in which it falls by `decline` a month"
            ),
        },
        "trial": {
            "days": TRIAL_DAYS,
            "conversion": TRIAL_CONVERSION,
            "expired_churn": "trial_expired",
        },
        "accounts": int(acc.n),
        "churned": int(churned.sum()),
        "by_reason": {r: int((life.churn_reason == r).sum()) for r in ("hazard", "trial_expired")},
        "churned_accounts": [
            {
                "account_id": str(acc.ids[a]),
                "churned_at": iso_one(int(life.churn_ms[a])),
                "reason": str(life.churn_reason[a]),
            }
            for a in np.flatnonzero(churned)
        ],
    }


def _backlog(world: World, last_seen: dict) -> list[dict]:
    since = world.period.end_ms - 30 * DAY_MS
    out = []
    for item in BACKLOG:
        row = {
            "id": item["id"],
            "missing": [k for k in ("reach", "impact", "confidence") if k not in item],
        }
        feature = item.get("feature")
        if feature in REACH_EVENT:
            event = REACH_EVENT[feature]
            row["reach_event"] = event
            row["reach_30d_users"] = int((last_seen[event] >= since).sum())
        out.append(row)
    return out
