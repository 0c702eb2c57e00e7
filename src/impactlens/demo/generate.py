"""``generate_company``: build the whole demo company into a folder.

Stages: company (accounts, users) -> lifecycle (usage, tickets, churn, billing)
-> assignments -> events by batches of accounts (sessions, actions, exposures,
checkout, surveys) -> anonymous visitors -> business and delivery files ->
truth.json. Only the event stage is big; it holds one batch at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from impactlens.demo import blocks as b
from impactlens.demo import catalog, checkout, events, exposures, segment, surveys, tables, truth
from impactlens.demo.backlog import BACKLOG, REACH_EVENT
from impactlens.demo.company import Users, make_accounts, make_users
from impactlens.demo.delivery import make_delivery
from impactlens.demo.lifecycle import simulate_lifecycle
from impactlens.demo.profile import DEFAULT_END, SIZES, Period, Size, rng_for
from impactlens.demo.sessions import draw_sessions, user_end_ms
from impactlens.demo.tally import Tally
from impactlens.demo.tickets import make_tickets
from impactlens.demo.world import World, assign, day_noise
from impactlens.demo.writer import PartWriter, write_csv, write_json, write_ndjson_gz, write_yaml
from impactlens.errors import UserError

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class DemoManifest:
    """What ``generate_company`` wrote: where, how much, for which period and seed."""

    out_dir: Path
    size: str
    seed: int
    start: date
    end: date
    files: Mapping[str, Path] = field(default_factory=dict)
    event_files: tuple[Path, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    seconds: float = field(default=0.0, compare=False)


def generate_company(
    out_dir: Path,
    *,
    size: Size = "small",
    seed: int = 7,
    end: date | None = None,
    progress: Progress | None = None,
) -> DemoManifest:
    """Write the demo company's contract files and truth.json into ``out_dir``.

    Deterministic for (size, seed, end). ``progress(stage, fraction)`` is called
    as stages complete (fraction in [0, 1]).

    >>> m = generate_company(Path("/tmp/demo"), size="tiny")  # doctest: +SKIP
    >>> m.counts["accounts"]  # doctest: +SKIP
    30
    """
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    if size not in SIZES:
        raise UserError(f"demo size must be one of {', '.join(SIZES)}, not {size!r}")
    profile, period = SIZES[size], Period.ending(end or DEFAULT_END)
    out_dir = Path(out_dir)
    events_dir = out_dir / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for stale in events_dir.glob("*"):  # a re-run must not leave parts of an earlier one
        stale.unlink()

    report("company", 0.0)
    accounts = make_accounts(profile, period, seed)
    users = make_users(accounts, period, seed)
    life = simulate_lifecycle(accounts, users, period, seed)
    users = _present_users(users, life.churn_ms, period)
    world = World(
        profile,
        period,
        seed,
        catalog.Timeline.of(period),
        accounts,
        users,
        life,
        assign(accounts, users, life, period, seed),
        day_noise(period, seed),
    )
    report("company", 0.05)

    tally = Tally(users.n, world.timeline.windows)
    last_seen = {name: np.full(users.n, -1, dtype=np.int64) for name in set(REACH_EVENT.values())}
    ids = b.IdColumns.of(users.ids, accounts.ids, users.account, seed)
    parts = PartWriter(events_dir, profile.rows_per_part, b.FLAT_SCHEMA)
    segment_tables, answers_all = [], []
    next_message = 1
    slices = users.account_slices(accounts.n)
    n_batches = -(-accounts.n // profile.accounts_per_batch)
    for k in range(n_batches):
        acc_idx = np.arange(
            k * profile.accounts_per_batch, min((k + 1) * profile.accounts_per_batch, accounts.n)
        )
        idx = np.arange(slices[acc_idx[0]], slices[acc_idx[-1] + 1])
        rng = rng_for(seed, "events", k)
        s = draw_sessions(
            idx, users, accounts, life, period, world.day_noise, world.assign.activated, rng
        )
        track = events.session_events(world, s, rng, tally)
        track += checkout.trial_blocks(world, acc_idx, rng)
        answers = surveys.answer_surveys(world, idx, rng)
        answers_all.append(answers)
        extra = exposures.exposure_blocks(world, idx, tally, rng) + [surveys.survey_events(answers)]
        track = [_within_activity(x, world) for x in track]
        extra = [_within_activity(x, world) for x in extra]
        for block in track + extra:
            tally.events[block.event] += len(block)
            if block.event in last_seen:
                np.maximum.at(last_seen[block.event], block.user, block.ts)
        if profile.segment_in_parquet:
            track, extra = track + extra, []
        table = b.to_table(track, ids, next_message)
        next_message += table.num_rows
        parts.add(table)
        if extra:
            seg = b.to_table(extra, ids, next_message)
            next_message += seg.num_rows
            segment_tables.append(seg)
        report("events", 0.05 + 0.8 * (k + 1) / n_batches)

    visitor, chunk = 0, 30
    for k, first_day in enumerate(range(0, period.n_days, chunk)):
        rng = rng_for(seed, "visitors", k)
        days = range(first_day, min(first_day + chunk, period.n_days))
        vblocks, visitor = checkout.visitor_blocks(world, days, visitor, rng, tally)
        for block in vblocks:
            tally.events[block.event] += len(block)
        track = [x for x in vblocks if x.event != "Experiment Viewed" or profile.segment_in_parquet]
        table = b.to_table(track, ids, next_message)
        next_message += table.num_rows
        parts.add(table)
        if not profile.segment_in_parquet:
            seg = b.to_table(
                [x for x in vblocks if x.event == "Experiment Viewed"], ids, next_message
            )
            next_message += seg.num_rows
            segment_tables.append(seg)
    event_files = parts.close()
    report("events", 0.88)

    files: dict[str, Path] = {}
    counts: dict[str, int] = {"track_events": parts.rows}
    seg_path = events_dir / "segment-0000.ndjson.gz"
    counts["segment_messages"] = write_ndjson_gz(seg_path, _segment_stream(world, segment_tables))
    event_files.append(seg_path)

    answers = _merge_answers(answers_all)
    ticket_rows = make_tickets(world)
    releases = catalog.release_catalog(period, profile.extra_releases, seed)
    delivery = make_delivery(period, releases, seed)
    for name, columns in (
        ("accounts", tables.accounts_columns(world)),
        ("users", tables.users_columns(world)),
        ("surveys", tables.surveys_columns(world, answers)),
        ("tickets", tables.tickets_columns(world, ticket_rows)),
        ("revenue", tables.revenue_columns(world)),
        ("deployments", tables.deployments_columns(delivery)),
        ("incidents", tables.incidents_columns(delivery)),
    ):
        files[name] = out_dir / f"{name}.csv"
        counts[name] = write_csv(files[name], columns)
    for name, data in (
        ("releases", tables.releases_yaml(world, releases)),
        ("experiments", tables.experiments_yaml(world)),
        ("backlog", list(BACKLOG)),
    ):
        files[name] = out_dir / f"{name}.yaml"
        write_yaml(files[name], data)
        counts[name] = len(data)
    counts.update({f"event:{name}": n for name, n in sorted(tally.events.items())})
    counts["survey_events"] = int(answers.in_app.sum())
    report("files", 0.95)

    files["truth"] = out_dir / "truth.json"
    files["events"] = events_dir
    manifest = DemoManifest(
        out_dir,
        size,
        seed,
        period.start,
        period.end,
        files,
        tuple(event_files),
        counts,
        time.perf_counter() - started,
    )
    write_json(
        files["truth"],
        truth.build_truth(
            world, releases, tally, answers, ticket_rows, delivery, last_seen, manifest
        ),
    )
    report("done", 1.0)
    return manifest


def _present_users(users: Users, churn_ms: np.ndarray, period: Period) -> Users:
    """Drop users who would join after their account churned or after the period."""
    keep = (users.created_ms < churn_ms[users.account]) & (users.created_ms < period.end_ms)
    return Users(**{name: getattr(users, name)[keep] for name in users.__dataclass_fields__})


def _within_activity(block: b.Block, world: World) -> b.Block:
    """Keep events between a user's signup and the end of their activity."""
    if not len(block):
        return block
    u = block.user
    keep = (block.ts >= world.users.created_ms[u]) & (
        block.ts < user_end_ms(world.users, world.life, world.period, u)
    )
    return block if keep.all() else block.where(keep)


def _segment_stream(world: World, tables_: list):
    yield from segment.group_messages(world)
    yield from segment.identify_messages(world)
    for table in tables_:
        yield from segment.track_messages(table)


def _merge_answers(parts: list[surveys.SurveyAnswers]) -> surveys.SurveyAnswers:
    fields = surveys.SurveyAnswers.__dataclass_fields__
    return surveys.SurveyAnswers(
        **{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
    )
