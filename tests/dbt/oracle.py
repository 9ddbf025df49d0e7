"""An independent oracle: what the warehouse must show for five raw CSV files, computed in plain Python.

It follows docs/cleaning-rules.md alone (Python's csv module, decimal.Decimal, datetime), never the dbt
SQL nor the warehouse, so a test can compare the two. `truth(data_dir)` reads the five files and returns a
`Truth`: per source every row's fate (clean, exact duplicate, or rejected with its reason), the clean
sales lines with their money, the status flags of the kept dimension rows, and `figures()`: the same
shape as tests/dbt/figures.py reads from the warehouse (`sources`, `sales`) plus `flags` (status counts
per `*_status` column, see tests/dbt/messy.py for the warehouse side).

How the rules are read where the text leaves a choice (say so in a test failure, it may be the oracle's):
- a cell is trimmed of spaces, tabs, CR and LF; blank or a null spelling (any case) is null;
- "more than 18 digits" / "integer digits" count the digits as written (leading zeros too);
- a Quantity written as an integer but 0 or less is `invalid_quantity`, even with more than 18 digits;
- money is `$`-optional, digits with or without correct thousands commas, then `.` and 1-2 decimals;
- an `Exchange` is compared with 0 and its bound after rounding to 6 decimals;
- a time suffix is ` `/`T`, `H:MM`/`HH:MM`, optional `:SS` with optional fraction, optional ` AM`/` PM`
  (upper case), optional `Z` or `+HH:MM`/`-HH:MM`; a year must be 1-9999 (year 0 is no date);
- "most non-blank fields" counts the cells that are not null after trimming and null spellings;
- currencies known to the sales are those of the clean exchange-rate rows (upper-cased, so `usd` is USD);
- the as-of date is the latest order date of the clean sales lines; a line's delivery date is
  `missing` (blank), `invalid`, `implausible` or `valid`; an order is `delivered` if a line has a valid
  delivery date, `unreadable_delivery_date` if every line's is invalid or implausible, else `pending`.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from ingestion.contract import SOURCES, SOURCES_BY_NAME
from ingestion.generator import is_valid_email

NULL_SPELLINGS = ("NULL", "null", "N/A", "NA", "nan", "None", "-")
_TRIM = " \t\r\n"
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Rules:
    """The dbt vars of docs/cleaning-rules.md section 3 (defaults), and the load date (the build's day)."""

    null_spellings: tuple[str, ...] = NULL_SPELLINGS
    quantity_max: int = 1000
    price_max: Decimal = Decimal(100000)
    exchange_rate_max: Decimal = Decimal(100000)
    square_meters_max: int = 1_000_000
    age_range: tuple[int, int] = (0, 120)
    date_floor: date = date(1990, 1, 1)
    load_date: date = field(default_factory=date.today)

    @cached_property
    def nulls(self) -> frozenset[str]:
        """The null spellings, lower-cased."""
        return frozenset(s.lower() for s in self.null_spellings)


# --------------------------------------------------------------------------------------------------
# Cells and values (section 1 and 2)
# --------------------------------------------------------------------------------------------------
def cell(text: str | None, rules: Rules = Rules()) -> str | None:
    """The trimmed cell, or None when blank or a null spelling (ignoring case)."""
    if text is None:
        return None
    value = text.strip(_TRIM)
    if not value or value.lower() in rules.nulls:
        return None
    return value


_INTEGER = re.compile(r"-?([0-9]+)(?:\.0*)?")
_MONEY = re.compile(r"\$? *([0-9]{1,3}(?:,?[0-9]{3})*)(?:\.([0-9]{1,2}))?")  # thousands commas optional
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def integer(text: str | None, rules: Rules = Rules()) -> tuple[str, int | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the integer if valid) of an integer cell."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    match = _INTEGER.fullmatch(value)
    if not match:
        return "invalid", None
    if len(match.group(1)) > 18:
        return "out_of_range", None
    return "valid", int(match.group(1)) * (-1 if value.startswith("-") else 1)


def money(text: str | None, rules: Rules = Rules()) -> tuple[str, Decimal | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the amount) of a price cell."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    match = _MONEY.fullmatch(value)
    if not match:
        return "invalid", None
    whole = match.group(1).replace(",", "")
    amount = Decimal(f"{whole}.{match.group(2) or '0'}").quantize(CENT)
    if len(whole) > 10 or amount > rules.price_max:
        return "out_of_range", None
    return "valid", amount


def rate(text: str | None, rules: Rules = Rules()) -> tuple[str, Decimal | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the rate rounded to 6 decimals) of an Exchange."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    match = _DECIMAL.fullmatch(value)
    if not match:
        return "invalid", None
    amount = Decimal(value).quantize(MICRO, rounding=ROUND_HALF_UP)
    if amount <= 0:
        return "invalid", None
    if len(match.group(1)) > 12 or amount > rules.exchange_rate_max:
        return "out_of_range", None
    return "valid", amount


_TIME = (
    r"(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?(?: ?[AaPp][Mm])?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_US = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})" + _TIME)  # birthdays: `/` only
_US_ANY = re.compile(r"([0-9]{1,2})[/-]([0-9]{1,2})[/-]([0-9]{4})" + _TIME)  # other dates: `/` or `-`
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})" + _TIME)
_DMY_DASH = re.compile(r"([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})" + _TIME)


