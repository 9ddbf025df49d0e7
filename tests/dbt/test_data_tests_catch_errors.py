"""The project's own dbt tests fail when the marts are wrong: each is broken on purpose, then `dbt test` runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from orchestration.dbt import run_dbt
from tests.dbt.conftest import TARGETS, loaded_and_built
from tests.dbt.test_cleaning_rules import FILES


@pytest.fixture(params=TARGETS)
def built(request: pytest.FixtureRequest, tmp_path: Path, target_available) -> Iterator[Warehouse]:
    """The hand-written files of test_cleaning_rules, loaded and built (all tests passing), private to the test."""
    target_available(request.param)
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    yield from loaded_and_built(request.param, tmp_path, tmp_path / "warehouse")


def failing_tests(warehouse: Warehouse, select: str) -> set[str]:
    """The tests that fail under `dbt test --select <select>`: `<generic test>:<model>`, or a singular test's name."""
    outcome = run_dbt(warehouse, ["test", "--select", select])
    failing = set()
    for result in outcome.result.results:
        if str(result.status) != "fail":
            continue
        node = result.node
        generic = getattr(node, "test_metadata", None)
        failing.add(f"{generic.name}:{node.attached_node.split('.')[-1]}" if generic else node.name)
    return failing


def tamper(warehouse: Warehouse, *statements: str) -> None:
    conn = warehouse.connect()
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def test_broken_marts_fail_the_projects_own_tests(built: Warehouse) -> None:
    assert failing_tests(built, "fct_sales fct_orders customer_features rejected_records stg_customers") == set()
    tamper(
        built,
        # one cent off on one line: the rate rule and the order roll-up both notice
        "update marts.fct_sales set revenue_local = revenue_local + 0.01 where order_number = 1001 and line_item = 1",
        # z-scores that are no longer standardised
        "update marts.customer_features set age_z = age_z + 1 where customer_key = 1",
        # a customer line rejected twice: row conservation and the (source, source_row) key notice
        "insert into marts.rejected_records select * from marts.rejected_records where source = 'customers'"
        " and source_row = 18",
        # an orphan line that is also a fact
        "insert into marts.fct_sales (order_number, line_item, order_date, delivery_date_status, customer_key,"
        " store_key, product_key, currency_code, is_online, quantity, unit_price_usd, unit_cost_usd, revenue_usd,"
        " cost_usd, margin_usd, rate_date, exchange_rate, revenue_local)"
        " values (1003, 1, date '2024-01-04', 'missing', 1, 1, 1, 'USD', false, 1, 1, 1, 1, 1, 0,"
        " date '2024-01-01', 1, 1)",
    )
    failing = failing_tests(built, "fct_sales fct_orders customer_features rejected_records stg_customers")
    assert failing == {
        "revenue_local_matches_rates:fct_sales",
        "assert_fct_orders_reconcile_with_fct_sales",
        "z_score_standardized:customer_features",
        "row_conservation:stg_customers",
        "unique_combination_of_columns:rejected_records",
        "assert_rejected_sales_lines_are_not_facts",
        "relationships:fct_sales",  # order 1003 is not in fct_orders (built before the insert)
        # ... and the reports, built before the insert, no longer reconcile with fct_sales:
        "sum_equals:customer_summary",
        "sum_equals:customer_segmentation",
        "sum_equals:order_status",
        "sum_equals:sales_trends_daily",
        "sum_equals:product_performance",
        "sum_equals:store_performance",
    }
