"""Read API and dashboard, in process: status, metrics, escaping, injection, errors, login."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from server_helpers import Served, basic, bearer, make_workspace, serve

from impactlens.server import settings_for_workspace
from impactlens.server.keys import create_key

XSS = "<script>alert(1)</script>"
INJECTION = "' OR 1=1 --"
METRICS = f"""
metrics:
  - name: reports
    label: Reports created
    description: "Reports people create <b>not bold</b>"
    kind: count
    event: Report Created
    higher_is_better: true
    north_star: true
    segments: [plan]
  - name: reporters
    label: People creating reports
    kind: unique
    event: Report Created
    higher_is_better: true
    indicator: leading
  - name: scripted
    label: Scripted
    kind: count
    event: "{XSS}"
    higher_is_better: true
"""
DAY0 = date(2026, 1, 5)


@pytest.fixture
def loaded(tmp_path) -> Served:
    """A served workspace with two weeks of events sent through the ingest API."""
    ws = make_workspace(tmp_path / "acme", METRICS)
    write, read = create_key(ws, "write").key, create_key(ws, "read").key
    with serve(settings_for_workspace(ws)) as client:
        batch = []
        for day in range(14):
            for i in range(day + 1):
                ts = f"{DAY0 + timedelta(days=day)}T12:00:00Z"
                batch.append({"type": "track", "event": "Report Created", "userId": f"u{i}",
                              "messageId": f"r-{day}-{i}", "timestamp": ts})  # fmt: skip
        batch.append({"type": "track", "event": XSS, "userId": "u1", "messageId": "x",
                      "timestamp": f"{DAY0}T13:00:00Z"})  # fmt: skip
        response = client.post("/v1/batch", json={"batch": batch}, headers=basic(write))
        assert response.status_code == 200, response.text
        served = Served(client, ws, write, read)
        served.wait_loaded()
        yield served


def test_status_reports_the_warehouse_overview_and_ingest(loaded) -> None:
    body = loaded.client.get("/api/v1/status", headers=bearer(loaded.read_key)).json()
    rows = {e["entity"]: e["rows"] for e in body["status"]["entities"]}
    assert rows["events"] == 106
    assert body["overview"]["active_users_7d"] == 14
    assert body["ingest"]["loaded"] == 106 and body["ingest"]["pending_bytes"] == 0
    assert "url" not in body["status"]  # no file paths out of the server


def test_metrics_list_and_series(loaded) -> None:
    headers = bearer(loaded.read_key)
    names = [m["name"] for m in loaded.client.get("/api/v1/metrics", headers=headers).json()]
    assert names == ["reports", "reporters", "scripted"]
    params = {"by": "day", "from": "2026-01-05", "to": "2026-01-18"}
    series = loaded.client.get("/api/v1/metrics/reports", params=params, headers=headers).json()
    assert [p["value"] for p in series["points"]] == [float(d + 1) for d in range(14)]
    assert series["start"] == "2026-01-05" and series["end"] == "2026-01-18"
    weekly = loaded.client.get(
        "/api/v1/metrics/reports", params={**params, "by": "week"}, headers=headers
    ).json()
    assert sum(p["value"] for p in weekly["points"]) == 105


def test_unknown_names_and_injection_attempts_are_user_errors(loaded) -> None:
    headers = bearer(loaded.read_key)
    get = loaded.client.get
    assert get("/api/v1/metrics/nope", headers=headers).status_code == 404
    assert get(f"/api/v1/metrics/{INJECTION}", headers=headers).status_code == 404
    response = get("/api/v1/metrics/reports", params={"segment": INJECTION}, headers=headers)
    assert response.status_code == 404 and "segment" in response.json()["message"]
    assert (
        get("/api/v1/metrics/reports", params={"from": INJECTION}, headers=headers).status_code
        == 422
    )
    assert (
        get("/api/v1/metrics/reports", params={"by": INJECTION}, headers=headers).status_code == 422
    )
    backwards = {"from": "2026-01-10", "to": "2026-01-01"}
    assert get("/api/v1/metrics/reports", params=backwards, headers=headers).status_code == 400
    # A NUL byte would end the literal early in DuckDB's parser (a 500 before): a user error.
    for path in ("/api/v1/releases/a%00b", "/api/v1/accounts/a%00b", "/api/v1/metrics/a%00b"):
        response = get(path, headers=headers)
        assert response.status_code == 400 and "NUL" in response.json()["message"], path
    response = get("/api/v1/metrics/reports", params={"segment": "pl\x00an"}, headers=headers)
    assert response.status_code == 400
    # A declared segment works, and the data are untouched by the attempts above.
    response = get("/api/v1/metrics/reports", params={"segment": "plan"}, headers=headers)
    assert response.status_code == 200
    assert loaded.count("events") == 106


def test_event_names_and_descriptions_are_escaped_in_pages(loaded) -> None:
    loaded.client.cookies.set("impactlens_key", loaded.read_key)
    page = loaded.client.get("/metrics/scripted").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert XSS not in page
    listing = loaded.client.get("/metrics").text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in listing and "<b>not bold</b>" not in listing


def test_dashboard_login_sets_a_strict_httponly_cookie(loaded) -> None:
    client = loaded.client
    response = client.get("/metrics", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fmetrics"
    response = client.post("/login", data={"key": loaded.write_key, "next": "/metrics"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 401 and "not a valid read key" in response.text
    response = client.post("/login", data={"key": loaded.read_key, "next": "//evil.example/"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    overview = client.get("/")
    assert overview.status_code == 200
    assert "Reports created" in overview.text and "<svg" in overview.text
    assert client.post("/login", data={"key": loaded.read_key},
                       headers={"Origin": "https://evil.example"}).status_code == 403  # fmt: skip
    client.post("/logout", follow_redirects=False)
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_page_renders_and_pages_not_built_yet_say_so(loaded, monkeypatch) -> None:
    from impactlens.server import pages

    loaded.client.cookies.set("impactlens_key", loaded.read_key)
    for path in ("/", "/metrics", "/metrics/reports?by=week", "/metrics/reports?segment=plan"):
        response = loaded.client.get(path)
        assert response.status_code == 200, path
        assert "content-security-policy" in response.headers
    missing = loaded.client.get("/metrics/reprts")
    assert missing.status_code == 404 and "reports" in missing.text  # suggests the close name
    # A nav entry whose analysis has no page yet says so, with what it will show.
    entry = pages.NavEntry(
        "later", "/later", "Later", False, "What later shows.", "impactlens later"
    )
    monkeypatch.setattr(pages, "NAV", (*pages.NAV, entry))
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    page = pages.render(request, "unavailable.html", active="later", workspace="acme", entry=entry)
    text = page.body.decode()
    assert "Not yet available" in text and "What later shows." in text
    assert 'href="/later"' in text and "soon" in text


def test_an_internal_error_says_nothing_of_the_internals(loaded, monkeypatch) -> None:
    import impactlens.server.routes_api as routes

    def broken(runtime):
        raise RuntimeError("secret detail /var/lib/x.duckdb")

    monkeypatch.setattr(routes, "read_status", broken)
    quiet = TestClient(loaded.client.app, raise_server_exceptions=False)
    response = quiet.get("/api/v1/status", headers=bearer(loaded.read_key))
    assert response.status_code == 500
    assert "secret" not in response.text and "internal" in response.json()["code"]


def test_openapi_describes_the_api(served) -> None:
    spec = served.client.get("/openapi.json").json()
    for path in ("/v1/track", "/v1/batch", "/v1/import", "/api/v1/status", "/api/v1/metrics",
                 "/api/v1/metrics/{name}"):  # fmt: skip
        assert path in spec["paths"], path
    assert set(spec["components"]["securitySchemes"]) == {"basicAuth", "bearerAuth"}
