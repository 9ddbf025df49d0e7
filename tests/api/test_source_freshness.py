"""Source freshness, dbt's way: `dbt source freshness` runs after each published build and GET /sources
reports its sources.json. A load too old is an `error` there, and the build that checked it still succeeds
(the full pipeline's check, all `pass`, is in test_api.py: test_sources_with_loads_and_freshness);
a dbt that cannot run at all is one warning line. Real loads, real dbt, on DuckDB and Postgres."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.dbt_project import target_path
from core.warehouse import Warehouse
from orchestration.dbt import build, check_source_freshness, ensure_manifest
from tests.api.conftest import API_KEY, KEY
from tests.conftest import warehouse_env
from tests.dbt.conftest import elt, rows

OLD_LOAD_ID = "20200101T000000.000000Z-0a0a0a"  # a load of New Year's Day 2020, 00:00:00 UTC
RAW_TABLES = ("customers", "exchange_rates", "products", "sales", "stores")


def sources_by_table(warehouse: Warehouse) -> tuple[dict[str, dict], int]:
    """GET /sources over the warehouse: each raw table's `applied` (loads and freshness) by table name; and
    the status code of GET /artifacts/sources."""
    config = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=target_path(warehouse))
    with TestClient(create_app(config)) as client:
        response = client.get("/sources", headers=KEY)
        assert response.status_code == 200, response.text
        artifact = client.get("/artifacts/sources", headers=KEY)
    items = {item["unique_id"]: item["applied"] for item in response.json()["items"]}
    return {table: items[f"source.retail_elt.raw.{table}"] for table in RAW_TABLES}, artifact.status_code


def test_an_old_load_is_an_error_that_fails_no_build_and_an_unreadable_table_a_runtime_error(
    target: str, sample_dir: Path, tmp_path: Path
) -> None:
    for env in warehouse_env(target, tmp_path):
        env = {**env, "ELT_DBT_TARGET_ROOT": str(tmp_path / "target")}
        elt("load", "--data-dir", str(sample_dir), env=env)
        warehouse = Warehouse.from_env(environ={**os.environ, **env})
        load_id = rows(warehouse, "select distinct _load_id as load_id from raw.stores")[0]["load_id"]

        # Loaded, never built: the manifest of `dbt parse` only, no freshness check yet.
        ensure_manifest(warehouse)
        before, artifact_status = sources_by_table(warehouse)
        assert artifact_status == 404
        for table, applied in before.items():
            assert applied["freshness"] == {
                "status": "never_checked",
                "max_loaded_at": None,
                "snapshotted_at": None,
                "age_seconds": None,
                "warn_after_seconds": 36 * 3600,
                "error_after_seconds": 72 * 3600,
                "message": None,
            }, table
            assert applied["last_successful_load"]["load_id"] == load_id, table

        # The sales rows now say they came from a 2020 load; a build (of one model, to be quick) is published,
        # then dbt checks the sources.
        conn = warehouse.connect()
        try:
            conn.execute(f"update raw.sales set _load_id = '{OLD_LOAD_ID}'")
        finally:
            conn.close()
        outcome = build(warehouse, select=["stg_audit__loads"], quiet=True)
        assert outcome.success and outcome.published is not None  # an `error` freshness fails nothing
        assert outcome.freshness is not None and outcome.freshness.note == "source freshness: 1 error, 4 pass"
        assert outcome.freshness.sources_json == target_path(warehouse) / "sources.json"
        assert outcome.freshness.statuses["source.retail_elt.raw.sales"] == "error"
        assert (target_path(warehouse) / "manifest.json").is_file()

        after, artifact_status = sources_by_table(warehouse)
        assert artifact_status == 200
        sales_applied = after.pop("sales")
        assert sales_applied["last_successful_load"]["load_id"] == load_id  # audit.loads knows better than dbt
        sales = sales_applied["freshness"]
        assert sales["status"] == "error"
        assert datetime.fromisoformat(sales["max_loaded_at"]) == datetime(2020, 1, 1, tzinfo=UTC)
        checked = datetime.fromisoformat(sales["snapshotted_at"])
        assert sales["age_seconds"] == pytest.approx((checked - datetime(2020, 1, 1, tzinfo=UTC)).total_seconds())
        assert sales["age_seconds"] > sales["error_after_seconds"] == 72 * 3600
        started = datetime.strptime(load_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        for table, applied in after.items():
            freshness = applied["freshness"]
            assert freshness["status"] == "pass", (table, freshness)
            assert datetime.fromisoformat(freshness["max_loaded_at"]).replace(microsecond=0) == started, table

        # A table dbt cannot check: dbt 1.11 leaves it out of sources.json; check_source_freshness writes it
        # back in with dbt's own writer, so /sources says `runtime error` (and why) rather than `never_checked`.
        conn = warehouse.connect()
        try:
            conn.execute("drop table raw.stores")
        finally:
            conn.close()
        check = check_source_freshness(warehouse)
        assert check.note == "source freshness: 1 error, 3 pass, 1 runtime error"
        assert check.statuses["source.retail_elt.raw.stores"] == "runtime error"
        stores = sources_by_table(warehouse)[0]["stores"]["freshness"]
        assert stores["status"] == "runtime error" and "stores" in stores["message"]
        assert (stores["warn_after_seconds"], stores["error_after_seconds"]) == (36 * 3600, 72 * 3600)
        assert stores["max_loaded_at"] is None and stores["age_seconds"] is None


def test_dbt_that_cannot_run_is_a_warning_line_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    environ = {
        "ELT_TARGET": "duckdb",
        "ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"),
        "ELT_DBT_PROJECT_DIR": str(tmp_path / "no-project"),  # no dbt_project.yml: dbt stops before any check
    }
    (tmp_path / "no-project").mkdir()
    warehouse = Warehouse.from_env(environ=environ)
    check = check_source_freshness(warehouse)
    assert check.statuses == {} and check.sources_json is None and check.problem
    assert check.note == f"source freshness not checked: {check.problem}"
    warning = capsys.readouterr().err.strip().splitlines()[-1]
    assert warning == f"warning: dbt source freshness did not run on {warehouse.describe()}: {check.problem}"
    assert not (target_path(warehouse) / "sources.json").exists()
