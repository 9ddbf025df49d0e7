"""The reports and marts the project promises, pinned: the tests' one list of them.

The code reads both lists from the dbt manifest (core.dbt_project.reports / marts); tests/dbt/test_reports.py
checks that the manifest still says exactly this. In the manifest's order (by name), so a listing compares
with `list(REPORTS)` as it is.
"""

from __future__ import annotations

# Report name -> its key: the columns that order its rows in the CSVs and the API's pages (`meta.key`).
REPORTS: dict[str, tuple[str, ...]] = {
    "anomaly_detection": ("entity", "entity_key"),
    "customer_segmentation": ("customer_key",),
    "customer_summary": ("customer_key",),
    "dag_execution_summary": ("run_id",),
    "data_quality_scorecard": ("source",),
    "order_status": ("order_number",),
    "product_performance": ("product_key",),
    "sales_trends_daily": ("date_day",),
    "store_performance": ("store_key",),
}

# The reports that are views over the audit tables: current whenever they are read; no index (tables only).
AUDIT_VIEWS = ("dag_execution_summary", "data_quality_scorecard")

# The models in models/marts/: the facts, dimensions, features and rejected records (`elt run` counts their rows).
MARTS = (
    "customer_features",
    "dim_customers",
    "dim_dates",
    "dim_products",
    "dim_stores",
    "fct_orders",
    "fct_sales",
    "rejected_records",
)
