"""One tiny demo company per test session, and readers for its files."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impactlens.demo import DemoManifest, generate_company


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_company(tmp_path_factory.mktemp("tiny"), size="tiny", seed=7)


@pytest.fixture(scope="session")
def truth(tiny: DemoManifest) -> dict:
    return json.loads((tiny.out_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def flat_events(tiny: DemoManifest) -> pa.Table:
    """Every Parquet event part of the tiny company, concatenated."""
    parts = sorted((tiny.out_dir / "events").glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts])


@pytest.fixture(scope="session")
def segment_messages(tiny: DemoManifest) -> list[dict]:
    path = tiny.out_dir / "events" / "segment-0000.ndjson.gz"
    with gzip.open(path, "rb") as f:
        return [orjson.loads(line) for line in f]


@pytest.fixture(scope="session")
def rows(tiny: DemoManifest) -> Callable[[str], list[dict[str, str]]]:
    """``rows("tickets")``: the rows of tickets.csv as dicts (cached)."""
    cache: dict[str, list[dict[str, str]]] = {}

    def read(name: str) -> list[dict[str, str]]:
        if name not in cache:
            with (tiny.out_dir / f"{name}.csv").open(newline="", encoding="utf-8") as f:
                cache[name] = list(csv.DictReader(f))
        return cache[name]

    return read


@pytest.fixture(scope="session")
def events_df(flat_events: pa.Table) -> pd.DataFrame:
    """The flat events as a DataFrame with the flag states pulled out of properties."""
    df = flat_events.to_pandas()
    props = df["properties"]
    df["v2"] = np.where(
        props.str.contains('"search_v2":true', regex=False),
        "on",
        np.where(props.str.contains('"search_v2":false', regex=False), "off", ""),
    )
    df["holdout"] = props.str.contains('"holdout":true', regex=False)
    return df
