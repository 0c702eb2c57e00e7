"""The dashboard as a person uses it: sign in, read the overview, click through to a metric."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import screenshot

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"


def login(page, live) -> None:
    page.goto(f"{live.url}/")
    assert "/login" in page.url
    page.fill("#key", live.read_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")


def test_sign_in_and_read_the_overview(page, live_server) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("#key", "ilr_000000000000_" + "0" * 48)
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "That is not a valid read key."
    screenshot(page, "login-failed")

    login(page, live_server)
    assert page.get_by_role("heading", name="Overview").is_visible()
    for figure in ("events_per_day", "active_accounts", "active_users", "mrr"):
        text = page.locator(f"[data-figure={figure}]").inner_text()
        assert re.search(r"\d", text), (figure, text)
    assert page.locator(".indicator.north-star figure.chart svg polyline").count() >= 1
    assert page.locator(".indicator figure.chart svg").count() >= 4
    rows = page.locator("table.entities tbody tr")
    assert rows.count() == 13  # one per entity of the contract
    screenshot(page, "overview")


def test_click_from_the_overview_to_a_metric_and_change_its_grain(page, live_server) -> None:
    login(page, live_server)
    north_star = page.locator(".indicator.north-star h2 a")
    label = north_star.inner_text()
    north_star.click()
    page.wait_for_url(re.compile(r"/metrics/\w+"))
    assert page.get_by_role("heading", level=1).inner_text() == label
    assert page.locator("figure.chart svg polyline").count() >= 1
    page.select_option("select[name=by]", "week")
    page.click(".controls button[type=submit]")
    page.wait_for_url(re.compile(r"by=week"))
    assert page.locator("figure.chart svg polyline").count() >= 1
    page.locator("details summary").click()
    assert page.locator("details table tbody tr").count() >= 4
    screenshot(page, "metric")


def test_metrics_list_and_navigation(page, live_server) -> None:
    login(page, live_server)
    page.click("nav >> text=Metrics")
    page.wait_for_url(f"{live_server.url}/metrics")
    assert page.get_by_role("heading", name="North star").is_visible()
    assert page.get_by_role("heading", name="Leading indicators").is_visible()
    assert page.locator("table.metrics-list tbody tr").count() >= 10
    screenshot(page, "metrics")
    nav = [a.inner_text().split("\n")[0] for a in page.locator("nav a").all()]
    assert nav[:1] == ["Overview"] and nav[-1] == "Metrics"
    for label in ("Releases", "Experiments", "Accounts", "Backlog", "Delivery"):
        assert any(item.startswith(label) for item in nav), label
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/login"))


def test_user_data_with_markup_shows_as_text(page, live_server) -> None:
    metrics = live_server.root / "metrics.yaml"
    metrics.write_text(
        metrics.read_text()
        + f'\n  - name: xss_probe\n    label: "{XSS}"\n    kind: count\n'
        + f'    event: "{XSS}"\n    higher_is_better: true\n'
    )
    event = {"userId": "u1", "event": XSS, "timestamp": "2026-01-05T10:00:00Z", "messageId": "xss"}
    response = httpx.post(
        f"{live_server.url}/v1/track", json=event, auth=(live_server.write_key, "")
    )
    assert response.status_code == 200
    login(page, live_server)
    page.goto(f"{live_server.url}/metrics")
    assert page.get_by_text(XSS, exact=True).is_visible()
    page.get_by_text(XSS, exact=True).click()
    page.wait_for_url(re.compile(r"/metrics/xss_probe"))
    assert page.get_by_role("heading", level=1).inner_text() == XSS
    assert page.locator("code.event").inner_text() == XSS
    screenshot(page, "escaped-markup")
