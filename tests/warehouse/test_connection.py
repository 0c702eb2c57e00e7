"""The warehouse's writes: keyed insert/upsert, transactions, schema versions."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from impactlens.errors import UserError
from impactlens.warehouse import SCHEMA_VERSION, TABLES, Warehouse
from impactlens.warehouse import schema as schema_module
from impactlens.warehouse.schema import Migration

T0 = dt.datetime(2026, 3, 2, 10, 0)


def events(ids: list[str], name: str = "Report Created") -> pa.Table:
    return pa.table(
        {
            "message_id": ids,
            "timestamp": [T0] * len(ids),
            "event": [f"{name} {i}" for i in range(len(ids))],
            "actor_id": ["u1"] * len(ids),
        }
    )


def test_every_contract_entity_has_a_table(warehouse: Warehouse) -> None:
    tables = set(warehouse.backend.list_tables())
    contract = {
        "events", "users", "accounts", "releases", "experiments", "exposures",
        "surveys", "tickets", "revenue", "deployments", "incidents", "backlog",
    }  # fmt: skip
    assert contract <= tables
    assert set(TABLES) == contract | {"decisions"}


def test_insert_new_keeps_first_copy_and_ignores_known_keys(warehouse: Warehouse) -> None:
    assert warehouse.write("events", events(["a", "b", "a"])) == 2
    assert warehouse.write("events", events(["a", "b", "c"])) == 1
    rows = warehouse.table("events").order_by("message_id").to_pyarrow()
    assert rows["message_id"].to_pylist() == ["a", "b", "c"]
    # the first copy of "a" (event index 0) won, not the later one (index 2)
    assert rows["event"].to_pylist()[0] == "Report Created 0"


def test_upsert_replaces_by_composite_key_and_is_idempotent(warehouse: Warehouse) -> None:
    rows = pa.table(
        {
            "account_id": ["acme", "acme", "globex"],
            "period_start": [dt.date(2026, 3, 1)] * 3,
            "mrr": [1000.0, 1200.0, 5000.0],
        }
    )
    warehouse.write("revenue", rows)
    first = warehouse.table("revenue").order_by("account_id").to_pyarrow()
    warehouse.write("revenue", rows)
    second = warehouse.table("revenue").order_by("account_id").to_pyarrow()
    assert first.equals(second)
    assert second["mrr"].to_pylist() == [1200.0, 5000.0]  # last copy in the batch wins


def test_transaction_rolls_back_everything_on_interrupt(warehouse: Warehouse) -> None:
    warehouse.write("events", events(["kept"]))
    with pytest.raises(KeyboardInterrupt), warehouse.transaction():
        warehouse.write("events", events(["x1", "x2"]))
        warehouse.write(
            "revenue", pa.table({"account_id": ["a"], "period_start": [dt.date(2026, 1, 1)]})
        )
        raise KeyboardInterrupt
    assert warehouse.table("events").message_id.to_pyarrow().to_pylist() == ["kept"]
    assert warehouse.count("revenue") == 0


def test_schema_version_is_recorded_and_migrations_run_once(tmp_path, monkeypatch) -> None:
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    wh = Warehouse.connect(url)
    assert wh.ensure_schema() == SCHEMA_VERSION
    wh.close()

    calls: list[int] = []

    def add_table(w: Warehouse) -> None:
        calls.append(1)
        w.backend.create_table("added_by_migration", schema={"x": "int64"})

    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr("impactlens.warehouse.connection.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(
        "impactlens.warehouse.connection.MIGRATIONS",
        [Migration(SCHEMA_VERSION + 1, "test table", add_table)],
    )
    wh = Warehouse.connect(url)
    assert wh.ensure_schema() == SCHEMA_VERSION + 1
    assert wh.ensure_schema() == SCHEMA_VERSION + 1
    assert calls == [1]
    assert "added_by_migration" in wh.backend.list_tables()
    assert wh.schema_version() == SCHEMA_VERSION + 1
    wh.close()


def test_newer_warehouse_is_refused(tmp_path, monkeypatch) -> None:
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    wh = Warehouse.connect(url)
    wh.ensure_schema()
    wh.set_meta("schema_version", str(SCHEMA_VERSION + 5))
    with pytest.raises(UserError, match="newer than this impactlens"):
        wh.ensure_schema()
    wh.close()


def test_unknown_url_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown warehouse URL"):
        Warehouse.connect("postgres://nowhere/db")
