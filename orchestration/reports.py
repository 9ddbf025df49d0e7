"""The nine reports of SPEC section 8 (tables or views in the `reports` schema) and how to read them."""

from __future__ import annotations

# Report name -> the columns that order its rows (also its key), for stable CSVs and pages.
REPORTS: dict[str, tuple[str, ...]] = {
    "customer_summary": ("customer_key",),
    "customer_segmentation": ("customer_key",),
    "order_status": ("order_number",),
    "sales_trends_daily": ("date_day",),
    "product_performance": ("product_key",),
    "store_performance": ("store_key",),
    "anomaly_detection": ("entity", "entity_key"),
    "data_quality_scorecard": ("source",),
    "dag_execution_summary": ("run_id",),
}

# The marts whose row counts `elt run` prints.
MARTS = (
    "dim_customers",
    "dim_products",
    "dim_stores",
    "dim_dates",
    "fct_sales",
    "fct_orders",
    "customer_features",
    "rejected_records",
)


def report_query(name: str) -> str:
    """`select * from reports.<name> order by <key>` for a known report name (never client text)."""
    if name not in REPORTS:
        raise KeyError(name)
    return f"select * from reports.{name} order by {', '.join(REPORTS[name])}"
