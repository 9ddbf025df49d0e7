"""The nine reports on generated data: built, non-empty, reconciled with the marts and expected.json."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from ingestion.warehouse import Warehouse
from orchestration.reports import REPORTS
from tests.dbt.conftest import TARGETS, elt, loaded_and_built, rows
from tests.dbt.test_marts import same_value

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


def test_dag_execution_summary_lists_the_build(sample_warehouse: Warehouse) -> None:
    runs = rows(sample_warehouse, "select * from reports.dag_execution_summary")
    assert [(r["trigger"], r["command"], r["status"]) for r in runs] == [("cli", "build", "success")]
    run = runs[0]
    assert run["models_built"] == count(
        sample_warehouse, "audit.node_results", f"run_id = '{run['run_id']}' and resource_type = 'model'"
    )
    assert run["tests_failed"] == 0 and run["tests_passed"] > 200


@pytest.mark.postgres
def test_duckdb_and_postgres_reports_are_identical(built_samples, target_available) -> None:
    target_available("postgres")
    duck, pg = built_samples.get("duckdb"), built_samples.get("postgres")
    for report, key in REPORTS.items():
        if report in ("dag_execution_summary", "data_quality_scorecard"):
            continue  # run ids and timings differ by nature
        order = ", ".join(key)
        duck_rows = rows(duck, f"select * from reports.{report} order by {order}")
        pg_rows = rows(pg, f"select * from reports.{report} order by {order}")
        assert len(duck_rows) == len(pg_rows), report
        for d, p in zip(duck_rows, pg_rows, strict=True):
            # Ratios rounded to the cent may differ by one unit in the last place (DuckDB divides decimals
            # in floating point); every other value must be equal.
            differing = {
                k: (d[k], p[k])
                for k in d
                if not same_value(d[k], p[k])
                and not (isinstance(d[k], Decimal) and p[k] is not None and abs(d[k] - p[k]) <= Decimal("0.01"))
            }
            assert not differing, f"{report} {[d[k] for k in key]}: {differing}"


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
