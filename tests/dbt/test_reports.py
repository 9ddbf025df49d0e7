"""The nine reports on generated data: built, non-empty, reconciled with the marts and expected.json; the
manifest lists exactly the pinned reports (tests/reports_contract.py), and a new report is SQL + YAML alone."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.dbt_project import manifest_path, marts, read_manifest, reports
from core.errors import WarehouseError
from core.warehouse import Warehouse
from tests.api.conftest import API_KEY, KEY
from tests.conftest import _drop_database, copy_database
from tests.dbt.conftest import TARGETS, elt, loaded_and_built, rows
from tests.dbt.test_marts import same_value
from tests.orchestration.wap_support import project_copy
from tests.reports_contract import AUDIT_VIEWS, MARTS, REPORTS

REVENUE_COLUMNS = {
    "customer_summary": "revenue_usd",
    "customer_segmentation": "monetary_usd",
    "order_status": "revenue_usd",
    "sales_trends_daily": "revenue_usd",
    "product_performance": "revenue_usd",
    "store_performance": "revenue_usd",
}


def count(warehouse: Warehouse, relation: str, where: str = "1 = 1") -> int:
    return rows(warehouse, f"select count(*) as n from {relation} where {where}")[0]["n"]


def test_every_report_is_built_and_not_empty(sample_warehouse: Warehouse) -> None:
    for name in REPORTS:
        assert count(sample_warehouse, f"reports.{name}") > 0, name


@pytest.mark.parametrize("report", sorted(REVENUE_COLUMNS))
def test_report_revenue_equals_fct_sales_to_the_cent(sample_warehouse: Warehouse, expected: dict, report: str) -> None:
    column = REVENUE_COLUMNS[report]
    total = rows(sample_warehouse, f"select sum({column}) as total from reports.{report}")[0]["total"]
    assert Decimal(total) == Decimal(expected["sales"]["revenue_usd"])


def test_report_row_counts_match_the_marts(sample_warehouse: Warehouse, expected: dict) -> None:
    assert count(sample_warehouse, "reports.customer_segmentation") == expected["sales"]["buying_customers"]
    assert count(sample_warehouse, "reports.order_status") == expected["sales"]["orders"]
    assert count(sample_warehouse, "reports.product_performance") == expected["products"]["rows"]
    assert count(sample_warehouse, "reports.customer_summary") == expected["customers"]["distinct_keys"]
    assert count(sample_warehouse, "reports.store_performance") == expected["stores"]["rows"]
    assert count(sample_warehouse, "reports.sales_trends_daily") == expected["exchange_rates"]["days"]  # every day
    assert (
        count(sample_warehouse, "reports.order_status", "status = 'pending'")
        == rows(sample_warehouse, "select count(*) as n from marts.fct_orders where delivery_date is null")[0]["n"]
    )


def test_local_revenue_per_currency_and_margin_reconcile(sample_warehouse: Warehouse, expected: dict) -> None:
    daily = rows(
        sample_warehouse,
        "select sum(revenue_local_usd) as usd, sum(revenue_local_eur) as eur, sum(revenue_local_gbp) as gbp,"
        " sum(revenue_local_cad) as cad, sum(revenue_local_aud) as aud from reports.sales_trends_daily",
    )[0]
    assert {c.upper(): f"{Decimal(v):.2f}" for c, v in daily.items()} == expected["sales"]["revenue_local_by_currency"]
    margin = rows(sample_warehouse, "select sum(margin_usd) as m from reports.product_performance")[0]["m"]
    assert f"{Decimal(margin):.2f}" == expected["sales"]["margin_usd"]


def test_segments_follow_the_documented_rules(sample_warehouse: Warehouse) -> None:
    for row in rows(sample_warehouse, "select r_score, f_score, segment, count(*) as n from"
                    " reports.customer_segmentation group by 1, 2, 3"):  # fmt: skip
        r, f = row["r_score"], row["f_score"]
        rule = (
            "Champions" if r >= 4 and f >= 4 else "Loyal" if r >= 3 and f >= 3 else "Potential" if r >= 3
            else "At Risk" if f >= 3 else "Hibernating" if r == 2 else "Lost"
        )  # fmt: skip
        assert row["segment"] == rule, row
    quintiles = rows(sample_warehouse, "select r_score, count(*) as n from reports.customer_segmentation group by 1")
    sizes = sorted(q["n"] for q in quintiles)
    assert len(sizes) == 5 and sizes[-1] - sizes[0] <= 1  # ntile: equal fifths


def test_anomalies_equal_the_generators(sample_warehouse: Warehouse, expected: dict) -> None:
    found = rows(sample_warehouse, "select entity, entity_key from reports.anomaly_detection")
    lines = sorted(r["entity_key"] for r in found if r["entity"] == "order_line")
    days = sorted(r["entity_key"] for r in found if r["entity"] == "day")
    assert len(lines) == expected["anomalies"]["order_lines"]
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == expected["anomalies"]["order_lines_sha256"]
    assert days == expected["anomalies"]["days"]


def test_data_quality_scorecard_counts_every_row(sample_warehouse: Warehouse, expected: dict) -> None:
    card = {r["source"]: r for r in rows(sample_warehouse, "select * from reports.data_quality_scorecard")}
    assert set(card) == set(expected["sources"])
    for source, figures in expected["sources"].items():
        row = card[source]
        assert (row["raw_rows"], row["clean_rows"], row["exact_duplicates"], row["rejected_rows"]) == (
            figures["raw_rows"],
            figures["clean_rows"],
            figures["exact_duplicates"],
            sum(figures["rejected"].values()),
        ), source
        assert row["tests_passed"] > 0 and row["tests_failed"] == 0, source
    assert card["customers"]["rejected_by_reason"] == "superseded_duplicate=48"
    assert card["customers"]["score"] == Decimal("99.7")  # 100 x (16,029 - 48) / 16,029, all tests passed
    assert card["products"]["score"] == Decimal("100.0")


def test_dag_execution_summary_lists_the_run(sample_warehouse: Warehouse) -> None:
    runs = rows(sample_warehouse, "select * from reports.dag_execution_summary")  # the one `elt run` of the sample
    assert [(r["trigger"], r["command"], r["status"]) for r in runs] == [("cli", "run", "success")]
    run = runs[0]
    assert run["models_built"] == count(
        sample_warehouse, "audit.node_results", f"run_id = '{run['run_id']}' and resource_type = 'model'"
    )
    assert run["tests_failed"] == 0 and run["tests_passed"] > 200


def report_differences(report: str, duck_rows: list[dict], other_rows: list[dict]) -> list[str]:
    """How another warehouse's rows of a report (ordered by its key) differ from DuckDB's: `[]` when equal.

    Ratios rounded to the cent may differ by one unit in the last place (DuckDB divides decimals in
    floating point; Postgres and Spark exactly); every other value must be equal."""
    if len(duck_rows) != len(other_rows):
        return [f"{report}: {len(duck_rows)} rows on DuckDB, {len(other_rows)} on the other"]
    problems = []
    for d, o in zip(duck_rows, other_rows, strict=True):
        differing = {
            k: (d[k], o.get(k))
            for k in d
            if not same_value(d[k], o.get(k))
            and not (isinstance(d[k], Decimal) and o.get(k) is not None and abs(d[k] - o[k]) <= Decimal("0.01"))
        }
        if differing:
            problems.append(f"{report} {[d[k] for k in REPORTS[report]]}: {differing}")
    return problems


def report_rows(warehouse: Warehouse, report: str) -> list[dict]:
    """A report's rows ordered by its key."""
    return rows(warehouse, f"select * from reports.{report} order by {', '.join(REPORTS[report])}")


