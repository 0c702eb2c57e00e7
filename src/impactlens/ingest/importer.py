"""``import_path``: import a contract file or a folder of them, one transaction per file.

Each file is imported in ONE transaction together with its row in
``_impactlens_imports``: a crash, a kill or Ctrl-C mid-file leaves nothing of
that file behind, and files imported before it stay imported.

``on_error``: ``skip`` loads the valid rows and reports every rejected one;
``fail`` loads nothing of a file with any problem. ``None`` means the
per-entity default: ``skip`` for events, ``fail`` for everything else.

A file's transaction marks the rollup hours its events make stale; the
rollups are refreshed once, after all files, in a transaction of their own,
timed apart (``ImportReport.rollup_seconds``). Until then readers use raw
events (docs/design/rollup-refresh.md).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from impactlens.config import ReservedEvents
from impactlens.errors import Problem, UserError
from impactlens.ingest.discovery import FileTask, discover
from impactlens.ingest.event_load import EventLoad
from impactlens.ingest.flat_events import FlatBatch, check_flat, header_problems, staged_rows
from impactlens.ingest.message_checks import RowProblem
from impactlens.ingest.ndjson import extract_lines
from impactlens.ingest.parts import plan_part
from impactlens.ingest.reference_load import load_reference
from impactlens.ingest.report import FileReport, FileStatus, ImportReport
from impactlens.ingest.segment import RawMessages, extract_dicts
from impactlens.ingest.sources import (
    LineChunk,
    SourceError,
    csv_line_numbers,
    iter_csv_batches,
    iter_line_chunks,
    iter_parquet_batches,
    load_json_entries,
    read_csv_header,
)
from impactlens.warehouse import Warehouse
from impactlens.warehouse.rollups import refresh_pending
from impactlens.warehouse.schema import IMPORTS_TABLE, META_TABLES, PENDING_TABLE

OnError = Literal["skip", "fail"]
Progress = Callable[[str, int, int | None], None]

T = TypeVar("T")
_Checked = tuple[FlatBatch, pa.Table | None, int]

# A file with more problems than this lists the first ones and counts the rest.
MAX_LISTED_PROBLEMS = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Abandon(Exception):
    """Raised inside a file's transaction to roll it back (``on_error=fail``)."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome


class _Hasher(threading.Thread):
    """sha256 of the file, computed beside the import (hashlib releases the GIL)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True, name="impactlens-sha256")
        self.path, self.digest = path, ""

    def run(self) -> None:
        with open(self.path, "rb") as f:
            self.digest = hashlib.file_digest(f, "sha256").hexdigest()


def import_path(
    warehouse: Warehouse,
    path: Path,
    *,
    on_error: OnError | None = None,
    reserved: ReservedEvents | None = None,
    progress: Progress | None = None,
    refresh_rollups: bool = True,
) -> ImportReport:
    """Import ``path`` (a contract file or a folder) into ``warehouse``.

    With ``refresh_rollups`` false the stale rollup hours stay marked pending
    for a later ``refresh_pending`` (readers use raw events meanwhile).

    >>> report = import_path(wh, Path("data/"))  # doctest: +SKIP
    >>> report.ok, report.rows_loaded  # doctest: +SKIP
    (True, 1234)
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if on_error not in (None, "skip", "fail"):
        raise UserError(f"on_error must be skip or fail, not {on_error!r}")
    reserved = reserved or ReservedEvents()
    tasks = discover(path)
    reports = []
    for task in tasks:
        if task.problem:
            status: FileStatus = "failed" if path.is_file() or task.entity else "skipped"
            problem = Problem(task.problem, file=str(task.path))
            reports.append(
                FileReport(
                    str(task.path), task.entity, task.form, rejections=(problem,), status=status
                )
            )  # type: ignore[arg-type]
            continue
        reports.append(
            import_file(warehouse, task, on_error=on_error, reserved=reserved, progress=progress)
        )
    rollup_seconds = refresh_rollups_after_import(warehouse) if refresh_rollups else None
    return ImportReport(str(path), tuple(reports), rollup_seconds)


