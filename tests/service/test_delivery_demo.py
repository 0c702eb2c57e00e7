"""DORA figures on the demo company's planted delivery data agree with its truth.json."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import numpy as np
import pyarrow.csv as pacsv
import pytest

from impactlens.service.delivery import delivery_report
from impactlens.warehouse import Warehouse

demo = pytest.importorskip("impactlens.demo.generate")
import_path = pytest.importorskip("impactlens.ingest").import_path


def _load(wh: Warehouse, folder, tmp_path) -> None:
    """Import only the delivery files, through the importer a user runs."""
    only = tmp_path / "delivery"
    only.mkdir()
    for name in ("deployments.csv", "incidents.csv"):
        shutil.copy(folder / name, only / name)
    assert import_path(wh, only, on_error="fail").ok


@pytest.fixture(scope="module")
def demo_company(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    manifest = demo.generate_company(tmp / "company", size="tiny")
    wh = Warehouse.connect("duckdb://:memory:")
    wh.ensure_schema()
    _load(wh, manifest.out_dir, tmp)
    truth = json.loads((manifest.out_dir / "truth.json").read_text())["dora"]
    yield manifest, wh, truth
    wh.close()


def test_demo_dora_figures_match_truth(demo_company) -> None:
    manifest, wh, truth = demo_company
    observed = truth["observed"]
    start = datetime.combine(manifest.start, datetime.min.time())
    end = datetime.combine(manifest.end, datetime.min.time()) + timedelta(days=1)
    report = delivery_report(wh, by="service", start=start, end=end)
    o = report.overall
    assert o.deploys == observed["deploys"]
    # Every incident in the demo is caused by a failed or rolled-back deploy (or by nothing),
    # so "failed, rolled back or named by an incident" is exactly truth's status-based rate.
    assert round(o.change_failure_rate, 6) == observed["change_failure_rate"]
    assert o.change_failures == observed["failed"] + observed["rolled_back"]
    assert o.incidents == observed["incidents"]
    assert round(o.time_to_restore_median_hours, 4) == observed["median_time_to_restore_hours"]
    per_service = {g.group: g.deploys for g in report.groups if g.group is not None}
    assert per_service == observed["deploys_per_service"]
    unlinked = next(g for g in report.groups if g.group is None)  # incidents naming no deploy
    assert unlinked.deploys == 0 and unlinked.incidents > 0
    workdays = int(np.busday_count(manifest.start, manifest.end + timedelta(days=1)))
    for service, rate in observed["deploys_per_workday_per_service"].items():
        assert round(per_service[service] / workdays, 4) == rate


def test_demo_lead_time(demo_company) -> None:
    manifest, wh, truth = demo_company
    # truth.json's median lead time is over every deploy; ours (DORA's) over successful
    # deploys only. Recompute ours independently from the CSV, and check both sit near
    # the planted lognormal median (20 h).
    rows = pacsv.read_csv(manifest.out_dir / "deployments.csv").to_pylist()
    lead = [
        (r["deployed_at"] - r["committed_at"]).total_seconds() / 3600
        for r in rows
        if r["status"] == "success"
    ]
    o = delivery_report(wh).overall
    assert o.lead_time_median_hours == pytest.approx(float(np.median(lead)), abs=1e-9)
    assert o.lead_time_p90_hours == pytest.approx(float(np.quantile(lead, 0.9)), abs=1e-9)
    planted = truth["planted"]["lead_time_median_hours"]
    assert abs(o.lead_time_median_hours / planted - 1) < 0.25
    assert abs(truth["observed"]["median_lead_time_hours"] / o.lead_time_median_hours - 1) < 0.1
