"""Survey answers (NPS 0-10, CSAT 1-5, CES 1-7) that follow usage and errors.

Every score = a survey's base + the account's latent satisfaction + the user's
usage level - the errors the user is exposed to at that moment + noise (the
coefficients are in ``SCORE_MODEL`` and truth.json). So NPS rises after the
export fix, and holdout users, who keep the old error rate, score lower.
About 40% of answers arrive in the product as ``Survey Responded`` events; the
rest come from the email survey tool as surveys.csv rows (never both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from impactlens.demo import catalog as c
from impactlens.demo import properties as p
from impactlens.demo.blocks import Block
from impactlens.demo.company import ENGAGEMENT_SIGMA, USER_RATE_MEAN, USER_RATE_SIGMA
from impactlens.demo.lifecycle import error_params
from impactlens.demo.profile import DAY_MS, HOUR_MS
from impactlens.demo.sessions import user_end_ms
from impactlens.demo.world import World

SURVEYS = ("nps", "csat", "ces")
ANSWER_RATE = {"nps": 0.3, "csat": 0.12, "ces": 0.1}
IN_APP_SHARE = 0.4
# score = base + sat x (account NPS mean - 7.4) + usage x z_usage - errors x (error level - 1)
#         - leaving x [the account decided to leave (leaving.py)] + N(0, noise)
SCORE_MODEL: dict[str, dict[str, Any]] = {
    "nps": {
        "base": 7.4,
        "sat": 1.0,
        "usage": 0.6,
        "errors": 3.5,
        "leaving": 3.0,
        "noise": 1.3,
        "range": (0, 10),
    },
    "csat": {
        "base": 3.8,
        "sat": 0.25,
        "usage": 0.3,
        "errors": 0.6,
        "leaving": 0.5,
        "noise": 0.7,
        "range": (1, 5),
    },
    "ces": {
        "base": 5.0,
        "sat": 0.3,
        "usage": 0.3,
        "errors": 0.8,
        "leaving": 0.5,
        "noise": 1.0,
        "range": (1, 7),
    },
}
COMMENT_SHARE = 0.45
_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "praise": {
        "search": ("Love the new search", "Search finds what I need fast"),
        "reports": ("Reports save me hours every week", "Building reports is easy"),
        "export": ("Exports are reliable now", "Export to PDF works great"),
        "billing": ("Billing is simple and clear",),
    },
    "complaint": {
        "search": ("Search results are often not relevant", "Search is slow on our workspace"),
        "reports": ("Too many clicks to build a report", "Reports are hard to share"),
        "export": ("Exports keep failing on large reports", "Export timed out again"),
        "billing": ("Billing is confusing", "We pay for seats nobody uses"),
    },
    "neutral": {
        "search": ("Search is okay",),
        "reports": ("Reports do the job",),
        "export": ("Exports work most of the time",),
        "billing": ("Would like annual billing",),
    },
}
_TOPICS = ("search", "reports", "export", "billing")


@dataclass(frozen=True, eq=False)
class SurveyAnswers:
    """Answers of one batch; ``in_app`` ones become events, the rest CSV rows."""

    ts: np.ndarray
    user: np.ndarray
    survey: np.ndarray  # index into SURVEYS
    score: np.ndarray
    comment: np.ndarray  # str, "" for none
    in_app: np.ndarray


def answer_surveys(world: World, idx: np.ndarray, rng: np.random.Generator) -> SurveyAnswers:
    """Who answered which survey when, and what they said (users ``idx``)."""
    users, accounts, period, tl = world.users, world.accounts, world.period, world.timeline
    begin = np.maximum(users.created_ms[idx] + 14 * 86_400_000, period.start_ms)
    end = user_end_ms(users, world.life, period, idx)
    parts = []
    for k, name in enumerate(SURVEYS):
        who = np.flatnonzero((end > begin) & (rng.random(len(idx)) < ANSWER_RATE[name]))
        ts = begin[who] + (rng.random(len(who)) * (end[who] - begin[who])).astype(np.int64)
        parts.append((idx[who], ts, np.full(len(who), k)))
    user = np.concatenate([x[0] for x in parts])
    ts = np.concatenate([x[1] for x in parts])
    survey = np.concatenate([x[2] for x in parts])
    a = users.account[user]
    # People answer in their working hours: keep the day, redraw the local time.
    day = period.start_ms + (ts - period.start_ms) // DAY_MS * DAY_MS
    local = (rng.normal(13, 2.5, len(ts)).clip(8, 20) * HOUR_MS).astype(np.int64)
    snapped = day + local - accounts.tz_offset[a].astype(np.int64) * HOUR_MS
    inside = (snapped >= begin[np.searchsorted(idx, user)]) & (
        snapped < end[np.searchsorted(idx, user)]
    )
    ts = np.where(inside, snapped, ts)

    z_usage = (np.log(users.rate[user] * accounts.engagement[a] / USER_RATE_MEAN)) / np.hypot(
        USER_RATE_SIGMA, ENGAGEMENT_SIGMA
    )
    improved = ~(accounts.holdout[a] & (ts >= tl.holdout_start))
    p_fail, kappa = error_params(improved, ts, tl.ship)
    error_level = (
        users.export_rate[user]
        * accounts.error_factor[a]
        * (p_fail + kappa)
        / (users.export_rate.mean() * (c.P_FAIL_BEFORE + c.KAPPA))
    )
    leaving = ts >= world.life.decided_ms[a]
    score = np.zeros(len(user))
    for k, name in enumerate(SURVEYS):
        m, sel = SCORE_MODEL[name], survey == k
        raw = (
            m["base"]
            + m["sat"] * (accounts.nps_mean[a[sel]] - 7.4)
            + m["usage"] * z_usage[sel]
            - m["errors"] * (error_level[sel] - 1)
            - m["leaving"] * leaving[sel]
            + rng.normal(0, m["noise"], int(sel.sum()))
        )
        score[sel] = np.round(raw).clip(*m["range"])
    score = score.astype(np.int64)
    comment = _comments(score, survey, error_level, users.search_v2[user], rng)
    return SurveyAnswers(ts, user, survey, score, comment, rng.random(len(user)) < IN_APP_SHARE)


def _comments(
    score: np.ndarray,
    survey: np.ndarray,
    error_level: np.ndarray,
    v2: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    high = np.array([9, 4, 6])[survey]
    low = np.array([6, 2, 3])[survey]
    mood = np.where(score >= high, "praise", np.where(score <= low, "complaint", "neutral"))
    topic_w = np.tile([0.3, 0.35, 0.2, 0.15], (len(score), 1))
    topic_w[:, 2] += np.where(mood == "complaint", 1.2 * np.maximum(error_level - 0.8, 0), 0)
    topic_w[:, 0] += np.where((mood == "praise") & v2, 0.4, 0)
    topic = (rng.random(len(score))[:, None] * topic_w.sum(1)[:, None] > np.cumsum(topic_w, 1)).sum(
        1
    )
    out = np.full(len(score), "", dtype=object)
    for i in np.flatnonzero(rng.random(len(score)) < COMMENT_SHARE):
        options = _TEMPLATES[mood[i]][_TOPICS[topic[i]]]
        out[i] = options[rng.integers(len(options))]
    return out


def survey_events(answers: SurveyAnswers) -> Block:
    """The in-app answers as ``Survey Responded`` events."""
    sel = answers.in_app
    comment = answers.comment[sel]
    has = np.array([bool(x) for x in comment], dtype=bool)
    fields = [
        ("survey", p.choices(SURVEYS, answers.survey[sel])),
        ("score", p.numbers(answers.score[sel])),
        ("comment", p.choices([None, *sorted(set(comment[has]))], _vocab_index(comment, has))),
    ]
    return Block(
        "Survey Responded",
        answers.ts[sel],
        answers.user[sel],
        p.objects(fields, np.zeros(int(sel.sum()), np.int8)),
    )


def _vocab_index(comment: np.ndarray, has: np.ndarray) -> np.ndarray:
    vocab = {text: i + 1 for i, text in enumerate(sorted(set(comment[has])))}
    return np.array(
        [vocab.get(text, 0) if ok else 0 for text, ok in zip(comment, has, strict=True)],
        dtype=np.int64,
    )