@pytest.mark.postgres
def test_duckdb_and_postgres_reports_are_identical(built_samples, target_available) -> None:
    target_available("postgres")
    duck, pg = built_samples.get("duckdb"), built_samples.get("postgres")
    for report in REPORTS:
        if report in AUDIT_VIEWS:
            continue  # run ids and timings differ by nature
        assert not report_differences(report, report_rows(duck, report), report_rows(pg, report))


@pytest.fixture(scope="module", params=TARGETS)
def planted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, target_available
) -> Iterator[tuple[Warehouse, dict]]:
    """`elt generate --seed 7 --plant-anomalies`, loaded and built, with its expected.json."""
    target_available(request.param)
    data_dir = tmp_path_factory.mktemp(f"planted-{request.param}")
    elt("generate", "--seed", "7", "--plant-anomalies", "--out", str(data_dir))
    expected = json.loads((data_dir / "expected.json").read_text())
    for warehouse in loaded_and_built(request.param, data_dir, data_dir / "warehouse"):
        yield warehouse, expected


def test_anomaly_detection_finds_exactly_the_planted_outliers(planted: tuple[Warehouse, dict]) -> None:
    warehouse, expected = planted
    found = rows(warehouse, "select entity, entity_key, z_score from reports.anomaly_detection")
    days = sorted(r["entity_key"] for r in found if r["entity"] == "day")
    lines = sorted(r["entity_key"] for r in found if r["entity"] == "order_line")
    planted_lines = expected["anomalies"]["planted"]["order_lines"]
    assert days == ["2025-03-12"]  # the planted spike, and no other day
    assert set(planted_lines) <= set(lines)
    assert all(r["z_score"] > 10 for r in found if r["entity_key"] in planted_lines)
    # ... and every other line the report lists is one the generator also computes as |z| >= 3.
    assert len(lines) == expected["anomalies"]["order_lines"]
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == expected["anomalies"]["order_lines_sha256"]


# --------------------------------------------------------------------------- the list of reports: the manifest's


