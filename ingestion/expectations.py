"""The raw data contract as Great Expectations suites: one per source, as code (plain data here; GX is
imported only by ingestion/validation.py, which builds the suites from these specs).

Error level (`critical`) stops the load: the file is not swapped into raw. It covers what dbt cannot
reject row by row without the file being broken as a whole: wrong columns, no rows, blank keys, and
whole swathes of unknown currencies or unreadable keys and dates (`mostly`: dbt's rejected_records takes
the odd bad line; a file where a tenth is bad is a broken file). Warning level is recorded and printed:
row counts far below the usual volume, duplicate line keys, and the shape of prices, quantities, rates,
birthdays and countries (dbt cleans or rejects those lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingestion.contract import SOURCES_BY_NAME

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
GENDERS = ("Male", "Female")
COUNTRIES = (
    "United States",
    "United Kingdom",
    "Canada",
    "Germany",
    "Australia",
    "Netherlands",
    "France",
    "Italy",
)
# Padding around a value: spaces and tabs (dbt trims them). Spelled out rather than `\s`, which also
# matches line breaks and which RE2 lacks, so pandas would run it in Python, one call per value, instead
# of in Arrow's vectorised RE2: five times slower on the Sales file.
PAD = r"[ \t]*"
INTEGER = rf"^{PAD}[0-9]+{PAD}$"
US_DATE = rf"^{PAD}(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])/[0-9]{{4}}{PAD}$"  # M/D/YYYY and MM/DD/YYYY
BIRTH_FORMATS = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{2}-[0-9]{2}-[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}"
BIRTHDAY = rf"^{PAD}(?:{BIRTH_FORMATS}){PAD}$"
PRICE = rf"^{PAD}\$[0-9]{{1,3}}(?:,[0-9]{{3}})*\.[0-9]{{2}}{PAD}$"  # `$1,234.56 `
DECIMAL = rf"^{PAD}[0-9]+(?:\.[0-9]+)?{PAD}$"
SHARE_OF_BAD_LINES_TOLERATED = 0.1  # error-level shape checks fail when more than this share is off
MOSTLY = 1 - SHARE_OF_BAD_LINES_TOLERATED


@dataclass(frozen=True)
class Expectation:
    """One expectation: GX class name, its arguments, and `critical` (stops the load) or `warning`."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = "critical"


def _error(kind: str, **kwargs: Any) -> Expectation:
    return Expectation(kind, kwargs, "critical")


def _warning(kind: str, **kwargs: Any) -> Expectation:
    return Expectation(kind, kwargs, "warning")


def _keys(*columns: str) -> list[Expectation]:
    """Key columns: never blank, and integers but for the odd line (dbt rejects those as invalid_key)."""
    return [_error("ExpectColumnValuesToNotBeNull", column=c) for c in columns] + [
        _error("ExpectColumnValuesToMatchRegex", column=c, regex=INTEGER, mostly=MOSTLY) for c in columns
    ]


def _table(source: str, usual_rows: int) -> list[Expectation]:
    return [
        _error("ExpectTableColumnsToMatchOrderedList", column_list=list(SOURCES_BY_NAME[source].columns)),
        _error("ExpectTableRowCountToBeBetween", min_value=1),
        _warning("ExpectTableRowCountToBeBetween", min_value=usual_rows),
    ]


SUITES: dict[str, list[Expectation]] = {
    "customers": [
        *_table("customers", 1000),
        *_keys("customer_key"),
        _error("ExpectColumnValuesToBeInSet", column="gender", value_set=list(GENDERS), mostly=MOSTLY),
        _warning("ExpectColumnValuesToBeInSet", column="country", value_set=list(COUNTRIES)),
        _warning("ExpectColumnValuesToMatchRegex", column="birthday", regex=BIRTHDAY),
    ],
    "products": [
        *_table("products", 100),
        *_keys("product_key"),
        _warning("ExpectColumnValuesToMatchRegex", column="unit_cost_usd", regex=PRICE),
        _warning("ExpectColumnValuesToMatchRegex", column="unit_price_usd", regex=PRICE),
    ],
    "stores": [
        *_table("stores", 10),
        *_keys("store_key"),
        _warning("ExpectColumnValuesToMatchRegex", column="open_date", regex=US_DATE),
    ],
    "sales": [
        *_table("sales", 1000),
        *_keys("order_number", "line_item", "customer_key", "store_key", "product_key"),
        _error("ExpectColumnValuesToNotBeNull", column="currency_code"),
        _error(
            "ExpectColumnValuesToMatchRegex",
            column="currency_code",
            regex=f"(?i)^{PAD}(?:{'|'.join(CURRENCIES)}){PAD}$",
            mostly=MOSTLY,
        ),
        _error("ExpectColumnValuesToMatchRegex", column="order_date", regex=US_DATE, mostly=MOSTLY),
        _warning("ExpectColumnValuesToMatchRegex", column="quantity", regex=INTEGER),
        _warning("ExpectCompoundColumnsToBeUnique", column_list=["order_number", "line_item"]),
    ],
    "exchange_rates": [
        *_table("exchange_rates", 100),
        _error("ExpectColumnValuesToNotBeNull", column="date"),
        _error("ExpectColumnValuesToNotBeNull", column="currency"),
        _error("ExpectColumnValuesToBeInSet", column="currency", value_set=list(CURRENCIES), mostly=MOSTLY),
        _error("ExpectColumnValuesToMatchRegex", column="date", regex=US_DATE, mostly=MOSTLY),
        _error("ExpectCompoundColumnsToBeUnique", column_list=["date", "currency"]),
        _warning("ExpectColumnValuesToMatchRegex", column="exchange", regex=DECIMAL),
    ],
}
