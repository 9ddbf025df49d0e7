"""fct_sales incremental on Spark (insert_overwrite of the whole new table; DuckDB and Postgres merge): a changed
Sales file gives the same fct_sales as on DuckDB and as a full refresh.

In this test process, with dbt on its own Spark session as `elt` runs it: the sample loaded, fct_sales and what it
is built from (`+fct_sales`), then tests/dbt/test_incremental.py's changed Sales file (changed quantities, new
orders, one line orphaned) loaded and what of that reads Sales run again; DuckDB does the same from an empty file.
(The whole `elt run` on Spark, publish included: test_pipeline.py; publishing incremental models: test_publish.py.)
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.warehouse import Warehouse
from ingestion.loader import load
from orchestration.dbt import run_dbt
from tests.dbt.conftest import failed_nodes, rows
from tests.dbt.test_incremental import NEW_ORDERS, rewrite_sales
from tests.dbt.test_marts import mart_rows, same_value
from tests.spark.conftest import spark_warehouse

pytestmark = pytest.mark.spark

ORPHAN_LINE = 2_500  # the Sales line whose customer the changed file makes unknown
SELECTION = ["--select", "+fct_sales"]
AFTER_SALES = ["--select", "source:raw.sales+,+fct_sales"]  # what of it reads Sales: rebuilt after a Sales load


def _dbt_ok(warehouse: Warehouse, *args: str) -> None:
    outcome = run_dbt(warehouse, ["run", *args])
    assert outcome.success, failed_nodes(outcome)


def _incremental_run(warehouse: Warehouse, sample_dir: Path, changed_dir: Path) -> dict[str, Any]:
    """Load the sample, run +fct_sales, load the changed Sales file, run what of +fct_sales reads Sales (fct_sales
    incremental), then fct_sales with --full-refresh.

    Returns {"loads": (first, second load_id), "stamps": {(order, line): load_id} after the incremental run,
    "incremental" and "full_refresh": fct_sales rows (tests.dbt.test_marts.mart_rows)}."""
    first = load(warehouse, sample_dir, out=None).load_id
    _dbt_ok(warehouse, *SELECTION)
    second = load(warehouse, changed_dir, sources=["sales"], out=None).load_id
    _dbt_ok(warehouse, *AFTER_SALES)
    stamps = {
        (r["order_number"], r["line_item"]): r["load_id"]
        for r in rows(warehouse, "select order_number, line_item, load_id from marts.fct_sales")
    }
    incremental = mart_rows(warehouse, "fct_sales")
    _dbt_ok(warehouse, "--select", "fct_sales", "--full-refresh")
    full_refresh = mart_rows(warehouse, "fct_sales")
    return {"loads": (first, second), "stamps": stamps, "incremental": incremental, "full_refresh": full_refresh}


def _differences(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[str]:
    """The first differing rows of two fct_sales row lists of equal length (empty when equal)."""
    assert len(left) == len(right)
    found = []
    for a, b in zip(left, right, strict=True):
        differing = {k: (a[k], b[k]) for k in a if not same_value(a[k], b[k])}
        if differing:
            found.append(f"fct_sales row {a['order_number'], a['line_item']}: {differing}")
    return found[:5]


def test_a_changed_sales_file_builds_fct_sales_as_duckdb_and_as_a_full_refresh(
    sample_dir: Path, tmp_path: Path, expected: dict
) -> None:
    changed_dir = tmp_path / "changed"
    shutil.copytree(sample_dir, changed_dir)
    changed, new = rewrite_sales(changed_dir / "Sales.csv", ORPHAN_LINE)
    with (sample_dir / "Sales.csv").open(newline="", encoding="utf-8") as fh:
        orphan = next(row for n, row in enumerate(csv.reader(fh)) if n == ORPHAN_LINE)
    spark = _incremental_run(
        spark_warehouse(
            tmp_path / "spark",
            ELT_DBT_TARGET_ROOT=str(tmp_path / "target"),
            ELT_DATA_DOCS_DIR=str(tmp_path / "data_docs"),
            ELT_LINEAGE_DIR=str(tmp_path / "lineage"),
        ),
        sample_dir,
        changed_dir,
    )

    # Changed and new lines take the second load, the others keep the first, the orphaned line goes.
    first, second = spark["loads"]
    stamped = spark["stamps"]
    assert len(stamped) == expected["sales"]["lines"] + NEW_ORDERS - 1
    assert (int(orphan[0]), int(orphan[1])) not in stamped  # now rejected, so no longer a fact
    assert {key for key, load_id in stamped.items() if load_id == second} == changed | new
    assert {load_id for key, load_id in stamped.items() if key not in changed | new} == {first}
    # Incremental = full refresh, and = DuckDB's merge given the same files.
    assert not _differences(spark["incremental"], spark["full_refresh"])
    duckdb = Warehouse.from_env(
        "duckdb",
        {
            "ELT_DUCKDB_PATH": str(tmp_path / "duck.duckdb"),
            "ELT_DBT_TARGET_ROOT": str(tmp_path / "duck-target"),
            "ELT_DATA_DOCS_DIR": str(tmp_path / "duck-docs"),
            "ELT_LINEAGE_DIR": str(tmp_path / "duck-lineage"),
        },
    )
    duck = _incremental_run(duckdb, sample_dir, changed_dir)
    assert not _differences(duck["incremental"], spark["incremental"])
