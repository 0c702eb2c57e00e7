"""The analysis pages in a real browser on the tiny demo: releases, a release's chart and
verdict (reached from the overview), experiments, accounts, backlog and delivery."""

from __future__ import annotations

import re

import pytest

from conftest import screenshot

pytestmark = pytest.mark.browser

# The release estimates take ~30 s on the tiny demo; the server warms them at
# startup and the releases page waits for that one computation.
SLOW = 180_000


def login(page, live) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#key", live.read_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/")


def test_releases_then_overview_to_a_release_detail(page, live_server) -> None:
    login(page, live_server)
    page.goto(f"{live_server.url}/releases", timeout=SLOW)
    assert page.get_by_role("heading", name="Releases", level=1).is_visible()
    assert re.fullmatch(r"\d+%", page.locator("[data-figure=coverage]").inner_text())
    assert page.locator("table.releases-list tbody tr").count() == 12
    assert page.locator("table.releases-list .verdict").count() == 12
    screenshot(page, "releases")

    page.goto(f"{live_server.url}/")
    recent = page.locator(".recent-releases table tbody tr a")
    assert recent.count() >= 1
    assert re.fullmatch(
        r"\d+%", page.locator(".recent-releases [data-figure=coverage]").inner_text()
    )
    title = recent.first.inner_text()
    recent.first.click()
    page.wait_for_url(re.compile(r"/releases/[\w-]+$"))
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.locator("[data-field=verdict]").inner_text().strip()
    assert page.locator("[data-field=statement]").inner_text().strip()
    assert re.search(r"\d{4}-\d\d-\d\d", page.locator("[data-field=shipped]").inner_text())
    screenshot(page, "release")


def test_a_measured_release_draws_its_counterfactual(page, live_server) -> None:
    login(page, live_server)
    page.goto(f"{live_server.url}/releases/search-v2", timeout=SLOW)
    chart = page.locator("figure.chart svg")
    assert chart.count() == 1 and "shipped" in chart.inner_html()
    assert page.locator("figure.chart svg polyline, figure.chart svg path").count() >= 2
    screenshot(page, "release-search-v2")


def test_experiments_list_and_readout(page, live_server) -> None:
    login(page, live_server)
    page.click("nav >> text=Experiments")
    page.wait_for_url(f"{live_server.url}/experiments")
    links = page.locator("table.experiments-list tbody a")
    assert links.count() >= 1
    screenshot(page, "experiments")
    links.first.click(timeout=SLOW)
    page.wait_for_url(re.compile(r"/experiments/[\w-]+$"), timeout=SLOW)
    assert page.locator("[data-field=decision]").inner_text() in ("ship", "iterate", "abandon")
    assert page.locator("figure.chart svg").count() >= 1
    assert page.locator("table.readout tbody tr").count() >= 1
    screenshot(page, "experiment")


def test_accounts_list_and_detail(page, live_server) -> None:
    login(page, live_server)
    page.click("nav >> text=Accounts", timeout=SLOW)
    page.wait_for_url(f"{live_server.url}/accounts", timeout=SLOW)
    assert re.search(r"\$\d", page.locator("[data-figure=arr_at_risk]").inner_text())
    assert page.locator("table.accounts-list tbody tr").count() >= 5
    screenshot(page, "accounts")
    page.locator("table.accounts-list tbody a").first.click()
    page.wait_for_url(re.compile(r"/accounts/[\w-]+$"), timeout=SLOW)
    assert page.locator("figure.chart svg").count() == 1
    assert page.get_by_role("heading", name="Why: each component's part of the score").is_visible()
    screenshot(page, "account")


def test_backlog_and_delivery(page, live_server) -> None:
    login(page, live_server)
    page.goto(f"{live_server.url}/backlog", timeout=SLOW)
    assert page.locator("table.backlog-list tr.item-row").count() >= 1
    assert page.locator(".factor-table").first.inner_text().count("\n") >= 3
    screenshot(page, "backlog")
    page.select_option("select[name=by]", "roi")
    page.click(".controls button[type=submit]")
    page.wait_for_url(re.compile(r"by=roi"), timeout=SLOW)
    assert "ROI" in page.locator(".page-head").inner_text()

    page.click("nav >> text=Delivery")
    page.wait_for_url(f"{live_server.url}/delivery", timeout=SLOW)
    assert re.search(r"\d", page.locator("[data-figure=deploys_per_week]").inner_text())
    assert page.locator(".figures .band").count() == 4
    assert page.locator("table.dora-groups tbody tr").count() >= 1
    screenshot(page, "delivery")
