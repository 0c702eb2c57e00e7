"""The experiments part of truth.json: what each arm really got, and the power.

Power is that of a two-sided 5% z-test when the true effect is the planted one,
given the realised arm sizes (and, for the account-level experiment, the
realised between-account variance, with and without a CUPED adjustment).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo.company import DASHBOARD_SIGMA
from impactlens.demo.lifecycle import NEVER
from impactlens.demo.profile import DAY_MS, iso_one
from impactlens.demo.tally import Tally
from impactlens.demo.world import World

_Z = NormalDist()


def experiment_truth(world: World, tally: Tally) -> list[dict]:
    """Per planted experiment: design, realised counts per arm, and power or SRM test."""
    out = []
    users, asg, end = world.users, world.assign, world.period.end_ms
    for e in c.PLANTED_EXPERIMENTS:
        w0, w1 = e.window_ms(world.period)
        item = {
            "id": e.id,
            "unit": e.unit,
            "metric": e.primary_metric,
            "label": e.label,
            "true_lift_relative": e.true_lift,
            "audience": e.audience,
            "variations": list(e.variations),
            "window": [iso_one(w0), iso_one(w1)],
        }
        if e.id == "onboarding-checklist":
            exp = asg.onboarding_exposed & (users.created_ms + 7 * DAY_MS <= end)
            act = tally.first_report < users.created_ms + 7 * DAY_MS
            arms = [exp & ~asg.onboarding_treat, exp & asg.onboarding_treat]
            n = [int(a.sum()) for a in arms]
            item["observed"] = {
                "users": n,
                "activated": [int((a & act).sum()) for a in arms],
                "note": "signups whose 7-day window ends inside the period",
            }
            p0, p1 = c.ONBOARDING_BASE, c.ONBOARDING_BASE * (1 + c.ONBOARDING_LIFT)
            item["baseline"] = p0
            item["power"] = _power(
                (p1 - p0) / math.sqrt(p0 * (1 - p0) / n[0] + p1 * (1 - p1) / n[1])
            )
        elif e.id == "team-dashboards":
            item["observed"], item["power"] = _cluster(world, tally)
            item["account_habit_log_sd"] = DASHBOARD_SIGMA
        elif e.id == "search-autocomplete":
            seen = tally.search_exposed < NEVER
            assigned = [
                int((seen & ~asg.autocomplete_treat).sum()),
                int((seen & asg.autocomplete_treat).sum()),
            ]
            logged = [
                assigned[0],
                int((seen & asg.autocomplete_treat & ~asg.autocomplete_lost).sum()),
            ]
            chi2 = sum((x - sum(logged) / 2) ** 2 / (sum(logged) / 2) for x in logged)
            item["srm"] = {
                "drop_share_of_treatment": c.AUTOCOMPLETE_DROP,
                "assigned": assigned,
                "logged": logged,
                "chi2": round(chi2, 4),
                "p_value": math.erfc(math.sqrt(chi2 / 2)),
            }
        elif e.id == "pricing-page-copy":
            v = tally.visitors
            arms = [~v["treat"], v["treat"]]
            item["observed"] = {
                "visitors": [int(a.sum()) for a in arms],
                "checkout_started": [int((a & v["started"]).sum()) for a in arms],
                "checkout_completed": [int((a & v["completed"]).sum()) for a in arms],
            }
        out.append(item)
    return out


def _cluster(world: World, tally: Tally) -> tuple[dict, dict]:
    """Arm sums per account, and the power of cluster-robust (delta method) tests.

    Power is given without and with a CUPED adjustment by the same users'
    dashboard views in the 28 days before the window: account habits persist, so
    the adjustment removes most of the between-account variance.
    """
    acc = world.users.account
    exposed = tally.dash_exposed < NEVER
    n_acc = world.accounts.n
    users_per = np.bincount(acc[exposed], minlength=n_acc).astype(float)
    views_per = np.bincount(acc[exposed], weights=tally.dash_views[exposed], minlength=n_acc)
    before_per = np.bincount(
        acc[exposed], weights=tally.dash_views_before[exposed], minlength=n_acc
    )
    treat = world.assign.dashboards_treat
    obs: dict[str, list] = {"accounts": [], "users": [], "views": [], "views_28d_before": []}
    var, var_cuped = [], []
    for arm in (~treat & (users_per > 0), treat & (users_per > 0)):
        x, y, pre = views_per[arm], users_per[arm], before_per[arm]
        obs["accounts"].append(int(arm.sum()))
        obs["users"].append(int(y.sum()))
        obs["views"].append(int(x.sum()))
        obs["views_28d_before"].append(int(pre.sum()))
        scale = len(y) * y.mean() ** 2
        e = x - x.sum() / y.sum() * y  # linearised ratio (delta method)
        b = pre - pre.sum() / y.sum() * y
        theta = np.cov(e, b)[0, 1] / np.var(b, ddof=1)
        var.append(np.var(e, ddof=1) / scale)
        var_cuped.append(np.var(e - theta * b, ddof=1) / scale)
    effect = obs["views"][0] / obs["users"][0] * c.TEAM_DASHBOARDS_LIFT
    power = {
        "cluster_robust": _power(effect / math.sqrt(sum(var))),
        "cluster_robust_cuped_28d": _power(effect / math.sqrt(sum(var_cuped))),
        "effective_accounts": round(float(users_per.sum() ** 2 / (users_per**2).sum()), 1),
    }
    return obs, power


def _power(z_effect: float) -> float:
    """Power of a two-sided 5% z-test when the true effect is ``z_effect`` standard errors."""
    return round(_Z.cdf(z_effect - 1.959964) + _Z.cdf(-z_effect - 1.959964), 4)
