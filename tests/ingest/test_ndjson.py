"""NDJSON extraction (``ingest/ndjson.py``): one parse of each line gives what DuckDB's
per-path ``json_type`` / ``json_extract_string`` give (the reference, the old two-parse
query), and a clean chunk takes the fast query alone."""

from __future__ import annotations

import json

import duckdb
import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.ingest import ndjson
from impactlens.ingest.message_checks import check_messages
from impactlens.ingest.ndjson import extract_lines
from impactlens.ingest.segment import FIELDS, RawMessages
from impactlens.ingest.sources import LineChunk

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that needs escapes in JSON (quotes, backslashes, control characters) and
# text that does not (ASCII, non-ASCII), so both ways of reading a string run.
texts = st.text(st.sampled_from(['a', 'Z', '"', "\\", "\n", "\t", "\x00", "\x1f", "é", "😀", "/", " "]),
                max_size=8) | st.text(max_size=8)  # fmt: skip
numbers = (
    st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -0.0, 1e300, 2.5e-8])
)
scalars = st.none() | st.booleans() | numbers | texts
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(texts, inner, max_size=3), max_leaves=6)  # fmt: skip
top_names = [name for name, _ in FIELDS if "." not in name]
messages = st.dictionaries(
    st.sampled_from([*top_names, "Type", "userid", "TIMESTAMP"]),  # keys are case-sensitive
    values | st.dictionaries(st.sampled_from(["groupId", "x"]), values, max_size=2),
    max_size=8,
)


def dump(value: object, style: str) -> bytes:
    """One NDJSON line: compact, with spaces and \\u escapes, or indented on one line."""
    if style == "compact":
        return orjson.dumps(value) + b"\n"
    if style == "ascii":
        return json.dumps(value, ensure_ascii=True).encode() + b"\r\n"
    return (
        b"  " + json.dumps(value, ensure_ascii=False, separators=(" , ", " : ")).encode() + b" \n"
    )


def chunk_of(lines: list[bytes]) -> LineChunk:
    return LineChunk(pa.array(lines, pa.large_binary()), pa.array(range(1, len(lines) + 1)))


def reference(lines: list[bytes]) -> list[dict]:
    """What json_type / json_extract_string give per path (two parses of each line)."""
    paths = [path for _, path in FIELDS]
    con = duckdb.connect()
    data = pa.table({"i": range(len(lines)), "line": [line.decode() for line in lines]})
    con.register("t", data)
    rows = con.execute(
        "SELECT json_type(line) AS root, json_type(line, ?) AS t, json_extract_string(line, ?) AS v "
        "FROM t ORDER BY i",
        [paths, paths],
    ).fetchall()
    return [{"root": root, "t": t, "v": v} for root, t, v in rows]


def number_class(name: str | None) -> str | None:
    """JSON null is no type; a number's exact class (BIGINT, UBIGINT, DOUBLE) is not compared."""
    if name == "NULL":
        return None
    return "NUMBER" if name in ("BIGINT", "UBIGINT", "DOUBLE") else name


@SETTINGS
@given(st.lists(st.tuples(messages | values, st.sampled_from(["compact", "ascii", "spaced"])),
                min_size=1, max_size=12))  # fmt: skip
def test_one_parse_gives_what_json_type_and_json_extract_string_give(items) -> None:
    lines = [dump(value, style) for value, style in items]
    table = extract_lines(chunk_of(lines), 0).table.to_pylist()
    for got, want in zip(table, reference(lines), strict=True):
        assert got["ok"] is True
        assert got["root"] == want["root"]
        for k, (name, _) in enumerate(FIELDS):
            assert number_class(got[f"t:{name}"]) == number_class(want["t"][k]), name
            assert got[f"v:{name}"] == want["v"][k], name


def test_a_clean_chunk_takes_the_fast_query_and_a_malformed_line_the_checked_one(
    monkeypatch,
) -> None:
    calls = []
    real = ndjson.run

    def spy(template, **tables):
        calls.append(template)
        return real(template, **tables)

    monkeypatch.setattr(ndjson, "run", spy)
    clean = extract_lines(chunk_of([b'{"type":"track","userId":"u\\"1"}\n', b"[1]\n"]), 0)
    assert calls[0] is ndjson._FAST and ndjson._CHECKED not in calls
    assert clean.table.column("v:userId").to_pylist() == ['u"1', None]
    assert clean.table.column("root").to_pylist() == ["OBJECT", "ARRAY"]

    calls.clear()
    broken = extract_lines(chunk_of([b'{"type":"track"}\n', b'{"type":\n']), 0)
    assert calls[:2] == [ndjson._FAST, ndjson._CHECKED]
    assert broken.table.column("ok").to_pylist() == [True, False]
    assert broken.table.column("v:type").to_pylist() == ["track", None]


def test_the_chunk_is_checked_where_it_is_extracted_with_the_same_answer() -> None:
    lines = [b'{"type":"track","event":"E","userId":"u1","timestamp":"2026-03-02T10:00:00Z"}\n',
             b'{"type":"track","userId":"u2","timestamp":"2026-03-02T10:00:00Z"}\n', b"[1]\n",
             b'{"type":"identify","userId":"u3","timestamp":"2026-03-02T10:00:00Z"}\n']  # fmt: skip
    raw = extract_lines(chunk_of(lines), 0)
    assert raw.checked is not None
    assert check_messages(raw) is raw.checked
    fresh = check_messages(RawMessages(raw.table, raw.source))
    assert fresh is not raw.checked and fresh == raw.checked
    assert [p.line for p in fresh.problems] == [2, 3] and fresh.people == (3,)
