"""Read the warehouse's marts into the shape of the generator's expected.json, so tests compare them as dicts.

Every figure is computed by SQL from the dbt models (never from the CSV files) and returned as plain
Python values: integers, ISO dates and money as two-decimal strings, like expected.json.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.warehouse import Connection
from ingestion.contract import SOURCES

_CLEAN_MODEL = {
    "customers": "marts.dim_customers",
    "products": "marts.dim_products",
    "stores": "marts.dim_stores",
    "exchange_rates": "intermediate.int_exchange_rates_deduplicated",
    "sales": "marts.fct_sales",
}


def _money(value: Any) -> str:
    return f"{Decimal(value):.2f}"


def _pairs(conn: Connection, sql: str) -> dict[str, Any]:
    return {str(key): value for key, value in conn.execute(sql)}


def source_figures(conn: Connection) -> dict[str, dict]:
    """Per source: raw rows, clean rows, exact duplicates and rejected rows per reason."""
    figures = {}
    for source in SOURCES:
        name = source.name
        figures[name] = {
            "raw_rows": conn.scalar(f"select count(*) from staging.stg_{name}"),
            "clean_rows": conn.scalar(f"select count(*) from {_CLEAN_MODEL[name]}"),
            "exact_duplicates": conn.scalar(
                f"select count(*) from intermediate.int_{name}_classified where disposition = 'exact_duplicate'"
            ),
            "rejected": _pairs(
                conn,
                f"select reason, count(*) from marts.rejected_records where source = '{name}' group by reason",
            ),
        }
    return figures


def customer_figures(conn: Connection) -> dict[str, Any]:
    """The `customers` block of expected.json, from stg_customers (per line) and dim_customers (per key)."""
    return {
        "distinct_keys": conn.scalar("select count(*) from marts.dim_customers"),
        "email_status": _pairs(conn, "select email_status, count(*) from marts.dim_customers group by 1"),
        "mojibake_rows": conn.scalar("select count(*) from staging.stg_customers where was_mojibake"),
        "birthday_formats": _pairs(conn, "select birthday_format, count(*) from staging.stg_customers group by 1"),
        "birthday_unparseable": conn.scalar(
            "select count(*) from marts.dim_customers where birthday_format = 'invalid'"
        ),
        "age_blank_rows": conn.scalar("select count(*) from staging.stg_customers where age_text is null"),
        "age_imputed": conn.scalar("select count(*) from marts.dim_customers where age_imputed"),
        "by_country": _pairs(conn, "select country, count(*) from marts.dim_customers group by 1"),
        "state_code_blank_customers": conn.scalar("select count(*) from marts.dim_customers where state_code is null"),
    }


def sales_figures(conn: Connection) -> dict[str, Any]:
    """The `sales` block of expected.json, from fct_sales, fct_orders and customer_features."""
    totals = conn.execute(
        """
        select count(*), sum(quantity), sum(revenue_usd), sum(cost_usd), sum(margin_usd), sum(revenue_local),
               count(*) filter (where is_online), count(*) filter (where delivery_date is null),
               min(order_date), max(order_date), count(distinct customer_key)
        from marts.fct_sales
        """
    )[0]
    lines, units, revenue, cost, margin, local, online, no_delivery, first, last, buyers = totals
    by_currency = conn.execute(
        "select currency_code, count(*), sum(revenue_usd), sum(revenue_local) from marts.fct_sales group by 1"
    )
    return {
        "lines": lines,
        "orders": conn.scalar("select count(*) from marts.fct_orders"),
        "units": int(units),
        "buying_customers": buyers,
        "online_lines": online,
        "delivery_date_blank": no_delivery,
        "orders_with_mixed_dates": conn.scalar(
            "select count(*) from marts.fct_orders where order_date <> last_line_date"
        ),
        "first_order_date": str(first),
        "last_order_date": str(last),
        "revenue_usd": _money(revenue),
        "cost_usd": _money(cost),
        "margin_usd": _money(margin),
        "revenue_local": _money(local),
        "lines_by_currency": {c: n for c, n, _, _ in by_currency},
        "revenue_usd_by_currency": {c: _money(r) for c, _, r, _ in by_currency},
        "revenue_local_by_currency": {c: _money(v) for c, _, _, v in by_currency},
    }


def product_figures(conn: Connection) -> dict[str, Any]:
    """The `products` block of expected.json."""
    row = conn.execute(
        """
        select count(*), count(distinct category_key), count(distinct subcategory_key),
               count(*) filter (where product_name like '%,%'), count(*) filter (where product_name like '%"%')
        from marts.dim_products
        """
    )[0]
    return dict(zip(["rows", "categories", "subcategories", "names_with_comma", "names_with_quote"], row, strict=True))


def store_figures(conn: Connection) -> dict[str, Any]:
    """The `stores` block of expected.json."""
    return {
        "rows": conn.scalar("select count(*) from marts.dim_stores"),
        "online_store_key": conn.scalar("select store_key from marts.dim_stores where is_online"),
        "by_country": _pairs(conn, "select country, count(*) from marts.dim_stores where not is_online group by 1"),
    }


def exchange_rate_figures(conn: Connection) -> dict[str, Any]:
    """The `exchange_rates` block of expected.json."""
    rows, days, currencies, first, last = conn.execute(
        """
        select count(*), count(distinct rate_date), count(distinct currency_code), min(rate_date), max(rate_date)
        from intermediate.int_exchange_rates_deduplicated
        """
    )[0]
    codes = [c for (c,) in conn.execute("select distinct currency_code from marts.fct_sales order by 1")]
    return {
        "rows": rows,
        "days": days,
        "currencies": currencies,
        "currency_codes": codes,
        "first_date": str(first),
        "last_date": str(last),
    }


def warehouse_figures(conn: Connection) -> dict[str, Any]:
    """Everything above, keyed like expected.json."""
    return {
        "sources": source_figures(conn),
        "customers": customer_figures(conn),
        "products": product_figures(conn),
        "stores": store_figures(conn),
        "exchange_rates": exchange_rate_figures(conn),
        "sales": sales_figures(conn),
    }


def expected_figures(expected: dict) -> dict:
    """expected.json's blocks the warehouse must reproduce (zero reject counts dropped: no rows, no group)."""
    figures = {key: expected[key] for key in ("sources", "products", "stores", "exchange_rates", "sales")}
    figures["sources"] = {
        name: {**src, "rejected": {reason: n for reason, n in src["rejected"].items() if n}}
        for name, src in expected["sources"].items()
    }
    figures["customers"] = {k: v for k, v in expected["customers"].items() if k != "superseded_by_kind"}
    return figures