NEW_REPORT = "top_stores"
NEW_REPORT_SQL = """-- A report added by a test: the stores ranked first to third by revenue.
select store_key, country, revenue_usd, revenue_rank
from {{ ref('store_performance') }}
where revenue_rank <= 3
"""
NEW_REPORT_YAML = """version: 2

models:
  - name: top_stores
    config: {meta: {key: [store_key]}}
    description: The three stores with the most revenue.
"""


def test_the_manifest_lists_the_pinned_reports_and_marts(sample_warehouse: Warehouse) -> None:
    # The manifest the sample's `elt build` published (the artifacts folder of this process's settings).
    manifest = read_manifest(manifest_path(Warehouse.from_env(sample_warehouse.target)))
    assert reports(manifest) == REPORTS
    assert list(reports(manifest)) == list(REPORTS)  # by name: the order of the API's list and of `elt export`
    assert marts(manifest) == MARTS
    # A report whose YAML gives no key is refused by name (dbt refuses to build it too: macros/report_post_hook.sql).
    node = manifest["nodes"]["model.retail_elt.order_status"]
    node["config"]["meta"], node["meta"] = {}, {}
    with pytest.raises(WarehouseError, match="report order_status has no key"):
        reports(manifest)


@contextlib.contextmanager
def private_copy(warehouse: Warehouse, folder: Path) -> Iterator[dict[str, str]]:
    """The environment of a copy of `warehouse` that a test may build in: the DuckDB file copied, or a Postgres
    database made from it as a template (dropped afterwards)."""
    env = {"ELT_TARGET": warehouse.target, "ELT_DUCKDB_PATH": str(folder / "warehouse.duckdb")}
    if warehouse.target == "duckdb":
        shutil.copyfile(warehouse.duckdb_path, env["ELT_DUCKDB_PATH"])
        yield env
        return
    name = f"elt_new_report_{os.getpid()}_{secrets.token_hex(4)}"
    copy_database(warehouse.postgres.dbname, name)
    try:
        yield {**env, "PGDATABASE": name}
    finally:
        _drop_database(name)


def test_a_new_report_is_sql_and_yaml_alone(sample_warehouse: Warehouse, tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    (project / "models" / "reports" / f"{NEW_REPORT}.sql").write_text(NEW_REPORT_SQL, encoding="utf-8")
    (project / "models" / "reports" / f"_{NEW_REPORT}.yml").write_text(NEW_REPORT_YAML, encoding="utf-8")
    with private_copy(sample_warehouse, tmp_path) as copied:
        env = {**copied, "ELT_DBT_PROJECT_DIR": str(project), "ELT_DBT_TARGET_ROOT": str(tmp_path / "target")}
        warehouse = Warehouse.from_env(environ={**os.environ, **env})
        # dbt parses the copy, builds the new model (in the build schemas) and publishes it with its manifest.
        elt("build", "--select", NEW_REPORT, env=env)
        assert reports(read_manifest(manifest_path(warehouse))) == {**REPORTS, NEW_REPORT: ("store_key",)}
        ranked = "select store_key from reports.store_performance where revenue_rank <= 3 order by store_key"
        top = [r["store_key"] for r in rows(warehouse, ranked)]
        assert len(top) == 3

        # `elt export` writes it with the others, in its key's order.
        elt("export", "--out", str(tmp_path / "csv"), env=env)
        assert sorted(p.stem for p in (tmp_path / "csv").glob("*.csv")) == sorted([*REPORTS, NEW_REPORT])
        with (tmp_path / "csv" / f"{NEW_REPORT}.csv").open(newline="", encoding="utf-8") as fh:
            exported = list(csv.DictReader(fh))
        assert [int(r["store_key"]) for r in exported] == top
        assert list(exported[0]) == ["store_key", "country", "revenue_usd", "revenue_rank"]

        # The API lists and serves it (its manifest is the published one).
        settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=manifest_path(warehouse).parent)
        with TestClient(create_app(settings)) as client:
            listed = client.get("/reports", headers=KEY).json()
            assert [r["name"] for r in listed["items"]] == sorted([*REPORTS, NEW_REPORT])
            info = next(r for r in listed["items"] if r["name"] == NEW_REPORT)
            assert (info["key"], info["rows"], info["description"]) == (
                ["store_key"],
                3,
                "The three stores with the most revenue.",
            )
            page = client.get(f"/reports/{NEW_REPORT}", headers=KEY).json()
            assert [r["store_key"] for r in page["items"]] == top

        # Postgres: the post-hook indexed its key, read from its YAML alone.
        if warehouse.target == "postgres":
            found = rows(
                warehouse,
                f"select indexdef from pg_indexes where schemaname = 'reports' and tablename = '{NEW_REPORT}'",
            )
            assert [r["indexdef"].split(" USING ")[1] for r in found] == ["btree (store_key)"]