def _time_ok(hour: str | None, minute: str | None, second: str | None) -> bool:
    return hour is None or (int(hour) <= 23 and int(minute or 0) <= 59 and int(second or 0) <= 59)


def _day(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # no such day (2/30), month 13, year 0
        return None


def order_date(text: str | None, rules: Rules = Rules()) -> tuple[str, date | None]:
    """(`valid` | `missing` | `invalid`, the date) of an order, delivery, open or rate date cell
    (M/D/YYYY or MM/DD/YYYY with `/` or `-`, or YYYY-MM-DD, each with an optional time); the window is the
    caller's."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    if match := _US_ANY.fullmatch(value):
        month, day, year, *clock = match.groups()
    elif match := _ISO.fullmatch(value):
        year, month, day, *clock = match.groups()
    else:
        return "invalid", None
    found = _day(year, month, day) if _time_ok(*clock) else None
    return ("valid", found) if found else ("invalid", None)


def birthday(text: str | None, rules: Rules = Rules()) -> tuple[str, date | None]:
    """(`valid` | `missing` | `invalid`, the date) of a Birthday: M/D/YYYY (DD/MM/YYYY when the first number
    is above 12), DD-MM-YYYY or YYYY-MM-DD, each with an optional time; plausibility is the caller's."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    if match := _US.fullmatch(value):
        first, second, year, *clock = match.groups()
        month, day = (second, first) if int(first) > 12 else (first, second)
    elif match := _DMY_DASH.fullmatch(value):
        day, month, year, *clock = match.groups()
    elif match := _ISO.fullmatch(value):
        year, month, day, *clock = match.groups()
    else:
        return "invalid", None
    found = _day(year, month, day) if _time_ok(*clock) else None
    return ("valid", found) if found else ("invalid", None)


def windowed(status: str, value: date | None, rules: Rules) -> str:
    """`implausible` for a valid date outside date_floor .. load date, else the status as it was."""
    if status == "valid" and not (rules.date_floor <= value <= rules.load_date):  # type: ignore[operator]
        return "implausible"
    return status


def repair_mojibake(text: str) -> str:
    """UTF-8 read as Latin-1 or Windows-1252, read back (`MÃ¶ller` -> `Möller`); other text unchanged."""
    for encoding in ("latin-1", "cp1252"):
        try:
            return text.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def email_status(text: str | None, rules: Rules = Rules()) -> str:
    """`valid`, `invalid` or `missing` of an Email cell (repaired, lower-cased, then the SPEC 7 rule)."""
    value = cell(text, rules)
    if value is None:
        return "missing"
    return "valid" if is_valid_email(repair_mojibake(value).lower()) else "invalid"


def years_between(born: date, on: date) -> int:
    """Whole years from `born` to `on`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def round_half_away(value: Decimal, unit: Decimal = CENT) -> Decimal:
    """Round half away from zero."""
    return value.quantize(unit, rounding=ROUND_HALF_UP)  # ROUND_HALF_UP is away from zero in decimal


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------
@dataclass
class Line:
    """One clean sales line (a row of fct_sales)."""

    source_row: int
    order_number: int
    line_item: int
    order_date: date
    delivery_date: date | None
    delivery_date_status: str
    customer_key: int
    store_key: int
    product_key: int
    quantity: int
    currency_code: str
    rate_date: date
    exchange_rate: Decimal
    revenue_usd: Decimal
    cost_usd: Decimal
    revenue_local: Decimal


@dataclass
class Source:
    """Every raw row's fate in one source: `rows[source_row]` is `clean`, `exact_duplicate` or a reason."""

    name: str
    raw: list[list[str]]  # the data rows as the csv module read them; source_row = index + 1
    fate: dict[int, str] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        counts = Counter(self.fate.values())
        return {
            "raw_rows": len(self.raw),
            "clean_rows": counts.pop("clean", 0),
            "exact_duplicates": counts.pop("exact_duplicate", 0),
            "rejected": dict(counts),
        }

    def rejected(self) -> dict[int, str]:
        """source_row -> reason of the rejected rows."""
        return {row: fate for row, fate in self.fate.items() if fate not in ("clean", "exact_duplicate")}


@dataclass
class Truth:
    """What the warehouse must show for one data folder (see the module docstring)."""

    rules: Rules
    sources: dict[str, Source]
    customers: dict[int, dict[str, Any]]  # customer_key -> kept row: source_row, *_status, birthday, age
    stores: dict[int, dict[str, Any]]  # store_key -> kept row: source_row, *_status
    products: dict[int, dict[str, Any]]  # product_key -> source_row, unit_price_usd, unit_cost_usd
    rates: dict[tuple[str, date], Decimal]  # the clean rates
    lines: dict[tuple[int, int], Line]  # (order_number, line_item) -> clean line
    as_of_date: date | None
    order_status: dict[int, str] = field(default_factory=dict)

    def source_figures(self) -> dict[str, dict]:
        """The shape of figures.source_figures."""
        return {s.name: self.sources[s.name].figures() for s in SOURCES}

    def sales_figures(self) -> dict[str, Any]:
        """The shape of figures.sales_figures."""
        lines = list(self.lines.values())
        by_order: dict[int, list[Line]] = {}
        for line in lines:
            by_order.setdefault(line.order_number, []).append(line)
        revenue = sum((x.revenue_usd for x in lines), Decimal(0))
        cost = sum((x.cost_usd for x in lines), Decimal(0))
        currencies = sorted({x.currency_code for x in lines})
        return {
            "lines": len(lines),
            "orders": len(by_order),
            "units": sum(x.quantity for x in lines),
            "buying_customers": len({x.customer_key for x in lines}),
            "online_lines": sum(1 for x in lines if x.store_key == 0),
            "delivery_date_blank": sum(1 for x in lines if x.delivery_date is None),
            "orders_with_mixed_dates": sum(
                1 for o in by_order.values() if min(x.order_date for x in o) != max(x.order_date for x in o)
            ),
            "first_order_date": str(min(x.order_date for x in lines)) if lines else "None",
            "last_order_date": str(max(x.order_date for x in lines)) if lines else "None",
            "revenue_usd": f"{revenue:.2f}",
            "cost_usd": f"{cost:.2f}",
            "margin_usd": f"{revenue - cost:.2f}",
            "revenue_local": f"{sum((x.revenue_local for x in lines), Decimal(0)):.2f}",
            "lines_by_currency": {c: sum(1 for x in lines if x.currency_code == c) for c in currencies},
            "revenue_usd_by_currency": {
                c: f"{sum((x.revenue_usd for x in lines if x.currency_code == c), Decimal(0)):.2f}" for c in currencies
            },
            "revenue_local_by_currency": {
                c: f"{sum((x.revenue_local for x in lines if x.currency_code == c), Decimal(0)):.2f}"
                for c in currencies
            },
        }

    def flag_figures(self) -> dict[str, dict[str, int]]:
        """Per status column, the count of each status (the shape of messy.flag_figures)."""
        columns = {
            "birthday_status": self.customers,
            "age_status": self.customers,
            "email_status": self.customers,
            "square_meters_status": self.stores,
            "open_date_status": self.stores,
        }
        flags = {col: dict(Counter(r[col] for r in rows.values())) for col, rows in columns.items()}
        flags["delivery_date_status"] = dict(Counter(x.delivery_date_status for x in self.lines.values()))
        return flags

    def flagged_values(self) -> dict[str, int]:
        """data_quality_scorecard.flagged_values per source: values flagged anything but valid or missing."""
        flagged = {s.name: 0 for s in SOURCES}
        owner = {
            "birthday_status": "customers",
            "age_status": "customers",
            "email_status": "customers",
            "square_meters_status": "stores",
            "open_date_status": "stores",
            "delivery_date_status": "sales",
        }
        for column, counts in self.flag_figures().items():
            flagged[owner[column]] += sum(n for status, n in counts.items() if status not in ("valid", "missing"))
        return flagged

    def order_status_counts(self) -> dict[str, int]:
        """reports.order_status: orders per status."""
        return dict(Counter(self.order_status.values()))

    def date_span(self) -> tuple[date, date]:
        """The first and last day of the accepted order, delivery and rate dates (dim_dates' span)."""
        days = {x.order_date for x in self.lines.values()}
        days |= {x.delivery_date for x in self.lines.values() if x.delivery_date is not None}
        days |= {day for _, day in self.rates}
        return min(days), max(days)

    def figures(self) -> dict[str, Any]:
        """`sources`, `sales` (the shapes of tests/dbt/figures.py) and `flags`."""
        return {"sources": self.source_figures(), "sales": self.sales_figures(), "flags": self.flag_figures()}


# --------------------------------------------------------------------------------------------------
# The computation
# --------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[list[str]]:
    """The data rows of a CSV file (header dropped), as Python's csv module reads them."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [row for row in reader]


def _nonblank(row: list[str], rules: Rules) -> int:
    return sum(1 for value in row if cell(value, rules) is not None)


class _Reader:
    """One source's rows, with the exact duplicates set aside."""

    def __init__(self, data_dir: Path, name: str, rules: Rules):
        source = SOURCES_BY_NAME[name]
        self.rules = rules
        self.columns = {h: i for i, h in enumerate(source.header)}
        self.source = Source(name, read_rows(data_dir / source.file))
        seen: set[tuple[str, ...]] = set()
        self.rows: list[tuple[int, list[str]]] = []  # (source_row, row) of the rows that are no exact copy
        for number, row in enumerate(self.source.raw, start=1):
            if tuple(row) in seen:
                self.source.fate[number] = "exact_duplicate"
            else:
                seen.add(tuple(row))
                self.rows.append((number, row))

    def get(self, row: list[str], column: str) -> str | None:
        i = self.columns[column]
        return row[i] if i < len(row) else None

    def reject(self, number: int, reason: str) -> None:
        self.source.fate[number] = reason

    def keep_best(self, candidates: dict[Any, list[tuple[tuple, int]]]) -> dict[Any, int]:
        """Per natural key, the candidate with the smallest sort key is clean, the others superseded."""
        kept = {}
        for key, found in candidates.items():
            found.sort()
            kept[key] = found[0][1]
            self.source.fate[found[0][1]] = "clean"
            for _, number in found[1:]:
                self.source.fate[number] = "superseded_duplicate"
        return kept


def truth(data_dir: Path, rules: Rules | None = None) -> Truth:
    """Everything the warehouse must show for the five CSV files of `data_dir`."""
    rules = rules or Rules()
    data_dir = Path(data_dir)

    # ---- exchange rates ------------------------------------------------------------------------
    rd = _Reader(data_dir, "exchange_rates", rules)
    candidates: dict[Any, list] = {}
    parsed_rates: dict[int, tuple[str, date, Decimal]] = {}
    for number, row in rd.rows:
        currency = cell(rd.get(row, "Currency"), rules)
        status, day = order_date(rd.get(row, "Date"), rules)
        rate_status, value = rate(rd.get(row, "Exchange"), rules)
        if status == "missing" or currency is None or not re.fullmatch(r"[A-Za-z]{3}", currency):
            rd.reject(number, "invalid_key")
        elif status == "invalid":
            rd.reject(number, "invalid_date")
        elif windowed(status, day, rules) == "implausible":
            rd.reject(number, "implausible_date")
        elif rate_status in ("missing", "invalid"):
            rd.reject(number, "invalid_rate")
        elif rate_status == "out_of_range":
            rd.reject(number, "out_of_range")
        else:
            key = (currency.upper(), day)
            parsed_rates[number] = (*key, value)  # type: ignore[arg-type]
            candidates.setdefault(key, []).append(((number,), number))
    rates = {key: parsed_rates[number][2] for key, number in rd.keep_best(candidates).items()}
    rate_days: dict[str, list[date]] = {}  # per currency, its days in order
    for currency, day in sorted(rates):
        rate_days.setdefault(currency, []).append(day)

    # ---- products ------------------------------------------------------------------------------
    pr = _Reader(data_dir, "products", rules)
    candidates = {}
    prices: dict[int, tuple[Decimal, Decimal]] = {}
    for number, row in pr.rows:
        status, key = integer(pr.get(row, "ProductKey"), rules)
        cost_status, cost = money(pr.get(row, "Unit Cost USD"), rules)
        price_status, price = money(pr.get(row, "Unit Price USD"), rules)
        if status != "valid":
            pr.reject(number, "invalid_key")
        elif {cost_status, price_status} & {"missing", "invalid"}:
            pr.reject(number, "invalid_price")
        elif "out_of_range" in (cost_status, price_status):
            pr.reject(number, "out_of_range")
        else:
            prices[number] = (price, cost)  # type: ignore[assignment]
            candidates.setdefault(key, []).append(((-_nonblank(row, rules), number), number))
    products = {
        key: {"source_row": n, "unit_price_usd": prices[n][0], "unit_cost_usd": prices[n][1]}
        for key, n in pr.keep_best(candidates).items()
    }

    # ---- stores --------------------------------------------------------------------------------
    st = _Reader(data_dir, "stores", rules)
    candidates = {}
    by_row: dict[int, list[str]] = {}
    for number, row in st.rows:
        status, key = integer(st.get(row, "StoreKey"), rules)
        if status != "valid":
            st.reject(number, "invalid_key")
        else:
            by_row[number] = row
            candidates.setdefault(key, []).append(((-_nonblank(row, rules), number), number))
    stores = {}
    for key, n in st.keep_best(candidates).items():
        row = by_row[n]
        sqm_status, sqm = integer(st.get(row, "Square Meters"), rules)
        if sqm_status == "valid" and not 1 <= sqm <= rules.square_meters_max:  # type: ignore[operator]
            sqm_status = "out_of_range"
        opened_status, opened = order_date(st.get(row, "Open Date"), rules)
        stores[key] = {
            "source_row": n,
            "square_meters_status": sqm_status,
            "square_meters": sqm if sqm_status == "valid" else None,
            "open_date_status": windowed(opened_status, opened, rules),
            "open_date": opened if windowed(opened_status, opened, rules) == "valid" else None,
        }

    # ---- customers (before their birthdays can be judged, the sales give the as-of date) --------
    cu = _Reader(data_dir, "customers", rules)
    candidates = {}
    by_row = {}
    for number, row in cu.rows:
        status, key = integer(cu.get(row, "CustomerKey"), rules)
        if status != "valid":
            cu.reject(number, "invalid_key")
        else:
            by_row[number] = row
            valid_email = email_status(cu.get(row, "Email"), rules) == "valid"
            candidates.setdefault(key, []).append(((not valid_email, -_nonblank(row, rules), number), number))
    kept_customers = cu.keep_best(candidates)

    # ---- sales ---------------------------------------------------------------------------------
    sa = _Reader(data_dir, "sales", rules)
    candidates = {}
    pending: dict[int, dict[str, Any]] = {}
    key_columns = ("Order Number", "Line Item", "CustomerKey", "StoreKey", "ProductKey")
    for number, row in sa.rows:
        keys = [integer(sa.get(row, c), rules) for c in key_columns]
        date_status, day = order_date(sa.get(row, "Order Date"), rules)
        quantity_text = cell(sa.get(row, "Quantity"), rules)
        quantity_status, quantity = integer(quantity_text, rules)
        currency = (cell(sa.get(row, "Currency Code"), rules) or "").upper()
        if any(status != "valid" for status, _ in keys):
            sa.reject(number, "invalid_key")
            continue
        order, item, customer, store, product = (value for _, value in keys)
        if date_status == "missing":
            reason = "invalid_order_date"
        elif date_status == "invalid":
            reason = "invalid_date"
        elif windowed(date_status, day, rules) == "implausible":
            reason = "implausible_date"
        elif (
            quantity_status in ("missing", "invalid")
            or (quantity_status == "out_of_range" and quantity_text.startswith("-"))  # type: ignore[union-attr]
            or (quantity_status == "valid" and quantity <= 0)  # type: ignore[operator]
        ):
            reason = "invalid_quantity"
        elif quantity_status == "out_of_range" or quantity > rules.quantity_max:  # type: ignore[operator]
            reason = "out_of_range"
        elif currency not in rate_days:
            reason = "unknown_currency"
        elif customer not in kept_customers:
            reason = "orphan_customer"
        elif product not in products:
            reason = "orphan_product"
        elif store not in stores:
            reason = "orphan_store"
        elif rate_days[currency][0] > day:  # type: ignore[operator]
            reason = "missing_exchange_rate"
        else:
            reason = ""
        if reason:
            sa.reject(number, reason)
            continue
        rate_day = rate_days[currency][bisect_right(rate_days[currency], day) - 1]
        rate_value = rates[(currency, rate_day)]
        delivery_status, delivery = order_date(sa.get(row, "Delivery Date"), rules)
        delivery_status = windowed(delivery_status, delivery, rules)
        if delivery_status == "valid" and delivery < day:  # type: ignore[operator]
            delivery_status = "implausible"
        price, cost = products[product]["unit_price_usd"], products[product]["unit_cost_usd"]
        pending[number] = {
            "source_row": number,
            "order_number": order,
            "line_item": item,
            "order_date": day,
            "delivery_date": delivery if delivery_status == "valid" else None,
            "delivery_date_status": delivery_status,
            "customer_key": customer,
            "store_key": store,
            "product_key": product,
            "quantity": quantity,
            "currency_code": currency,
            "rate_date": rate_day,
            "exchange_rate": rate_value,
            "revenue_usd": quantity * price,  # type: ignore[operator]
            "cost_usd": quantity * cost,  # type: ignore[operator]
            "revenue_local": round_half_away(quantity * price * rate_value),  # type: ignore[operator]
        }
        candidates.setdefault((order, item), []).append(((-_nonblank(row, rules), number), number))
    lines = {key: Line(**pending[n]) for key, n in sa.keep_best(candidates).items()}
    as_of = max((x.order_date for x in lines.values()), default=None)

    by_order: dict[int, list[str]] = {}
    for line in lines.values():
        by_order.setdefault(line.order_number, []).append(line.delivery_date_status)
    order_status = {}
    for order, statuses in by_order.items():
        if "valid" in statuses:
            order_status[order] = "delivered"
        elif all(s in ("invalid", "implausible") for s in statuses):
            order_status[order] = "unreadable_delivery_date"
        else:
            order_status[order] = "pending"

    # ---- the kept customers' flags -------------------------------------------------------------
    customers = {}
    low, high = rules.age_range
    for key, n in kept_customers.items():
        row = by_row[n]
        age_status, age = integer(cu.get(row, "Age"), rules)
        if age_status == "valid" and not low <= age <= high:  # type: ignore[operator]
            age_status = "out_of_range"
        born_status, born = birthday(cu.get(row, "Birthday"), rules)
        if (
            born_status == "valid"
            and as_of is not None
            and (born > as_of or not low <= years_between(born, as_of) <= high)  # type: ignore[operator]
        ):
            born_status = "implausible"
        customers[key] = {
            "source_row": n,
            "birthday_status": born_status,
            "birthday": born if born_status == "valid" else None,
            "age_status": age_status,
            "age": age if age_status == "valid" else None,
            "email_status": email_status(cu.get(row, "Email"), rules),
            "state_code": cell(cu.get(row, "State Code"), rules),
        }

    return Truth(
        rules=rules,
        sources={r.source.name: r.source for r in (cu, pr, st, sa, rd)},
        customers=customers,
        stores=stores,
        products=products,
        rates=rates,
        lines=lines,
        as_of_date=as_of,
        order_status=order_status,
    )
