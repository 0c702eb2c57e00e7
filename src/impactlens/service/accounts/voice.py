"""The voice of the customer: NPS, CSAT and CES with their uncertainty, over time and by segment.

Every score comes with its answer count and a 95% interval, and a score from
fewer than ``FEW_ANSWERS`` answers is flagged, so an NPS of 12 answers is
shown as such. The warehouse returns per group only n, the sum and sum of
squares of the scores, and the promoter/detractor/satisfied counts.

- NPS = 100 * (P - D) / n. Each answer is x = +1 (9-10), 0 (7-8) or -1 (0-6);
  var(x) = (P + D) / n - ((P - D) / n)^2, SE = 100 * sqrt(var(x) / n), interval
  NPS +- 1.96 SE clipped to [-100, 100].
- CSAT = 100 * (answers 4-5) / n, Wilson score interval.
- CES = mean answer (1-7), t interval mean +- t(0.975, n-1) * sd / sqrt(n).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from scipy import stats

from impactlens.errors import UserError
from impactlens.warehouse import Warehouse

FEW_ANSWERS = 30
Z95 = 1.959963984540054
SURVEYS = ("nps", "csat", "ces")
PERIODS = {"week": "W", "month": "M", "quarter": "Q"}


@dataclass(frozen=True)
class SurveyScore:
    """One survey's score over one group of answers."""

    survey: str
    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    few_answers: bool
    method: str
    mean_score: float | None = None
    promoters: int | None = None  # NPS: 9-10; CSAT: 4-5 (satisfied)
    detractors: int | None = None  # NPS: 0-6
    period_start: date | None = None
    segment: str | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        for key in ("value", "ci_low", "ci_high", "mean_score"):
            if out[key] is not None:
                out[key] = round(out[key], 2)
        return out