def refresh_rollups_after_import(warehouse: Warehouse) -> float | None:
    """Refresh the pending rollup hours; return the seconds it took (None: nothing pending).

    Runs under the import's bulk settings, so its memory stays within the
    import's limit (DuckDB spills the group-by) whatever the number of new events.
    """
    if not warehouse.count(PENDING_TABLE):
        return None
    started = time.perf_counter()
    with warehouse.bulk_session():
        refresh_pending(warehouse)
    return time.perf_counter() - started


def import_file(
    warehouse: Warehouse,
    task: FileTask,
    *,
    on_error: OnError | None,
    reserved: ReservedEvents,
    progress: Progress | None,
) -> FileReport:
    """Import one recognised file in one transaction; see the module doc."""
    mode = on_error or ("skip" if task.entity == "events" else "fail")
    total = task.path.stat().st_size
    label = f"{task.path.name}: importing"

    def tick(done: int) -> None:
        if progress is not None:
            progress(label, min(done, total), total)

    tick(0)
    hasher = _Hasher(task.path)
    hasher.start()
    started = utc_now()
    failed = False
    try:
        with warehouse.bulk_session(), warehouse.transaction():
            outcome = _load(warehouse, task, reserved, started, mode, tick)
            if mode == "fail" and outcome.problems:
                raise _Abandon(outcome)
            hasher.join()
            _log_import(warehouse, task, hasher.digest, outcome, started)
    except _Abandon as abandoned:
        outcome, failed = abandoned.outcome, True  # type: ignore[assignment]
    except SourceError as exc:
        hasher.join()
        problem = Problem(exc.reason, file=str(task.path), line=exc.line, field=exc.field)
        return FileReport(
            str(task.path),
            task.entity,
            task.label,
            rejections=(problem,),
            status="failed",
            sha256=hasher.digest,
        )
    hasher.join()
    tick(total)
    problems = _problems(task, outcome.problems)
    return FileReport(
        file=str(task.path),
        entity=task.entity,
        form=task.label,
        rows_read=outcome.read,
        rows_loaded=0 if failed else outcome.loaded,
        rows_duplicate=0 if failed else outcome.duplicate,
        rows_rejected=outcome.rejected,
        rejections=problems,
        status="failed" if failed else "loaded",
        messages=dict(getattr(outcome, "by_type", {}) or {}),
        sha256=hasher.digest,
    )


def _load(warehouse: Warehouse, task: FileTask, reserved: ReservedEvents, stamp: datetime,
          mode: OnError, tick: Callable[[int], None]):  # fmt: skip
    if task.entity != "events":
        return load_reference(
            warehouse, task, stamp, stop_writing_on_problem=mode == "fail", tick=tick
        )
    plan = plan_part(warehouse, task.path) if task.form == "parquet" and not task.gzip else None
    with EventLoad(warehouse, reserved, stamp, defer_rollups=True, part=plan) as load:
        if task.form == "ndjson":
            for raw in _ahead(_extract_jobs(iter_line_chunks(task, tick)), workers=2):
                load.add_messages(raw)
        elif task.form == "json":
            entries = load_json_entries(task)
            for start in range(0, len(entries), 50_000):
                part = entries[start : start + 50_000]
                lines = range(start + 1, start + 1 + len(part))
                load.add_messages(extract_dicts(part, start, lines))
        else:
            for checked, staged, rows_read in _ahead(_flat_jobs(task, tick), workers=2):
                load.add_flat(checked, rows_read, staged)
        return load.finish(write=not (mode == "fail" and load.problems))


def _extract_jobs(chunks: Iterator[LineChunk]) -> Iterator[Callable[[], RawMessages]]:
    seq = 0
    for chunk in chunks:
        yield functools.partial(extract_lines, chunk, seq)
        seq += len(chunk.lines)


