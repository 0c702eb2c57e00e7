"""The analysis pages and their read API, in process, on the tiny demo company.

The demo is built once for the module and trimmed to four releases, so the
release estimates (seconds each) stay quick; every page is read through
FastAPI's test client with a read key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow as pa
import pytest
from server_helpers import Served, bearer, serve

from impactlens.server import settings_for_workspace
from impactlens.server.keys import create_key

KEPT = ("search-v2", "export-timeout-fix", "sso-login", "weekly-digest-email")
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Served]:
    from impactlens.service.catalog import list_releases
    from impactlens.service.demo import build_demo

    run = build_demo(tmp_path_factory.mktemp("demo"), size="tiny", seed=7)
    ws = run.workspace
    wh = ws.connect()
    try:
        dropped = [r.release_id for r in list_releases(wh) if r.release_id not in KEPT]
        wh.delete_where_in("releases", pa.table({"release_id": dropped}))
    finally:
        wh.close()
    read, write = create_key(ws, "read").key, create_key(ws, "write").key
    with serve(settings_for_workspace(ws)) as client:
        yield Served(client, ws, write, read)


def get(demo: Served, path: str, **params) -> str:
    response = demo.client.get(path, params=params, headers=bearer(demo.read_key))
    assert response.status_code == 200, (path, response.text[:500])
    return response.text


def test_releases_list_shows_verdicts_and_coverage(demo) -> None:
    html = get(demo, "/releases")
    assert "Not yet available" not in html
    for release_id in KEPT:
        assert f'href="/releases/{release_id}"' in html
    verdicts = re.findall(r'class="verdict verdict-(\w+)"', html)
    assert len(verdicts) == len(KEPT)
    assert set(verdicts) <= {
        "met",
        "not_met",
        "harmful",
        "inconclusive",
        "too_early",
        "no_hypothesis",
    }
    coverage = re.search(r'data-figure="coverage">([^<]+)<', html).group(1)
    assert re.fullmatch(r"\d+%", coverage), coverage
    assert "Impact coverage by team" in html


def test_release_detail_has_chart_ship_date_verdict_and_statement(demo) -> None:
    body = demo.client.get("/api/v1/releases/search-v2", headers=bearer(demo.read_key)).json()
    impact = body["impact"]
    html = get(demo, "/releases/search-v2")
    assert "<svg" in html and "shipped" in html  # the chart marks the ship day
    assert impact["release"]["shipped_at"][:10] in html
    verdict = re.search(r'data-field="verdict">([^<]+)<', html).group(1)
    assert verdict == impact["verdict"].replace("_", " ")
    statement = re.search(r'data-field="statement">([^<]+)<', html).group(1)
    assert statement.startswith("search-v2 ") and statement == impact["statement"].replace(
        "'", "&#39;"
    )
    assert impact["primary"]["chart"]["days"], "the API carries the counterfactual series"


def test_release_api_lists_releases_with_coverage(demo) -> None:
    body = demo.client.get("/api/v1/releases", headers=bearer(demo.read_key)).json()
    assert body["shipped"] == len(KEPT)
    assert 0 <= body["coverage"] <= 1
    assert {r["release"]["release_id"] for r in body["releases"]} == set(KEPT)
    assert (
        demo.client.get("/api/v1/releases/nope", headers=bearer(demo.read_key)).status_code == 404
    )
    assert demo.client.get("/api/v1/releases").status_code == 401


def test_overview_shows_recent_releases_and_coverage(demo) -> None:
    get(demo, "/releases")  # the review is computed (the overview never waits for it)
    html = get(demo, "/")
    assert "Recent releases" in html
    assert 'href="/releases/search-v2"' in html
    assert re.search(r'data-figure="coverage">\d+%<', html)


def test_review_download_is_the_offline_review(demo) -> None:
    response = demo.client.get("/review.html", headers=bearer(demo.read_key))
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert "<svg" in response.text and "search-v2" in response.text


def test_experiments_list_and_readout(demo) -> None:
    statuses = demo.client.get("/api/v1/experiments", headers=bearer(demo.read_key)).json()
    assert statuses
    html = get(demo, "/experiments")
    first = statuses[0]["experiment_id"]
    assert f'href="/experiments/{first}"' in html
    readout = demo.client.get(f"/api/v1/experiments/{first}", headers=bearer(demo.read_key)).json()
    html = get(demo, f"/experiments/{first}")
    decision = re.search(r'data-field="decision">([^<]+)<', html).group(1)
    assert decision == readout["recommendation"]["decision"]
    assert "<svg" in html and "Lift by metric" in html


def test_accounts_ranked_by_arr_at_risk_and_detail(demo) -> None:
    body = demo.client.get("/api/v1/accounts", headers=bearer(demo.read_key)).json()
    rows = body["rows"]
    assert rows and [r["arr_at_risk"] for r in rows] == sorted(
        (r["arr_at_risk"] for r in rows), reverse=True
    )
    html = get(demo, "/accounts")
    assert re.search(r'data-figure="arr_at_risk">\$[\d.,kM]+<', html)
    top = rows[0]["account_id"]
    assert html.index(f'href="/accounts/{top}"') < html.index(
        f'href="/accounts/{rows[-1]["account_id"]}"'
    )
    detail = get(demo, f"/accounts/{top}")
    assert "<svg" in detail and "Why: each component" in detail
    assert demo.client.get("/accounts/nope", headers=bearer(demo.read_key)).status_code == 404


def test_backlog_shows_each_factor_with_its_source(demo) -> None:
    body = demo.client.get("/api/v1/backlog", headers=bearer(demo.read_key)).json()
    assert body["items"]
    html = get(demo, "/backlog")
    first = body["items"][0]
    assert first["title"] in html or first["item_id"] in html
    assert "estimated" in html and "reach" in html and "confidence" in html
    roi = get(demo, "/backlog", by="roi")
    assert "Candidate work ranked by ROI" in roi


def test_delivery_shows_dora_figures_with_bands(demo) -> None:
    body = demo.client.get("/api/v1/delivery", headers=bearer(demo.read_key)).json()
    assert body["overall"]["deploys"] > 0
    html = get(demo, "/delivery")
    assert re.search(r'data-figure="lead_time">[\d.]+ [hd]<', html)
    assert re.search(r'class="band band-(elite|high|medium|low)"', html)
    assert "Speed beside impact" in html and "<svg" in html
    assert "Per service" in get(demo, "/delivery", by="service")
    teams = demo.client.get("/api/v1/delivery/teams", headers=bearer(demo.read_key)).json()
    assert teams and {"team", "win_rate", "bands"} <= set(teams[0])


def test_openapi_documents_the_analysis_routes(demo) -> None:
    paths = demo.client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/releases", "/api/v1/releases/{release_id}", "/api/v1/review",
                 "/api/v1/experiments", "/api/v1/experiments/{experiment_id}",
                 "/api/v1/accounts", "/api/v1/accounts/{account_id}", "/api/v1/backlog",
                 "/api/v1/delivery", "/api/v1/delivery/teams"):  # fmt: skip
        assert path in paths, path
        assert paths[path]["get"]["security"]


def test_pages_need_a_key(demo) -> None:
    anonymous = demo.client.get("/releases", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