def summarize_survey(
    survey: str,
    n: int,
    total: float = 0.0,
    sum_squares: float = 0.0,
    promoters: int = 0,
    detractors: int = 0,
) -> SurveyScore:
    """The score and interval of one group from its sufficient statistics (formulas: module doc).

    >>> s = summarize_survey("nps", 12, promoters=6, detractors=2)
    >>> round(s.value, 1), s.few_answers
    (33.3, True)
    """
    few = n < FEW_ANSWERS
    if n <= 0:
        return SurveyScore(survey, 0, None, None, None, True, "no answers")
    mean = total / n
    if survey == "nps":
        p, d = promoters / n, detractors / n
        value = 100.0 * (p - d)
        se = 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
        lo, hi = max(-100.0, value - Z95 * se), min(100.0, value + Z95 * se)
        return SurveyScore(
            "nps",
            n,
            value,
            lo,
            hi,
            few,
            "normal approximation on +1/0/-1 answers",
            mean,
            promoters,
            detractors,
        )
    if survey == "csat":
        share = promoters / n
        centre = (share + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(share * (1 - share) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return SurveyScore(
            "csat",
            n,
            100.0 * share,
            100.0 * (centre - half),
            100.0 * (centre + half),
            few,
            "Wilson score interval",
            mean,
            promoters,
        )
    if n < 2:
        return SurveyScore(survey, n, mean, None, None, few, "t interval (needs 2 answers)", mean)
    var = max(sum_squares - n * mean * mean, 0.0) / (n - 1)
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(var / n)
    return SurveyScore(survey, n, mean, mean - half, mean + half, few, "t interval", mean)


def only_accounts(table: ir.Table, accounts: list[str] | None) -> ir.Table:
    """Rows of ``table`` whose account is in ``accounts`` (a semi-join, not a long IN list)."""
    if accounts is None:
        return table
    keep = ibis.memtable(pa.table({"account_id": pa.array(list(accounts), pa.string())}))
    return table.semi_join(keep, "account_id")


def survey_stats(surveys: ir.Table, by: list) -> ir.Table:
    """Sufficient statistics of answers per group (feed the rows to ``summarize_survey``)."""
    return surveys.group_by(by).agg(
        n=surveys.count(),
        total=surveys.score.sum(),
        sum_squares=(surveys.score * surveys.score).sum(),
        promoters=ibis.cases(
            (surveys.survey == "nps", (surveys.score >= 9).cast("int64")),
            else_=(surveys.score >= 4).cast("int64"),
        ).sum(),
        detractors=((surveys.survey == "nps") & (surveys.score <= 6)).cast("int64").sum(),
    )


def summarize_row(survey: str, row: dict) -> SurveyScore:
    return summarize_survey(
        survey,
        int(row["n"]),
        float(row["total"] or 0),
        float(row["sum_squares"] or 0),
        int(row["promoters"] or 0),
        int(row["detractors"] or 0),
    )


@dataclass(frozen=True)
class SurveyTrend:
    survey: str
    period: str
    by_segment: bool
    points: tuple[SurveyScore, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "survey": self.survey,
            "period": self.period,
            "by_segment": self.by_segment,
            "few_answers_below": FEW_ANSWERS,
            "points": [p.to_dict() for p in self.points],
        }


def survey_trend(
    warehouse: Warehouse,
    survey: str = "nps",
    *,
    period: Literal["week", "month", "quarter"] = "month",
    by_segment: bool = False,
    accounts: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SurveyTrend:
    """A survey's score per period (and per account segment), each with n and interval."""
    survey = survey.lower()
    if survey not in SURVEYS:
        raise UserError(f"unknown survey {survey!r}; use one of {', '.join(SURVEYS)}")
    if period not in PERIODS:
        raise UserError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    s = warehouse.table("surveys")
    s = s.filter(s.survey.lower() == survey, s.score.notnull())
    if since is not None:
        s = s.filter(s.responded_at >= ibis.literal(since))
    if until is not None:
        s = s.filter(s.responded_at < ibis.literal(until))
    s = only_accounts(s, accounts).mutate(
        survey=ibis.literal(survey), period_start=s.responded_at.truncate(PERIODS[period]).date()
    )
    by = ["period_start"]
    if by_segment:
        acc = warehouse.table("accounts").select("account_id", "segment")
        s = s.left_join(acc, "account_id").select(
            *[c for c in s.columns], segment=ibis.coalesce(acc.segment, ibis.literal("unknown"))
        )
        by.append("segment")
    rows = survey_stats(s, by).order_by(by).to_pyarrow().to_pylist()
    points = tuple(
        _with_group(summarize_row(survey, r), r["period_start"], r.get("segment")) for r in rows
    )
    return SurveyTrend(survey, period, by_segment, points)


def _with_group(score: SurveyScore, period_start: date | None, segment: str | None) -> SurveyScore:
    from dataclasses import replace

    return replace(score, period_start=period_start, segment=segment)


@dataclass(frozen=True)
class RateRatio:
    """after / before for event counts over exposures, with an exact conditional interval."""

    before: int
    after: int
    ratio: float | None
    ci_low: float | None
    ci_high: float | None  # None when unbounded (no event before)
    p_value: float | None
    method: str = "exact conditional (Clopper-Pearson on after / (before + after))"


def rate_ratio(before: int, after: int, t_before: float = 1.0, t_after: float = 1.0) -> RateRatio:
    """Rate ratio (after/t_after) / (before/t_before), 95% exact interval, exact test of 1.

    Given the total n = before + after, ``after`` is binomial with
    p = RR t_a / (RR t_a + t_b); a Clopper-Pearson interval for p maps to RR.

    >>> r = rate_ratio(40, 20)
    >>> r.ratio, round(r.ci_low, 3), round(r.ci_high, 3)
    (0.5, 0.277, 0.876)
    """
    n = before + after
    if n == 0:
        return RateRatio(before, after, None, None, None, None)
    scale = t_before / t_after
    lo = stats.beta.ppf(0.025, after, before + 1) if after > 0 else 0.0
    hi = stats.beta.ppf(0.975, after + 1, before) if before > 0 else 1.0
    ratio = (after / before) * scale if before > 0 else None
    p_value = stats.binomtest(after, n, t_after / (t_after + t_before)).pvalue
    return RateRatio(
        before,
        after,
        ratio,
        float(lo / (1 - lo) * scale),
        float(hi / (1 - hi) * scale) if hi < 1 else None,
        float(p_value),
    )