def _flat_jobs(task: FileTask, tick: Callable[[int], None]) -> Iterator[Callable[[], _Checked]]:
    """One check job per CSV/Parquet batch; the file is read (and the header checked) here."""
    if task.form == "csv":
        names: list[str] | None = [h.strip() for h in read_csv_header(task)]
        batches = iter_csv_batches(task, tick)
    else:
        batches = iter_parquet_batches(task, tick)
        names = None
    seq = 0
    for batch in batches:
        missing = header_problems(names if names is not None else batch.schema.names)
        if missing:
            raise SourceError("; ".join(missing), line=1 if task.form == "csv" else None)
        yield functools.partial(_check_batch, batch, seq)
        seq += batch.num_rows


def _check_batch(batch: pa.RecordBatch, seq: int) -> _Checked:
    checked = check_flat(batch, seq, seq)
    return checked, staged_rows(checked) if checked.table.num_rows else None, batch.num_rows


def _ahead(jobs: Iterator[Callable[[], T]], *, workers: int) -> Iterator[T]:
    """Run the jobs in worker threads, ``workers`` ahead of the caller, results in order.

    The caller stages batch k while batches k+1.. are extracted or checked:
    DuckDB and Arrow release the GIL, so reading, checking and staging overlap
    on two cores. Reading (and progress, and Ctrl-C) stays on the caller's
    thread. At most ``workers + 2`` batches are in memory at a time (one being
    staged, the rest queued or being checked).
    """
    prefix = "impactlens-check"
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix) as pool:
        pending: collections.deque[Future[T]] = collections.deque()
        for job in jobs:
            pending.append(pool.submit(job))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _problems(task: FileTask, found: tuple[RowProblem, ...]) -> tuple[Problem, ...]:
    """Problems with the line a user sees; flat forms store the 0-based data row until here."""
    listed = found[:MAX_LISTED_PROBLEMS]
    lines: dict[int, int] = {}
    if task.entity == "events" and task.form == "csv":
        lines = csv_line_numbers(task, {p.line for p in listed})
    elif task.entity == "events" and task.form == "parquet":
        lines = {p.line: p.line + 1 for p in listed}
    out = [
        Problem(p.reason, file=str(task.path), line=lines.get(p.line, p.line), field=p.field)
        for p in listed
    ]
    if len(found) > len(listed):
        out.append(
            Problem(
                f"... and {len(found) - len(listed)} more problems not listed", file=str(task.path)
            )
        )
    return tuple(out)


def _log_import(
    warehouse: Warehouse, task: FileTask, digest: str, outcome, started: datetime
) -> None:  # type: ignore[no-untyped-def]
    columns = META_TABLES[IMPORTS_TABLE]
    row = {
        "import_id": uuid.uuid4().hex,
        "file": str(task.path.resolve()),
        "entity": task.entity,
        "sha256": digest,
        "rows_read": outcome.read,
        "rows_loaded": outcome.loaded,
        "rows_rejected": outcome.rejected,
        "started_at": started,
        "finished_at": utc_now(),
    }
    log_row(warehouse, {k: row[k] for k in columns})


def log_row(warehouse: Warehouse, row: dict[str, object]) -> None:
    """Append one row to ``_impactlens_imports`` (inside the caller's transaction)."""
    import ibis

    schema = ibis.schema(META_TABLES[IMPORTS_TABLE]).to_pyarrow()
    data = pa.Table.from_pylist([row], schema=schema)
    with warehouse.arrow_view(data) as view:
        names = [sg.column(c, quoted=True) for c in schema.names]
        warehouse.execute_statement(
            sge.insert(
                sg.select(*names).from_(view),
                sg.table(IMPORTS_TABLE, quoted=True),
                columns=[sg.to_identifier(c, quoted=True) for c in schema.names],
            )  # fmt: skip
        )
