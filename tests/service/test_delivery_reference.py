"""DORA figures against an independent brute-force reference on generated deploys."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactlens.service.delivery import delivery_report
from impactlens.warehouse import Warehouse

T0 = datetime(2026, 1, 5)
deploys_st = st.lists(
    st.tuples(
        st.sampled_from(["api", "web"]),
        st.integers(0, 40 * 24),  # deployed, hours after T0
        st.one_of(st.none(), st.integers(-5, 300)),  # lead time hours (None: no commit time)
        st.sampled_from(["success", "success", "failed", "rolled_back"]),
    ),
    min_size=1,
    max_size=25,
)
incidents_st = st.lists(
    st.tuples(
        st.integers(0, 40 * 24),  # started, hours after T0
        st.one_of(st.none(), st.integers(0, 100)),  # restore hours (None: still open)
        st.one_of(st.none(), st.integers(0, 30)),  # index of the deploy it names
    ),
    max_size=10,
)


def reference(deploys, incidents) -> dict:
    """The figures as docs/delivery.md defines them, computed row by row."""
    first = min(T0 + timedelta(hours=h) for _, h, _, _ in deploys).date()
    last = max(T0 + timedelta(hours=h) for _, h, _, _ in deploys).date()
    start = datetime.combine(first, datetime.min.time())
    end = datetime.combine(last, datetime.min.time()) + timedelta(days=1)
    named = {k for _, _, k in incidents if k is not None and k < len(deploys)}
    failures = sum(1 for i, d in enumerate(deploys) if d[3] != "success" or i in named)
    leads = [lead for _, _, lead, s in deploys if s == "success" and lead is not None and lead >= 0]
    inside = [r for h, r, _ in incidents if start <= T0 + timedelta(hours=h) < end]
    restores = [r for r in inside if r is not None]
    return {
        "days": (end - start).days,
        "deploys": len(deploys),
        "successful": sum(1 for d in deploys if d[3] == "success"),
        "failures": failures,
        "lead_median": float(np.median(leads)) if leads else None,
        "lead_p90": float(np.quantile(leads, 0.9)) if leads else None,
        "incidents": len(inside),
        "restore_median": float(np.median(restores)) if restores else None,
    }


@pytest.fixture(scope="module")
def wh():
    w = Warehouse.connect("duckdb://:memory:")
    w.ensure_schema()
    yield w
    w.close()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deploys=deploys_st, incidents=incidents_st)
def test_matches_the_reference(wh, deploys, incidents) -> None:
    for table in ("deployments", "incidents"):
        wh.backend.truncate_table(table)
    ids = [f"d{i}" for i in range(len(deploys))]
    wh.write(
        "deployments",
        pa.table(
            {
                "deploy_id": ids,
                "service": [d[0] for d in deploys],
                "deployed_at": [T0 + timedelta(hours=d[1]) for d in deploys],
                "committed_at": [
                    None if d[2] is None else T0 + timedelta(hours=d[1] - d[2]) for d in deploys
                ],
                "status": [d[3] for d in deploys],
            }
        ),
    )
    if incidents:
        wh.write(
            "incidents",
            pa.table(
                {
                    "incident_id": [f"i{i}" for i in range(len(incidents))],
                    "started_at": [T0 + timedelta(hours=h) for h, _, _ in incidents],
                    "resolved_at": [
                        None if r is None else T0 + timedelta(hours=h + r) for h, r, _ in incidents
                    ],
                    "deploy_id": [None if k is None else f"d{k}" for _, _, k in incidents],
                }
            ),
        )
    ref = reference(deploys, incidents)
    r = delivery_report(wh)
    o = r.overall
    assert r.days == ref["days"]
    assert (o.deploys, o.successful_deploys, o.change_failures) == (
        ref["deploys"], ref["successful"], ref["failures"],
    )  # fmt: skip
    assert o.change_failure_rate == pytest.approx(ref["failures"] / ref["deploys"])
    assert o.deploys_per_day == pytest.approx(ref["successful"] / ref["days"])
    assert o.lead_time_median_hours == pytest.approx(ref["lead_median"])
    assert o.lead_time_p90_hours == pytest.approx(ref["lead_p90"])
    assert o.incidents == ref["incidents"]
    assert o.time_to_restore_median_hours == pytest.approx(ref["restore_median"])
