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
from collections.abc import Callable
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


def _matched(text: str | None, pattern: re.Pattern[str], rules: Rules) -> tuple[str, re.Match[str] | None]:
    """(`missing` | `invalid` | `valid`, the match) of a cell read whole by `pattern`."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    match = pattern.fullmatch(value)
    return ("valid", match) if match else ("invalid", None)


def integer(text: str | None, rules: Rules = Rules()) -> tuple[str, int | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the integer if valid) of an integer cell."""
    status, match = _matched(text, _INTEGER, rules)
    if match is None:
        return status, None
    if len(match.group(1)) > 18:
        return "out_of_range", None
    return "valid", int(match.group(1)) * (-1 if match.string.startswith("-") else 1)


def money(text: str | None, rules: Rules = Rules()) -> tuple[str, Decimal | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the amount) of a price cell."""
    status, match = _matched(text, _MONEY, rules)
    if match is None:
        return status, None
    whole = match.group(1).replace(",", "")
    amount = Decimal(f"{whole}.{match.group(2) or '0'}").quantize(CENT)
    if len(whole) > 10 or amount > rules.price_max:
        return "out_of_range", None
    return "valid", amount


def rate(text: str | None, rules: Rules = Rules()) -> tuple[str, Decimal | None]:
    """(`valid` | `missing` | `invalid` | `out_of_range`, the rate rounded to 6 decimals) of an Exchange."""
    status, match = _matched(text, _DECIMAL, rules)
    if match is None:
        return status, None
    amount = Decimal(match.string).quantize(MICRO, rounding=ROUND_HALF_UP)
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


# Each date pattern with how its three numbers give (year, month, day).
_ORDER_DATES = ((_US_ANY, lambda m, d, y: (y, m, d)), (_ISO, lambda y, m, d: (y, m, d)))
_BIRTHDAYS = (
    (_US, lambda first, second, y: (y, second, first) if int(first) > 12 else (y, first, second)),
    (_DMY_DASH, lambda d, m, y: (y, m, d)),
    (_ISO, lambda y, m, d: (y, m, d)),
)


def _date_cell(text: str | None, rules: Rules, patterns: tuple) -> tuple[str, date | None]:
    """(`valid` | `missing` | `invalid`, the date) of a cell read by the first of `patterns` it matches."""
    value = cell(text, rules)
    if value is None:
        return "missing", None
    for pattern, year_month_day in patterns:
        if match := pattern.fullmatch(value):
            *numbers, hour, minute, second = match.groups()
            found = _day(*year_month_day(*numbers)) if _time_ok(hour, minute, second) else None
            return ("valid", found) if found else ("invalid", None)
    return "invalid", None


def order_date(text: str | None, rules: Rules = Rules()) -> tuple[str, date | None]:
    """(`valid` | `missing` | `invalid`, the date) of an order, delivery, open or rate date cell
    (M/D/YYYY or MM/DD/YYYY with `/` or `-`, or YYYY-MM-DD, each with an optional time); the window is the
    caller's."""
    return _date_cell(text, rules, _ORDER_DATES)


def birthday(text: str | None, rules: Rules = Rules()) -> tuple[str, date | None]:
    """(`valid` | `missing` | `invalid`, the date) of a Birthday: M/D/YYYY (DD/MM/YYYY when the first number
    is above 12), DD-MM-YYYY or YYYY-MM-DD, each with an optional time; plausibility is the caller's."""
    return _date_cell(text, rules, _BIRTHDAYS)


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
    """`valid`, `invalid` or `missing` of an Email cell (repaired, lower-cased, then the email rule of
    docs/cleaning-rules.md)."""
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


