"""The raw data contract as Great Expectations suites: one per source, as code (plain data here; GX is
imported only by ingestion/validation.py, which builds the suites from these specs).

Error level (`critical`) stops the load: the file is not swapped into raw. It covers what dbt cannot
handle row by row without the file being broken as a whole: wrong columns, no rows, blank keys, and any
column where most rows share one defect (docs/cleaning-rules.md, section 5): more than a tenth of the
values off the shape dbt reads, for a column whose defect rejects the row (keys, dates of facts and rates,
quantities, prices, rates, currencies); more than half, for one whose defect only flags the value
(birthdays, ages, open dates, floor areas, delivery dates, genders, countries). Warning level is recorded
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
# A column whose defect rejects the row fails the file when more than this share of its values is off;
# a column whose defect only flags the value (the row is kept), when most of them are.
SHARE_OF_BAD_LINES_TOLERATED = 0.1
MOSTLY = 1 - SHARE_OF_BAD_LINES_TOLERATED
MOSTLY_FLAGGED = 0.5


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


def _shape(column: str, regex: str, *, rejects: bool) -> list[Expectation]:
    """A column's shape: any value off it is a warning; the file is refused when more than a tenth of the
    values are off (a defect that rejects the row) or more than half (one that only flags the value)."""
    mostly = MOSTLY if rejects else MOSTLY_FLAGGED
    return [
        _warning("ExpectColumnValuesToMatchRegex", column=column, regex=regex),
        _error("ExpectColumnValuesToMatchRegex", column=column, regex=regex, mostly=mostly),
    ]


def _in_set(column: str, values: tuple[str, ...], *, rejects: bool) -> list[Expectation]:
    """Like `_shape`, for a column of known values."""
    mostly = MOSTLY if rejects else MOSTLY_FLAGGED
    return [
        _warning("ExpectColumnValuesToBeInSet", column=column, value_set=list(values)),
        _error("ExpectColumnValuesToBeInSet", column=column, value_set=list(values), mostly=mostly),
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
        *_in_set("gender", GENDERS, rejects=False),
        *_in_set("country", COUNTRIES, rejects=False),
        *_shape("birthday", BIRTHDAY, rejects=False),
        *_shape("age", INTEGER, rejects=False),
    ],
    "products": [
        *_table("products", 100),
        *_keys("product_key"),
        _error("ExpectColumnValuesToNotBeNull", column="unit_price_usd", mostly=MOSTLY),
        *_shape("unit_cost_usd", PRICE, rejects=True),
        *_shape("unit_price_usd", PRICE, rejects=True),
    ],
    "stores": [
        *_table("stores", 10),
        *_keys("store_key"),
        *_shape("square_meters", INTEGER, rejects=False),
        *_shape("open_date", US_DATE, rejects=False),
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
        _error("ExpectColumnValuesToNotBeNull", column="order_date", mostly=MOSTLY),
        *_shape("order_date", US_DATE, rejects=True),
        _error("ExpectColumnValuesToNotBeNull", column="quantity", mostly=MOSTLY),
        *_shape("quantity", POSITIVE_INTEGER, rejects=True),
        *_shape("delivery_date", US_DATE, rejects=False),
        _warning("ExpectCompoundColumnsToBeUnique", column_list=["order_number", "line_item"]),
    ],
    "exchange_rates": [
        *_table("exchange_rates", 100),
        _error("ExpectColumnValuesToNotBeNull", column="date"),
        _error("ExpectColumnValuesToNotBeNull", column="currency"),
        _error("ExpectColumnValuesToBeInSet", column="currency", value_set=list(CURRENCIES), mostly=MOSTLY),
        *_shape("date", US_DATE, rejects=True),
        _error("ExpectCompoundColumnsToBeUnique", column_list=["date", "currency"]),
        _error("ExpectColumnValuesToNotBeNull", column="exchange", mostly=MOSTLY),
        *_shape("exchange", DECIMAL, rejects=True),
    ],
}
