"""The raw data contract as Great Expectations suites: one per source, as code (plain data here; GX is
imported only by ingestion/validation.py, which builds the suites from these specs).

Error level (`critical`) stops the load: the file is not swapped into raw. It covers what dbt cannot
handle row by row without the file being broken as a whole: wrong columns, no rows, and any
column where most rows share one defect (docs/cleaning-rules.md, section 5): more than half of its values
off the shape dbt reads (more than a tenth for keys, currencies and order and rate dates). Warning level is recorded
and printed: any value off its shape, row counts far below the usual volume, duplicate line keys.
The shapes are those of the dbt macros in dbt_project/macros/cleaning/: `2.0` is an integer, a date may
carry a time.
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
# The shapes dbt reads (docs/cleaning-rules.md, section 2; the macros in dbt_project/macros/cleaning/):
# a value of this shape is read, anything else is a reject or a flag downstream.
INTEGER = rf"^{PAD}-?[0-9]+(?:\.0*)?{PAD}$"  # `2`, `2.0`, `2.00`: an integer written as a float is one
POSITIVE_INTEGER = rf"^{PAD}0*[1-9][0-9]*(?:\.0*)?{PAD}$"
TIME = (  # a time after a date, ignored: ` 0:00`, `T00:00:00`, ` 12:00 PM`, `T00:00:00Z`
    r"(?:[ T](?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?(?: ?[AaPp][Mm])?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
ISO_DATE = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
US_DATE = (  # M/D/YYYY and MM/DD/YYYY (or with `-`), or ISO; an optional time after it
    rf"^{PAD}(?:(?:0?[1-9]|1[0-2])[/-](?:0?[1-9]|[12][0-9]|3[01])[/-][0-9]{{4}}|{ISO_DATE}){TIME}{PAD}$"
)
BIRTH_FORMATS = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}|" + ISO_DATE
BIRTHDAY = rf"^{PAD}(?:{BIRTH_FORMATS}){TIME}{PAD}$"
PRICE = rf"^{PAD}\$? *[0-9]{{1,3}}(?:,?[0-9]{{3}})*(?:\.[0-9]{{1,2}})?{PAD}$"  # `$1,234.56 `, `6.62`
DECIMAL = rf"^{PAD}[0-9]+(?:\.[0-9]+)?{PAD}$"
# Keys, currencies and order and rate dates fail the file when more than a tenth of the values is off
# (a file that broken is a broken export); any other column when most of its values are.
SHARE_OF_BAD_LINES_TOLERATED = 0.1
MOSTLY = 1 - SHARE_OF_BAD_LINES_TOLERATED
MOST = 0.5


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
    """Key columns: blank or not integers but for the odd line (dbt rejects those as invalid_key)."""
    return [_error("ExpectColumnValuesToNotBeNull", column=c, mostly=MOSTLY) for c in columns] + [
        _error("ExpectColumnValuesToMatchRegex", column=c, regex=INTEGER, mostly=MOSTLY) for c in columns
    ]


def _shape(column: str, regex: str, mostly: float = MOST) -> list[Expectation]:
    """A column's shape: any value off it is a warning; more than `1 - mostly` of the values off it (by
    default: most of them) refuses the file."""
    return [
        _warning("ExpectColumnValuesToMatchRegex", column=column, regex=regex),
        _error("ExpectColumnValuesToMatchRegex", column=column, regex=regex, mostly=mostly),
    ]


def _in_set(column: str, values: tuple[str, ...]) -> list[Expectation]:
    """Like `_shape`, for a column of known values."""
    return [
        _warning("ExpectColumnValuesToBeInSet", column=column, value_set=list(values)),
        _error("ExpectColumnValuesToBeInSet", column=column, value_set=list(values), mostly=MOST),
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
        *_in_set("gender", GENDERS),
        *_in_set("country", COUNTRIES),
        *_shape("birthday", BIRTHDAY),
        *_shape("age", INTEGER),
    ],
    "products": [
        *_table("products", 100),
        *_keys("product_key"),
        _error("ExpectColumnValuesToNotBeNull", column="unit_price_usd", mostly=MOST),
        *_shape("unit_cost_usd", PRICE),
        *_shape("unit_price_usd", PRICE),
    ],
    "stores": [
        *_table("stores", 10),
        *_keys("store_key"),
        *_shape("square_meters", INTEGER),
        *_shape("open_date", US_DATE),
    ],
    "sales": [
        *_table("sales", 1000),
        *_keys("order_number", "line_item", "customer_key", "store_key", "product_key"),
        _error("ExpectColumnValuesToNotBeNull", column="currency_code", mostly=MOSTLY),
        _error(
            "ExpectColumnValuesToMatchRegex",
            column="currency_code",
            regex=f"(?i)^{PAD}(?:{'|'.join(CURRENCIES)}){PAD}$",
            mostly=MOSTLY,
        ),
        _error("ExpectColumnValuesToNotBeNull", column="order_date", mostly=MOSTLY),
        *_shape("order_date", US_DATE, MOSTLY),
        _error("ExpectColumnValuesToNotBeNull", column="quantity", mostly=MOST),
        *_shape("quantity", POSITIVE_INTEGER),
        *_shape("delivery_date", US_DATE),
        _warning("ExpectCompoundColumnsToBeUnique", column_list=["order_number", "line_item"]),
    ],
    "exchange_rates": [
        *_table("exchange_rates", 100),
        _error("ExpectColumnValuesToNotBeNull", column="date", mostly=MOSTLY),
        _error("ExpectColumnValuesToNotBeNull", column="currency", mostly=MOSTLY),
        _error("ExpectColumnValuesToBeInSet", column="currency", value_set=list(CURRENCIES), mostly=MOSTLY),
        *_shape("date", US_DATE, MOSTLY),
        _error("ExpectCompoundColumnsToBeUnique", column_list=["date", "currency"]),
        _error("ExpectColumnValuesToNotBeNull", column="exchange", mostly=MOST),
        *_shape("exchange", DECIMAL),
    ],
}
