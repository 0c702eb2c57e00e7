"""Same size and seed -> the same bytes; another seed or end -> another company."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impactlens.demo import DemoManifest, generate_company
from impactlens.demo.writer import PartWriter
from impactlens.errors import UserError


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_writes_identical_files(tiny: DemoManifest, tmp_path: Path) -> None:
    again = generate_company(tmp_path / "again", size="tiny", seed=7)
    assert _digests(again.out_dir) == _digests(tiny.out_dir)
    assert again.counts == tiny.counts


def test_another_seed_gives_another_company(tiny: DemoManifest, tmp_path: Path) -> None:
    other = generate_company(tmp_path / "other", size="tiny", seed=8)
    mine, theirs = _digests(tiny.out_dir), _digests(other.out_dir)
    assert mine.keys() == theirs.keys()
    for name in ("accounts.csv", "users.csv", "events/part-0000.parquet", "truth.json"):
        assert mine[name] != theirs[name], name


def test_end_moves_the_period(tmp_path: Path) -> None:
    m = generate_company(tmp_path / "end", size="tiny", seed=7, end=date(2025, 3, 31))
    assert m.end == date(2025, 3, 31)
    assert (m.end - m.start).days == 179
    releases = (m.out_dir / "releases.yaml").read_text()
    assert "2025-" in releases and "2026-" not in releases


def test_rerun_into_the_same_folder_leaves_no_stale_parts(
    tiny: DemoManifest, tmp_path: Path
) -> None:
    out = tmp_path / "reuse"
    generate_company(out, size="tiny", seed=7)
    (out / "events" / "part-0099.parquet").write_bytes(b"stale")
    generate_company(out, size="tiny", seed=7)
    assert _digests(out) == _digests(tiny.out_dir)


def test_progress_is_reported_up_to_done(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    generate_company(tmp_path / "p", size="tiny", progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert seen[-1] == ("done", 1.0)


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="size"):
        generate_company(tmp_path, size="huge")  # type: ignore[arg-type]


def test_parts_roll_over_before_exceeding_their_size(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    writer = PartWriter(tmp_path, rows_per_part=10, schema=schema)
    for n in (4, 4, 4, 12, 1):
        writer.add(pa.table({"x": list(range(n))}, schema=schema))
    paths = writer.close()
    assert [pq.read_metadata(p).num_rows for p in paths] == [8, 4, 12, 1]
    assert writer.rows == 25
