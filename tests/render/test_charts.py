"""The chart module: valid standalone SVG, gaps, bands, markers; PNG and HTML files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from impactlens.render.charts import Band, Marker, Series, bar_chart_svg, line_chart_svg, save_chart

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(6)]
NS = "{http://www.w3.org/2000/svg}"


def test_line_chart_is_valid_svg_with_gaps_band_and_markers() -> None:
    svg = line_chart_svg(
        [
            Series("a <b>", DAYS, [1, 2, None, 4, 5, 6]),
            Series("b", DAYS, [2, 2, 2, 2, 2, float("nan")]),
        ],
        title="Errors & co",
        y_label="share",
        band=Band(DAYS, [0, 1, 1, 3, 4, 5], [2, 3, 3, 5, 6, 7]),
        markers=[Marker(DAYS[3], "search-v2")],
    )
    root = ET.fromstring(svg)
    polylines = root.findall(f"{NS}polyline")
    assert len(polylines) == 3  # the first series breaks at its missing point
    assert len(root.findall(f"{NS}polygon")) == 1
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Errors & co" in texts and "a <b>" in texts and "search-v2" in texts
    assert "<script" not in svg


def test_bar_chart_and_degenerate_inputs() -> None:
    root = ET.fromstring(bar_chart_svg([Series("n", DAYS[:3], [3, 0, -2])], title="t", y_label="n"))
    assert len(root.findall(f"{NS}rect")) == 3 + 1  # three bars and one legend swatch
    ET.fromstring(line_chart_svg([Series("flat", [1, 2], [5, 5])], title="flat", y_label=""))
    ET.fromstring(line_chart_svg([Series("none", [], [])], title="empty", y_label=""))
    ET.fromstring(line_chart_svg([Series("one", [1], [None])], title="missing", y_label=""))


def test_save_chart_picks_the_format_by_suffix(tmp_path) -> None:
    series = [Series("x", DAYS, [1, 3, 2, 5, 4, 6])]
    png = save_chart(
        tmp_path / "c.png",
        series,
        title="t",
        y_label="y",
        markers=[Marker(DAYS[2], "m")],
        band=Band(DAYS, [0] * 6, [7] * 6),
    )
    assert png.read_bytes()[:4] == b"\x89PNG"
    html = save_chart(tmp_path / "c.html", series, title="t", y_label="y", kind="bar").read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html
    assert (
        save_chart(tmp_path / "c.svg", series, title="t", y_label="y")
        .read_text()
        .startswith("<svg")
    )
    with pytest.raises(ValueError, match="use .png, .svg or .html"):
        save_chart(tmp_path / "c.pdf", series, title="t", y_label="y")
