"""expected.json: the figures the warehouse must show for exactly the files made, computed from what was
generated (never from SQL)."""

from __future__ import annotations

import hashlib

from ingestion.generator.customers import Customers
from ingestion.generator.products import Products
from ingestion.generator.reference import CURRENCIES
from ingestion.generator.sales import Sales
from ingestion.generator.shared import AS_OF_DATE, DAYS, START_DATE, CsvFile, check
from ingestion.generator.stores import ONLINE_STORE_KEY, Stores

ANOMALY_Z = 3.0


def anomalies(lines: list[str], products: Products) -> dict:
    """The |z| >= ANOMALY_Z outliers of the anomaly_detection report, computed from the valid Sales.csv lines.

    Order lines: revenue_usd against all lines of the product's category; days: revenue_usd against all
    days with sales. Mean and sample standard deviation in floating point, like the SQL. Returns
    {"order_lines": count, "order_lines_sha256": hex digest of the sorted `<order>-<line>` keys joined by LF,
    "days": sorted ISO dates}.
    """
    by_category: dict[str, list[tuple[str, float]]] = {}
    by_day: dict[str, int] = {}
    for line in lines:
        order, item, day, _, _, _, product, quantity, _ = line.split(",")
        cents = int(quantity) * products.price[int(product)]
        by_category.setdefault(products.category[int(product)], []).append((f"{order}-{item}", cents / 100))
        by_day[day] = by_day.get(day, 0) + cents
    days = [(f"{d[6:10]}-{d[0:2]}-{d[3:5]}", cents / 100) for d, cents in by_day.items()]
    order_lines = sorted(key for group in by_category.values() for key in _outliers(group))
    return {
        "order_lines": len(order_lines),
        "order_lines_sha256": hashlib.sha256("\n".join(order_lines).encode()).hexdigest(),
        "days": sorted(_outliers(days)),
    }


def _outliers(values: list[tuple[str, float]]) -> list[str]:
    """The keys of the (key, value) pairs at least ANOMALY_Z sample standard deviations from the mean."""
    n = len(values)
    if n < 2:
        return []
    mean = sum(v for _, v in values) / n
    sd = (sum((v - mean) ** 2 for _, v in values) / (n - 1)) ** 0.5
    return [key for key, v in values if sd > 0 and abs(v - mean) / sd >= ANOMALY_Z]


def _plain(f: CsvFile) -> dict:
    return {"raw_rows": f.rows, "clean_rows": f.rows, "exact_duplicates": 0, "rejected": {}}


def sources(
    customers: Customers, products: Products, stores: Stores, rates: CsvFile, sales: Sales, rejected_sales: dict
) -> dict:
    """The `sources` figures: raw, clean, duplicate and rejected rows per table; RuntimeError if they do not add up."""
    figures = {
        "customers": {
            "raw_rows": customers.file.rows,
            "clean_rows": len(customers.keys),
            "exact_duplicates": customers.exact_duplicates,
            "rejected": {"superseded_duplicate": customers.superseded},
        },
        "products": _plain(products.file),
        "stores": _plain(stores.file),
        "exchange_rates": _plain(rates),
        "sales": {
            "raw_rows": sales.file.rows,
            "clean_rows": sales.lines,
            "exact_duplicates": 0,
            "rejected": rejected_sales,
        },
    }
    for name, src in figures.items():
        total = src["clean_rows"] + src["exact_duplicates"] + sum(src["rejected"].values())
        check(src["raw_rows"] == total, f"{name}: raw rows {src['raw_rows']} != clean + duplicates + rejected {total}")
    return figures


def reference_figures(products: Products, stores: Stores, rates: CsvFile) -> dict:
    """The `products`, `stores` and `exchange_rates` figures."""
    return {
        "products": {
            "rows": products.file.rows,
            "categories": products.categories,
            "subcategories": products.subcategories,
            "names_with_comma": products.names_with_comma,
            "names_with_quote": products.names_with_quote,
        },
        "stores": {
            "rows": stores.file.rows,
            "online_store_key": ONLINE_STORE_KEY,
            "by_country": {c: len(k) for c, k in stores.by_country.items()},
        },
        "exchange_rates": {
            "rows": rates.rows,
            "days": DAYS,
            "currencies": len(CURRENCIES),
            "currency_codes": sorted(CURRENCIES),
            "first_date": START_DATE.isoformat(),
            "last_date": AS_OF_DATE.isoformat(),
        },
    }