_Judged = tuple[str, Any, tuple]  # ("", natural key, rank) of a candidate row, or (reason, None, ()) of a rejected one


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

    def row(self, number: int) -> list[str]:
        """The row of `source_row` `number`."""
        return self.source.raw[number - 1]

    def reject(self, number: int, reason: str) -> None:
        self.source.fate[number] = reason

    def sort_out(self, judge: Callable[[int, list[str]], _Judged]) -> dict[Any, int]:
        """Each row `judge` gives a reason is rejected for it; the others are candidates for their natural key
        (see keep_best). Per natural key, the source_row kept."""
        candidates: dict[Any, list[tuple[tuple, int]]] = {}
        for number, row in self.rows:
            reason, key, rank = judge(number, row)
            if reason:
                self.reject(number, reason)
            else:
                candidates.setdefault(key, []).append((rank, number))
        return self.keep_best(candidates)

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

    def judge_key(self, column: str, number: int, row: list[str], first: tuple = ()) -> _Judged:
        """`invalid_key` unless `column` is a valid integer; then ranked by `first`, most non-blank fields, row."""
        status, key = integer(self.get(row, column), self.rules)
        if status != "valid":
            return "invalid_key", None, ()
        return "", key, (*first, -_nonblank(row, self.rules), number)


@dataclass
class _Known:
    """What a sales line must find: the clean rates and the kept products, stores and customers."""

    rates: dict[tuple[str, date], Decimal]
    products: dict[int, dict[str, Any]]
    stores: dict[int, dict[str, Any]]
    customers: dict[int, int]  # customer_key -> source_row of the kept row
    rate_days: dict[str, list[date]] = field(init=False)  # per currency, its days in order

    def __post_init__(self) -> None:
        self.rate_days = {}
        for currency, day in sorted(self.rates):
            self.rate_days.setdefault(currency, []).append(day)


def truth(data_dir: Path, rules: Rules | None = None) -> Truth:
    """Everything the warehouse must show for the five CSV files of `data_dir`."""
    rules = rules or Rules()
    data_dir = Path(data_dir)
    rd, rates = _exchange_rates(data_dir, rules)
    pr, products = _products(data_dir, rules)
    st, stores = _stores(data_dir, rules)
    cu, kept_customers = _kept_customers(data_dir, rules)  # their birthdays wait for the sales' as-of date
    sa, lines = _sales(data_dir, rules, _Known(rates, products, stores, kept_customers))
    as_of = max((x.order_date for x in lines.values()), default=None)
    return Truth(
        rules=rules,
        sources={r.source.name: r.source for r in (cu, pr, st, sa, rd)},
        customers={key: _customer(cu, n, as_of) for key, n in kept_customers.items()},
        stores=stores,
        products=products,
        rates=rates,
        lines=lines,
        as_of_date=as_of,
        order_status=_order_status(lines),
    )


# ---- exchange rates ----------------------------------------------------------------------------
def _exchange_rates(data_dir: Path, rules: Rules) -> tuple[_Reader, dict[tuple[str, date], Decimal]]:
    rd = _Reader(data_dir, "exchange_rates", rules)
    kept = rd.sort_out(lambda number, row: _judge_rate(rd, number, row))
    return rd, {key: rate(rd.get(rd.row(n), "Exchange"), rules)[1] for key, n in kept.items()}  # type: ignore[misc]


_RATE_REASONS = {"missing": "invalid_rate", "invalid": "invalid_rate", "out_of_range": "out_of_range"}


def _judge_rate(rd: _Reader, number: int, row: list[str]) -> _Judged:
    rules = rd.rules
    currency = cell(rd.get(row, "Currency"), rules)
    status, day = order_date(rd.get(row, "Date"), rules)
    rate_status, _ = rate(rd.get(row, "Exchange"), rules)
    if status == "missing" or currency is None or not re.fullmatch(r"[A-Za-z]{3}", currency):
        return "invalid_key", None, ()
    reason = _date_reason(status, day, rules) or _RATE_REASONS.get(rate_status, "")
    return (reason, None, ()) if reason else ("", (currency.upper(), day), (number,))


def _date_reason(status: str, day: date | None, rules: Rules) -> str:
    """`invalid_date`, `implausible_date` or "" for a date that is not missing."""
    if status == "invalid":
        return "invalid_date"
    if windowed(status, day, rules) == "implausible":
        return "implausible_date"
    return ""


