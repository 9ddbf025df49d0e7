"""`elt run --target spark` from the terminal on the generated sample: every model builds and every test passes,
the marts equal expected.json and DuckDB's row for row, the reports and their CSVs equal DuckDB's (a ratio may
differ by a cent: DuckDB divides decimals in floating point). (Bad files on Spark: test_load.py; a changed Sales
file: test_incremental.py.)"""

from __future__ import annotations

import csv
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from tests.dbt.conftest import built_samples  # noqa: F401, F811 - fixture: DuckDB copies
from tests.dbt.figures import expected_figures
from tests.dbt.test_marts import MART_KEYS, mart_rows, same_value
from tests.dbt.test_reports import report_differences, report_rows
from tests.faults.conftest import GoldenWarehouses, golden  # noqa: F401 - fixture: DuckDB's good `elt run`
from tests.reports_contract import AUDIT_VIEWS, REPORTS
from tests.spark.conftest import SparkRun

pytestmark = pytest.mark.spark


def test_elt_run_on_spark_builds_every_model_and_passes_every_test(spark_run: SparkRun) -> None:
    assert spark_run.returncode == 0, f"{spark_run.stdout[-3000:]}\n{spark_run.stderr[-3000:]}"
    assert "Traceback" not in spark_run.stderr
    [run] = spark_run.snapshot["runs"]
    assert (run["status"], run["target"], run["models_failed"], run["tests_failed"]) == ("success", "spark", 0, 0)
    manifest = json.loads((Path(spark_run.env["ELT_DBT_TARGET_ROOT"]) / "spark" / "manifest.json").read_text())
    kinds = [n["resource_type"] for n in manifest["nodes"].values()] + ["unit_test"] * len(manifest["unit_tests"])
    statuses = {(kind, status): n for _, kind, status, n in spark_run.snapshot["nodes"]}
    assert statuses == {
        ("model", "success"): kinds.count("model"),
        ("test", "pass"): kinds.count("test"),
        ("unit_test", "pass"): kinds.count("unit_test"),
    }
    assert run["models_built"] == kinds.count("model") >= 36


def test_spark_marts_equal_expected_json(spark_run: SparkRun, expected: dict) -> None:
    assert spark_run.snapshot["figures"] == expected_figures(expected)


def test_spark_marts_equal_duckdbs_row_for_row(spark_run: SparkRun, built_samples) -> None:  # noqa: F811
    duck = built_samples.get("duckdb")
    for mart in MART_KEYS:
        duck_rows, spark_rows = mart_rows(duck, mart), spark_run.snapshot["marts"][mart]
        assert len(duck_rows) == len(spark_rows), mart
        assert list(duck_rows[0]) == list(spark_rows[0]), mart
        for d, s in zip(duck_rows, spark_rows, strict=True):
            differing = {k: (d[k], s[k]) for k in d if not same_value(d[k], s[k])}
            assert not differing, f"{mart} row {[d[k] for k in MART_KEYS[mart]]}: {differing}"


def test_spark_reports_equal_duckdbs(spark_run: SparkRun, built_samples) -> None:  # noqa: F811
    duck = built_samples.get("duckdb")
    assert set(spark_run.snapshot["reports"]) == set(REPORTS) - set(AUDIT_VIEWS)
    for report, spark_rows in spark_run.snapshot["reports"].items():
        assert not report_differences(report, report_rows(duck, report), spark_rows)


def test_spark_report_csvs_equal_duckdbs(spark_run: SparkRun, golden: GoldenWarehouses, tmp_path: Path) -> None:  # noqa: F811
    """The exported CSVs: the same files, the same text (a ratio may differ by a cent, as in the tables)."""
    for _ in golden.clone("duckdb", tmp_path / "duckdb"):  # DuckDB's good run exists once this has run
        duck_reports = golden.shared / "golden-duckdb-reports"
    names = sorted(p.name for p in duck_reports.glob("*.csv"))
    assert names == sorted(p.name for p in spark_run.reports.glob("*.csv")) and len(names) == len(REPORTS)
    for name in names:
        if name.removesuffix(".csv") in AUDIT_VIEWS:
            continue  # run ids and timings differ by nature
        duck_lines = (duck_reports / name).read_text().splitlines()
        spark_lines = (spark_run.reports / name).read_text().splitlines()
        assert len(duck_lines) == len(spark_lines), name
        for d, s in zip(duck_lines, spark_lines, strict=True):
            assert d == s or _within_a_cent(d, s), f"{name}: {d!r} != {s!r}"


def _within_a_cent(a: str, b: str) -> bool:
    """Two CSV lines equal but for decimals one cent apart."""
    cells_a, cells_b = next(csv.reader([a])), next(csv.reader([b]))
    if len(cells_a) != len(cells_b):
        return False
    for x, y in zip(cells_a, cells_b, strict=True):
        if x != y:
            try:
                if abs(Decimal(x) - Decimal(y)) > Decimal("0.01"):
                    return False
            except InvalidOperation:
                return False
    return True
