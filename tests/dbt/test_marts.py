"""The marts built from generated data equal the generator's expected.json, on both targets, identically."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest

from core.warehouse import Warehouse
from orchestration.dbt import ensure_manifest
from tests.dbt.conftest import build_ok, rows
from tests.dbt.figures import expected_figures, warehouse_figures

# Every mart, with the columns that identify a row (for order-independent comparison).
MART_KEYS = {
    "dim_customers": ["customer_key"],
    "dim_products": ["product_key"],
    "dim_stores": ["store_key"],
    "dim_dates": ["date_day"],
    "fct_sales": ["order_number", "line_item"],
    "fct_orders": ["order_number"],
    "customer_features": ["customer_key"],
    "rejected_records": ["source", "source_row"],
}
# Columns that legitimately differ between two warehouses built from the same files.
RUN_SPECIFIC = {"load_id"}


def mart_rows(warehouse: Warehouse, mart: str) -> list[dict[str, Any]]:
    """All rows of a mart without run-specific columns, ordered by its key."""
    order = ", ".join(MART_KEYS[mart])
    return [
        {k: v for k, v in row.items() if k not in RUN_SPECIFIC}
        for row in rows(warehouse, f"select * from marts.{mart} order by {order}")
    ]


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    return a == b


def test_marts_equal_expected_json(sample_warehouse: Warehouse, expected: dict) -> None:
    conn = sample_warehouse.connect(read_only=True)
    try:
        assert warehouse_figures(conn) == expected_figures(expected)
    finally:
        conn.close()


def test_superseded_duplicates_are_rejected_with_their_reason(sample_warehouse: Warehouse, expected: dict) -> None:
    rejected = rows(
        sample_warehouse,
        "select count(*) as n, count(distinct natural_key) as keys from marts.rejected_records"
        " where source = 'customers' and reason = 'superseded_duplicate'",
    )[0]
    superseded = sum(expected["customers"]["superseded_by_kind"].values())
    assert (rejected["n"], rejected["keys"]) == (superseded, superseded)
    # Every superseded key is still a customer: the best record of the key was kept.
    kept = rows(
        sample_warehouse,
        "select count(*) as n from marts.rejected_records r join marts.dim_customers c"
        " on cast(c.customer_key as varchar(20)) = r.natural_key where r.reason = 'superseded_duplicate'",
    )[0]["n"]
    assert kept == superseded


@pytest.mark.postgres
def test_duckdb_and_postgres_marts_are_identical(built_samples, target_available) -> None:
    target_available("postgres")
    duck, pg = built_samples.get("duckdb"), built_samples.get("postgres")
    for mart in MART_KEYS:
        duck_rows, pg_rows = mart_rows(duck, mart), mart_rows(pg, mart)
        assert len(duck_rows) == len(pg_rows), mart
        assert duck_rows[0].keys() == pg_rows[0].keys(), mart
        for d, p in zip(duck_rows, pg_rows, strict=True):
            differing = {k: (d[k], p[k]) for k in d if not same_value(d[k], p[k])}
            assert not differing, f"{mart} row {[d[k] for k in MART_KEYS[mart]]}: {differing}"


def test_rebuild_is_idempotent(sample_warehouse: Warehouse) -> None:
    before = {mart: mart_rows(sample_warehouse, mart) for mart in MART_KEYS}
    load_ids = rows(sample_warehouse, "select min(load_id) as lo, max(load_id) as hi from marts.fct_sales")
    build_ok(sample_warehouse)
    assert {mart: mart_rows(sample_warehouse, mart) for mart in MART_KEYS} == before
    assert rows(sample_warehouse, "select min(load_id) as lo, max(load_id) as hi from marts.fct_sales") == load_ids


def _manifest(warehouse: Warehouse) -> dict:
    return json.loads(ensure_manifest(warehouse).read_text())


def test_every_model_and_every_warehouse_column_is_described(sample_warehouse: Warehouse) -> None:
    manifest = _manifest(sample_warehouse)
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 23
    missing = []
    for node in models:
        if not node["description"].strip():
            missing.append(node["name"])
        built = rows(
            sample_warehouse,
            "select column_name from information_schema.columns"
            f" where table_schema = '{node['schema']}' and table_name = '{node['alias']}'",
        )
        assert built, f"{node['name']} was not built"
        documented = {name: col["description"].strip() for name, col in node["columns"].items()}
        missing += [f"{node['name']}.{r['column_name']}" for r in built if not documented.get(r["column_name"])]
        missing += [
            f"{node['name']}.{name} (not in the warehouse)"
            for name in documented.keys() - {r["column_name"] for r in built}
        ]
    assert not missing


def test_project_hygiene_layers_and_names(built_samples) -> None:
    """dbt-project-evaluator's main rules, checked on the manifest (no hub package needed)."""
    manifest = _manifest(built_samples.get("duckdb"))
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    layer_of = {uid: n["fqn"][1] for uid, n in models.items()}
    prefixes = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("dim_", "fct_"), "reports": ("",)}
    named_in_spec = {"customer_features", "rejected_records"}  # docs/dbt-project.md names these marts
    allowed_parents = {
        "staging": {"source"},
        "intermediate": {"staging", "intermediate"},
        "marts": {"intermediate", "marts"},
        "reports": {"marts", "intermediate", "staging"},  # staging only where no intermediate exists: below
    }
    has_intermediate = {n["name"].split("_")[1] for n in models.values() if n["name"].startswith("int_")}
    problems = []
    for uid, node in models.items():
        layer = layer_of[uid]
        if not node["name"].startswith(prefixes[layer]) and node["name"] not in named_in_spec:
            problems.append(f"{node['name']}: name does not fit the {layer} layer")
        parents = node["depends_on"]["nodes"]
        kinds = {"source" if p.startswith("source.") else layer_of[p] for p in parents}
        if not kinds <= allowed_parents[layer]:
            problems.append(f"{node['name']} ({layer}) reads {sorted(kinds - allowed_parents[layer])}")
        if layer == "staging" and len(parents) != 1:
            problems.append(f"{node['name']}: a staging model reads exactly one source, not {parents}")
        for parent in parents:
            entity = models[parent]["name"].removeprefix("stg_").split("_")[0] if parent in models else None
            if layer != "intermediate" and layer_of.get(parent) == "staging" and entity in has_intermediate:
                problems.append(f"{node['name']} reads {models[parent]['name']}, not its intermediate model")
    assert not problems