# ---- products and stores -----------------------------------------------------------------------
def _products(data_dir: Path, rules: Rules) -> tuple[_Reader, dict[int, dict[str, Any]]]:
    pr = _Reader(data_dir, "products", rules)
    kept = pr.sort_out(lambda number, row: _judge_product(pr, number, row))
    products = {}
    for key, n in kept.items():
        row = pr.row(n)
        price, cost = money(pr.get(row, "Unit Price USD"), rules)[1], money(pr.get(row, "Unit Cost USD"), rules)[1]
        products[key] = {"source_row": n, "unit_price_usd": price, "unit_cost_usd": cost}
    return pr, products


def _judge_product(pr: _Reader, number: int, row: list[str]) -> _Judged:
    judged = pr.judge_key("ProductKey", number, row)
    statuses = {money(pr.get(row, c), pr.rules)[0] for c in ("Unit Cost USD", "Unit Price USD")}
    if judged[0]:
        return judged
    if statuses & {"missing", "invalid"}:
        return "invalid_price", None, ()
    if "out_of_range" in statuses:
        return "out_of_range", None, ()
    return judged


def _stores(data_dir: Path, rules: Rules) -> tuple[_Reader, dict[int, dict[str, Any]]]:
    st = _Reader(data_dir, "stores", rules)
    kept = st.sort_out(lambda number, row: st.judge_key("StoreKey", number, row))
    return st, {key: _store(st, n) for key, n in kept.items()}


def _store(st: _Reader, n: int) -> dict[str, Any]:
    """The kept store row `n` with its status flags."""
    row, rules = st.row(n), st.rules
    sqm_status, sqm = integer(st.get(row, "Square Meters"), rules)
    if sqm_status == "valid" and not 1 <= sqm <= rules.square_meters_max:  # type: ignore[operator]
        sqm_status = "out_of_range"
    opened_status, opened = order_date(st.get(row, "Open Date"), rules)
    return {
        "source_row": n,
        "square_meters_status": sqm_status,
        "square_meters": sqm if sqm_status == "valid" else None,
        "open_date_status": windowed(opened_status, opened, rules),
        "open_date": opened if windowed(opened_status, opened, rules) == "valid" else None,
    }


# ---- customers (before their birthdays can be judged, the sales give the as-of date) ------------
def _kept_customers(data_dir: Path, rules: Rules) -> tuple[_Reader, dict[int, int]]:
    cu = _Reader(data_dir, "customers", rules)

    def judge(number: int, row: list[str]) -> _Judged:
        valid_email = email_status(cu.get(row, "Email"), rules) == "valid"
        return cu.judge_key("CustomerKey", number, row, first=(not valid_email,))

    return cu, cu.sort_out(judge)


def _customer(cu: _Reader, n: int, as_of: date | None) -> dict[str, Any]:
    """The kept customer row `n` with its status flags (its birthday judged on the as-of date)."""
    row, rules = cu.row(n), cu.rules
    low, high = rules.age_range
    age_status, age = integer(cu.get(row, "Age"), rules)
    if age_status == "valid" and not low <= age <= high:  # type: ignore[operator]
        age_status = "out_of_range"
    born_status, born = birthday(cu.get(row, "Birthday"), rules)
    if born is not None and as_of is not None and not _plausible_birthday(born, as_of, rules):  # a date only if valid
        born_status = "implausible"
    return {
        "source_row": n,
        "birthday_status": born_status,
        "birthday": born if born_status == "valid" else None,
        "age_status": age_status,
        "age": age if age_status == "valid" else None,
        "email_status": email_status(cu.get(row, "Email"), rules),
        "state_code": cell(cu.get(row, "State Code"), rules),
    }


def _plausible_birthday(born: date, as_of: date, rules: Rules) -> bool:
    """Born by the as-of date, at an age in the age range then."""
    low, high = rules.age_range
    return born <= as_of and low <= years_between(born, as_of) <= high


# ---- sales -------------------------------------------------------------------------------------
_SALE_KEYS = ("Order Number", "Line Item", "CustomerKey", "StoreKey", "ProductKey")


