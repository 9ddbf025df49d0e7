"""Incremental fct_sales: a Sales file with changed and new lines updates and inserts; equals a full refresh."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from ingestion.loader import load
from tests.dbt.conftest import TARGETS, GoldenWarehouses, build_ok, copy_sample, golden_warehouse, rows
from tests.dbt.test_marts import mart_rows

CHANGED_LINES = 40  # quantity + 1 on every 1,000th line
NEW_ORDERS = 30  # one new line each, after the last order number


def rewrite_sales(sales_csv: Path, orphan_line: int) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Change quantities, append new orders and orphan one line; return (changed keys, new keys)."""
    with sales_csv.open(newline="", encoding="utf-8") as fh:
        header, *lines = list(csv.reader(fh))
    changed = set()
    for i in range(0, CHANGED_LINES * 1000, 1000):
        lines[i][7] = str(int(lines[i][7]) % 10 + 1)
        changed.add((int(lines[i][0]), int(lines[i][1])))
    lines[orphan_line - 1][4] = "99999999"  # customer unknown -> orphan_customer
    last_order = max(int(line[0]) for line in lines)
    template = lines[5]
    new = set()
    for n in range(1, NEW_ORDERS + 1):
        new_line = [str(last_order + n), "1", *template[2:]]
        lines.append(new_line)
        new.add((last_order + n, 1))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *lines])
    sales_csv.write_text(out.getvalue(), encoding="utf-8")
    return changed, new


@pytest.fixture(params=TARGETS)
def built(
    request: pytest.FixtureRequest,
    golden: GoldenWarehouses,  # the fixture of tests/dbt/conftest.py
    tmp_path: Path,
    target_available,
) -> Iterator[Warehouse]:
    """A warehouse with the generated sample loaded and built, private to the test (a copy of the golden build)."""
    target_available(request.param)
    yield from golden_warehouse(golden, request.param, tmp_path / "warehouse")


def test_new_sales_file_updates_and_inserts_and_equals_a_full_refresh(
    built: Warehouse, sample_dir: Path, tmp_path: Path, expected: dict
) -> None:
    before = {(r["order_number"], r["line_item"]): r for r in mart_rows(built, "fct_sales")}
    first_load = rows(built, "select max(load_id) as id from marts.fct_sales")[0]["id"]
    orphan_line = 2_500
    orphan_key = rows(built, f"select order_number, line_item from staging.stg_sales where source_row = {orphan_line}")[
        0
    ]

    data_dir = copy_sample(sample_dir, tmp_path / "changed")
    changed, new = rewrite_sales(data_dir / "Sales.csv", orphan_line)
    second_load = load(built, data_dir, sources=["sales"]).load_id
    build_ok(built)

    incremental = mart_rows(built, "fct_sales")
    after = {(r["order_number"], r["line_item"]): r for r in incremental}
    assert len(after) == expected["sales"]["lines"] + NEW_ORDERS - 1
    assert new <= after.keys()
    assert (orphan_key["order_number"], orphan_key["line_item"]) not in after  # now rejected, so no longer a fact
    for key in changed:
        assert after[key]["quantity"] != before[key]["quantity"]
        assert after[key]["revenue_usd"] == after[key]["quantity"] * after[key]["unit_price_usd"]
    # Only changed and new lines were merged: the others keep the load that first wrote them.
    stamped = {
        (r["order_number"], r["line_item"]): r["load_id"]
        for r in rows(built, "select order_number, line_item, load_id from marts.fct_sales")
    }
    assert {k for k, load_id in stamped.items() if load_id == second_load} == changed | new
    assert {load_id for k, load_id in stamped.items() if k not in changed | new} == {first_load}
    orphan = rows(
        built,
        "select reason from marts.rejected_records where source = 'sales'"
        f" and natural_key = '{orphan_key['order_number']}-{orphan_key['line_item']}'",
    )
    assert orphan == [{"reason": "orphan_customer"}]

    build_ok(built, full_refresh=True)
    assert mart_rows(built, "fct_sales") == incremental
