"""`elt generate --inject-orphans`: orphan sales lines land in rejected_records with their reason, and nowhere else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from ingestion.generator import ORPHANS
from tests.dbt.conftest import TARGETS, elt, loaded_and_built, rows
from tests.dbt.figures import expected_figures, warehouse_figures


@pytest.fixture(scope="module")
def orphan_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`elt generate --seed 7 --inject-orphans`."""
    out = tmp_path_factory.mktemp("sample-orphans")
    elt("generate", "--seed", "7", "--inject-orphans", "--out", str(out))
    return out


@pytest.fixture(scope="module", params=TARGETS)
def orphan_warehouse(
    request: pytest.FixtureRequest, orphan_sample: Path, tmp_path_factory: pytest.TempPathFactory, target_available
) -> Iterator[Warehouse]:
    target_available(request.param)
    yield from loaded_and_built(request.param, orphan_sample, tmp_path_factory.mktemp(f"orphans-{request.param}"))


def test_marts_equal_expected_json_with_orphans(orphan_warehouse: Warehouse, orphan_sample: Path) -> None:
    expected = json.loads((orphan_sample / "expected.json").read_text())
    assert expected["sources"]["sales"]["rejected"] == ORPHANS
    conn = orphan_warehouse.connect(read_only=True)
    try:
        assert warehouse_figures(conn) == expected_figures(expected)
    finally:
        conn.close()


def test_orphans_are_only_in_rejected_records(orphan_warehouse: Warehouse) -> None:
    orphans = rows(
        orphan_warehouse,
        "select r.natural_key, r.reason, s.order_number, s.line_item, s.customer_key, s.product_key, s.store_key"
        " from marts.rejected_records r join staging.stg_sales s on s.source_row = r.source_row"
        " where r.source = 'sales' and r.reason like 'orphan_%'",
    )
    assert len(orphans) == sum(ORPHANS.values())
    orders = {o["order_number"] for o in orphans}
    for model in ("marts.fct_sales", "marts.fct_orders", "intermediate.int_sales_deduplicated"):
        found = rows(orphan_warehouse, f"select distinct order_number from {model}")
        assert orders.isdisjoint(r["order_number"] for r in found), model
    dimension = {"orphan_customer": "customer", "orphan_product": "product", "orphan_store": "store"}
    for orphan in orphans:
        key = dimension[orphan["reason"]]
        present = rows(
            orphan_warehouse, f"select count(*) as n from marts.dim_{key}s where {key}_key = {orphan[f'{key}_key']}"
        )
        assert present == [{"n": 0}], orphan
    assert rows(orphan_warehouse, "select count(*) as n from marts.customer_features")[0]["n"] == 11_887