def _sales(data_dir: Path, rules: Rules, known: _Known) -> tuple[_Reader, dict[tuple[int, int], Line]]:
    sa = _Reader(data_dir, "sales", rules)
    read: dict[int, Line] = {}

    def judge(number: int, row: list[str]) -> _Judged:
        sale = _sale(sa, number, row, known)
        if isinstance(sale, str):
            return sale, None, ()
        read[number] = sale
        return "", (sale.order_number, sale.line_item), (-_nonblank(row, rules), number)

    return sa, {key: read[n] for key, n in sa.sort_out(judge).items()}


def _sale(sa: _Reader, number: int, row: list[str], known: _Known) -> Line | str:
    """The clean line of a sales row, or the reason it is rejected."""
    rules = sa.rules
    keys = [integer(sa.get(row, c), rules) for c in _SALE_KEYS]
    date_status, day = order_date(sa.get(row, "Order Date"), rules)
    quantity_text = cell(sa.get(row, "Quantity"), rules)
    quantity_status, quantity = integer(quantity_text, rules)
    currency = (cell(sa.get(row, "Currency Code"), rules) or "").upper()
    if any(status != "valid" for status, _ in keys):
        return "invalid_key"
    order, item, customer, store, product = (value for _, value in keys)
    reason = (
        ("invalid_order_date" if date_status == "missing" else _date_reason(date_status, day, rules))
        or _quantity_reason(quantity_status, quantity, quantity_text, rules)
        or _reference_reason(currency, customer, product, store, day, known)  # type: ignore[arg-type]
    )
    if reason:
        return reason
    sale = {"source_row": number, "order_number": order, "line_item": item, "order_date": day}
    sale |= {"customer_key": customer, "store_key": store, "product_key": product, "quantity": quantity}
    return _priced(sale, currency, sa.get(row, "Delivery Date"), known, rules)


def _quantity_reason(status: str, quantity: int | None, text: str | None, rules: Rules) -> str:
    """`invalid_quantity`, `out_of_range` or "" for a Quantity cell."""
    if (
        status in ("missing", "invalid")
        or (status == "out_of_range" and text.startswith("-"))  # type: ignore[union-attr]
        or (status == "valid" and quantity <= 0)  # type: ignore[operator]
    ):
        return "invalid_quantity"
    if status == "out_of_range" or quantity > rules.quantity_max:  # type: ignore[operator]
        return "out_of_range"
    return ""


def _reference_reason(currency: str, customer: int, product: int, store: int, day: date, known: _Known) -> str:
    """Why a line with valid cells has no currency, customer, product, store or rate to refer to ("" if it has)."""
    if currency not in known.rate_days:
        return "unknown_currency"
    if customer not in known.customers:
        return "orphan_customer"
    if product not in known.products:
        return "orphan_product"
    if store not in known.stores:
        return "orphan_store"
    if known.rate_days[currency][0] > day:
        return "missing_exchange_rate"
    return ""


def _priced(sale: dict[str, Any], currency: str, delivery_text: str | None, known: _Known, rules: Rules) -> Line:
    """The line of `sale`: its rate (the latest on or before its order date), delivery status and money."""
    day, quantity = sale["order_date"], sale["quantity"]
    rate_day = known.rate_days[currency][bisect_right(known.rate_days[currency], day) - 1]
    rate_value = known.rates[(currency, rate_day)]
    delivery_status, delivery = order_date(delivery_text, rules)
    delivery_status = windowed(delivery_status, delivery, rules)
    if delivery_status == "valid" and delivery < day:  # type: ignore[operator]
        delivery_status = "implausible"
    product = known.products[sale["product_key"]]
    price, cost = product["unit_price_usd"], product["unit_cost_usd"]
    return Line(
        **sale,
        delivery_date=delivery if delivery_status == "valid" else None,
        delivery_date_status=delivery_status,
        currency_code=currency,
        rate_date=rate_day,
        exchange_rate=rate_value,
        revenue_usd=quantity * price,
        cost_usd=quantity * cost,
        revenue_local=round_half_away(quantity * price * rate_value),
    )


def _order_status(lines: dict[tuple[int, int], Line]) -> dict[int, str]:
    """Per order, `delivered`, `unreadable_delivery_date` or `pending` (see the module docstring)."""
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
    return order_status
