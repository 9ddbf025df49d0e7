"""Report filters against the real column types of both warehouses (real HTTP through the whole ASGI stack).

For every column kind, a filter value the column's type can hold selects exactly the rows the same
comparison selects in Python over the report's rows read straight from the warehouse (page `total` and
the keys of the filtered CSV); any other text is a 422 on the page route and on the CSV route alike,
never a 500 or a 200 whose stream breaks off. Examples are derandomized, so a failure reproduces.

What each kind takes is the grammar of api/report_query.py, written out again here from the types the
catalog declares (the test's own reading, not the API's).
"""

from __future__ import annotations

import csv
import io
import math
import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.comparisons import COMPARE
from tests.api.conftest import KEY, BuiltApi
from tests.dbt.conftest import rows
from tests.reports_contract import REPORTS

PROPERTY = settings(
    max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# Reports small enough to read whole for every example; between them they have a column of every kind.
SMALL = (
    "store_performance",
    "data_quality_scorecard",
    "dag_execution_summary",
    "sales_trends_daily",
    "anomaly_detection",
)
INTEGER_BITS = {"smallint": 16, "integer": 32, "bigint": 64, "hugeint": 128}
KINDS = ("integer", "decimal", "double", "date", "timestamp", "text")
# The issue's example: 38 significant digits.
THIRTY_EIGHT_DIGITS = "0." + "1" * 38
# Digits 0-9 of other scripts: Python's int() and Decimal() read them, the API must not.
SCRIPTS = ("٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９")
WIDE = Context(prec=200)  # exact arithmetic on the values drawn (the default context rounds to 28 digits)
MAX_DOUBLE = 1.7976931348623157e308


@dataclass(frozen=True)
class Column:
    """A report column as the warehouse catalog declares it."""

    report: str
    name: str
    data_type: str
    precision: int | None
    scale: int | None

    @property
    def kind(self) -> str:
        base = self.data_type.split("(")[0].lower()
        if base in INTEGER_BITS:
            return "integer"
        if base in ("decimal", "numeric"):
            return "decimal"
        if base in ("double", "double precision"):
            return "double"
        if base in ("timestamp", "timestamp without time zone"):
            return "timestamp"
        return {"date": "date", "varchar": "text", "text": "text"}[base]

    @property
    def integer_range(self) -> tuple[int, int]:
        bits = INTEGER_BITS[self.data_type.lower()]
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@dataclass
class Report:
    """One small report: its columns and every row, as the warehouse's driver returns them."""

    name: str
    columns: list[Column]
    rows: list[dict[str, Any]]


def read_reports(built: BuiltApi) -> dict[str, Report]:
    """The SMALL reports, read straight from the warehouse (not through the API)."""
    catalog = rows(
        built.warehouse,
        "select table_name, column_name, data_type, numeric_precision, numeric_scale from information_schema.columns"
        f" where table_schema = 'reports' and table_name in ({', '.join(repr(n) for n in SMALL)})"
        " order by table_name, ordinal_position",
    )
    reports = {}
    for name in SMALL:
        columns = [
            Column(name, c["column_name"], c["data_type"], c["numeric_precision"], c["numeric_scale"])
            for c in catalog
            if c["table_name"] == name
        ]
        reports[name] = Report(name, columns, rows(built.warehouse, f"select * from reports.{name}"))
    return reports


@pytest.fixture
def reports(built: BuiltApi) -> dict[str, Report]:
    """The SMALL reports of `built`, by name, read straight from its warehouse."""
    return read_reports(built)


def columns_of_kind(reports: dict[str, Report], kind: str) -> list[Column]:
    """Every column of `kind` (see Column.kind) across `reports`."""
    return [c for r in reports.values() for c in r.columns if c.kind == kind]


def filtered(client: TestClient, report: str, text: str) -> tuple[Any, Any]:
    """The page (one row, for `total`) and the CSV of `report` filtered by `text`."""
    params = {"filter": text, "page_size": 1}
    page = client.get(f"/reports/{report}", headers=KEY, params=params)
    download = client.get(f"/reports/{report}.csv", headers=KEY, params={"filter": text})
    return page, download


def assert_selects(client: TestClient, report: Report, column: Column, op: str, text: str, value: Any) -> None:
    """The filter `column:op:text` answers 200 on both routes with exactly the rows where `row op value`."""
    if op == "contains":
        expected = [r for r in report.rows if r[column.name] is not None and value in r[column.name]]
    else:
        expected = [r for r in report.rows if r[column.name] is not None and COMPARE[op](r[column.name], value)]
    key = REPORTS[report.name]
    flt = f"{column.name}:{op}:{text}"
    page, download = filtered(client, report.name, flt)
    assert page.status_code == 200, (flt, page.status_code, page.text[:300])
    assert page.json()["total"] == len(expected), (flt, value)
    assert download.status_code == 200, (flt, download.status_code, download.text[:300])
    got = sorted(tuple(r[k] for k in key) for r in csv.DictReader(io.StringIO(download.text)))
    assert got == sorted(tuple(str(r[k]) for k in key) for r in expected), (flt, value)


def assert_refused(client: TestClient, report: str, flt: str) -> str:
    """The filter is a 422 on the page route and on the CSV route (before any row); returns the detail."""
    page, download = filtered(client, report, flt)
    assert page.status_code == 422, (flt, page.status_code, page.text[:300])
    assert download.status_code == 422, (flt, download.status_code, download.text[:300])
    assert download.json() == page.json()
    return page.json()["detail"]


# ------------------------------------------------------------------------------------ values held


def held_values(column: Column, values: list[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """(text, value): texts in the kind's grammar, of values the column's type holds, near the real ones."""
    kind = column.kind
    if kind == "integer":
        low, high = column.integer_range
        near = st.builds(
            lambda v, d: min(high, max(low, v + d)), st.sampled_from([*values, low, high, 0]), st.integers(-2, 2)
        )
        return st.builds(_integer_text, near, st.booleans(), st.integers(0, 2))
    if kind == "decimal":
        return _held_decimals(column, values)
    if kind == "double":
        extremes = [0.0, -0.0, MAX_DOUBLE, -MAX_DOUBLE, 5e-324, 2.2250738585072014e-308]
        near = st.builds(_nudged, st.sampled_from([*values, *extremes]), st.integers(-2, 2))
        return st.builds(lambda v, form: (form(v), v), near, st.sampled_from([repr, _exact_decimal, _upper_exponent]))
    if kind == "date":
        near = st.builds(
            _shifted_date, st.sampled_from([*values, date(1, 1, 1), date(9999, 12, 31)]), st.integers(-3, 3)
        )
        return near.map(lambda d: (d.isoformat(), d))
    if kind == "timestamp":
        return _held_timestamps(values)
    texts = st.one_of(st.sampled_from(values), st.text(st.characters(exclude_characters="\x00"), max_size=8))
    return texts.map(lambda t: (t, t))


def _integer_text(value: int, plus: bool, zeros: int) -> tuple[str, int]:
    digits = "0" * zeros + str(abs(value))
    return ("-" if value < 0 else "+" if plus else "") + digits, value


def _held_decimals(column: Column, values: list[Decimal]) -> st.SearchStrategy[tuple[str, Any]]:
    if column.precision is None:  # Postgres numeric without precision: any decimal, compared exactly
        step = st.builds(lambda k, places: Decimal(k).scaleb(-places), st.integers(-9, 9), st.integers(0, 30))
        near = st.builds(WIDE.add, st.sampled_from(values), step)
        return st.builds(lambda v, form: (form(v), v), near, st.sampled_from([str, _exponent_form]))
    scale, before = column.scale or 0, column.precision - (column.scale or 0)
    unit = Decimal(1).scaleb(-scale)
    largest = WIDE.subtract(WIDE.power(10, before), unit)
    base = st.sampled_from([*values, largest, -largest, Decimal(0)])
    near = st.builds(
        lambda v, k: max(-largest, min(largest, WIDE.add(v, k * unit))).quantize(unit, context=WIDE),
        base,
        st.integers(-3, 3),
    )
    forms = st.sampled_from(
        [str, _exponent_form, lambda v: f"{v}000" if scale else f"{v}.000", lambda v: f"+{v}" if v >= 0 else str(v)]
    )
    return st.builds(lambda v, form: (form(v), v), near, forms)


def _exponent_form(value: Decimal) -> str:
    sign, digits, exponent = value.as_tuple()
    return ("-" if sign else "") + "".join(map(str, digits)) + f"e{exponent}"


def _nudged(value: float, steps: int) -> float:
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.inf if steps > 0 else -math.inf)
    return value if math.isfinite(value) else math.copysign(MAX_DOUBLE, value)


def _exact_decimal(value: float) -> str:
    return format(Decimal(value), "f") if abs(value) < 1e30 else str(Decimal(value))


def _upper_exponent(value: float) -> str:
    return f"{value:.17E}"


def _shifted_date(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return day


OFFSETS = ["+05:00", "-03:30", "+14:00", "-12:00", "Z", "+00:00", ""]  # the first is what hypothesis tries first


def _held_timestamps(values: list[datetime]) -> st.SearchStrategy[tuple[str, Any]]:
    deltas = [timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1), timedelta(seconds=1)]
    deltas += [timedelta(seconds=-1), timedelta(hours=5), timedelta(hours=-5), timedelta(days=1)]
    near = st.builds(operator.add, st.sampled_from(values), st.sampled_from(deltas))
    written = st.builds(_timestamp_text, near, st.sampled_from(OFFSETS), st.sampled_from(["T", " "]))
    midnight = st.sampled_from(values).map(lambda v: (v.date().isoformat(), datetime(v.year, v.month, v.day)))
    return st.integers(0, 3).flatmap(lambda i: midnight if i == 0 else written)


def _timestamp_text(utc: datetime, offset: str, separator: str) -> tuple[str, datetime]:
    """`utc` written as local time at `offset` (UTC for "" and Z), and the instant it names (naive UTC)."""
    shift = timedelta(0)
    if offset not in ("", "Z"):
        sign = 1 if offset[0] == "+" else -1
        shift = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    local = utc + shift
    text = local.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond:06d}".rstrip("0")
    return text + offset, utc


@pytest.mark.parametrize("kind", KINDS)
def test_a_value_the_column_holds_selects_what_the_same_comparison_selects(
    client: TestClient, reports: dict[str, Report], kind: str
) -> None:
    columns = [c for c in columns_of_kind(reports, kind) if any(r[c.name] is not None for r in reports[c.report].rows)]
    assert columns, kind
    ops = ["eq", "ne", "contains"] if kind == "text" else list(COMPARE)  # text order is the server's collation

    @PROPERTY
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        column = data.draw(st.sampled_from(columns), label="column")
        report = reports[column.report]
        values = sorted({row[column.name] for row in report.rows if row[column.name] is not None}, key=repr)
        text, value = data.draw(held_values(column, values), label="value")
        op = data.draw(st.sampled_from(ops), label="op")
        assert_selects(client, report, column, op, text, value)

    check()


# ------------------------------------------------------------------------------------ values refused


def _in_script(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", script))


NOT_NUMBERS = ["", " ", ".", "-", "+", "e5", "1e", "1.5.1", "1,5", "0x1F", "NaN", "nan", "-Infinity", "inf", "sNaN"]
NOT_NUMBERS += [" 1", "1 ", "1_000", "+-1", "1e+", "½", "¹"]
NOT_DATES = ["2025-W01-1", "2025-W01", "2025-001", "20250101", "2025-1-1", "2025-02-30", "2025-13-01", "0000-01-01"]
NOT_DATES += ["2025-01-01T00:00", "2025-01-01 ", " 2025-01-01", "+2025-01-01", "12025-01-01", "2025-01-01Z", "today"]
NOT_TIMESTAMPS = ["2025-W01-1T10:00", "2025-001T10:00", "20250101T100000", "2025-01-01T10", "2025-01-01T10:00+05"]
NOT_TIMESTAMPS += ["2025-01-01T10:00+0500", "2025-01-01T10:00+24:00", "2025-01-01T10:00+05:60", "2025-01-01T24:00"]
NOT_TIMESTAMPS += [
    "2025-01-01T10:00:60",
    "2025-01-01T10:00:00.1234567",
    "2025-01-01T10:00:00,5",
    "2025-01-01T10:00Z+01:00",
]
NOT_TIMESTAMPS += ["2025-01-01T10:00:00 05:00", "2025-01-01+05:00", "0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00"]


def refused_values(column: Column) -> st.SearchStrategy[str]:
    """Texts the column's type cannot hold, or that are not in its kind's grammar."""
    kind = column.kind
    other_digits = st.builds(_in_script, st.integers(0, 10**6).map(str), st.sampled_from(SCRIPTS))
    if kind == "integer":
        low, high = column.integer_range
        beyond = st.one_of(st.integers(high + 1, 4 * high), st.integers(4 * low, low - 1)).map(str)
        underscored = st.builds(lambda a, b: f"{a}_{b:03d}", st.integers(1, 999), st.integers(0, 999))
        forms = st.sampled_from([*NOT_NUMBERS, "1.0", "1e3", "1.", ".5", "١٢", "٣", "1_000"])
        return st.one_of(beyond, underscored, other_digits, forms)
    if kind in ("decimal", "double"):
        forms = st.sampled_from(NOT_NUMBERS)
        numbers = st.one_of(forms, other_digits.map(lambda t: t + ".5"))
        if kind == "double":
            return st.one_of(numbers, st.sampled_from(["1e309", "-2e308", "1" + "0" * 400]))
        if column.precision is None:  # Postgres numeric: beyond its limits only
            return st.one_of(numbers, st.sampled_from(["1e131072", "-1e131072", "1e-16384", "0." + "0" * 16383 + "1"]))
        scale, before = column.scale or 0, column.precision - (column.scale or 0)
        too_fine = st.builds(
            lambda whole, extra, last: f"{whole}.{'0' * (scale + extra - 1)}{last}",
            st.integers(-99, 99),
            st.integers(1, 40),
            st.integers(1, 9),
        )
        too_large = st.builds(
            lambda m, sign: f"{sign}{m * 10**before}", st.integers(1, 10**6), st.sampled_from(["", "-"])
        )
        return st.one_of(numbers, too_fine, too_large, st.just(THIRTY_EIGHT_DIGITS), st.just(f"1e{before}"))
    if kind == "date":
        return st.one_of(st.sampled_from(NOT_DATES), st.just("2025-01-01").map(lambda t: _in_script(t, SCRIPTS[0])))
    if kind == "timestamp":
        return st.one_of(
            st.sampled_from(NOT_TIMESTAMPS + NOT_DATES[:7]), st.just(_in_script("2025-01-01T10:00", SCRIPTS[3]))
        )
    return st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=3), st.text(max_size=3))


@pytest.mark.parametrize("kind", KINDS)
def test_a_value_the_column_cannot_hold_is_422_on_the_page_and_the_csv(
    client: TestClient, reports: dict[str, Report], kind: str
) -> None:
    columns = columns_of_kind(reports, kind)
    ops = ["eq", "contains"] if kind == "text" else list(COMPARE)

    @PROPERTY
    @given(column=st.sampled_from(columns), data=st.data())
    def check(column: Column, data: st.DataObject) -> None:
        text = data.draw(refused_values(column), label="value")
        op = data.draw(st.sampled_from(ops), label="op")
        assert_refused(client, column.report, f"{column.name}:{op}:{text}")

    check()


# ------------------------------------------------------------------------------------ the issue's cases


def test_the_issues_38_digit_value_is_422_where_the_column_declares_two_decimals(
    client: TestClient, built: BuiltApi
) -> None:
    # avg_order_value_usd is decimal(18,2) on both targets; revenue_usd is DECIMAL(38,2) on DuckDB.
    detail = assert_refused(client, "customer_summary", f"avg_order_value_usd:gt:{THIRTY_EIGHT_DIGITS}")
    assert detail == (
        f"'{THIRTY_EIGHT_DIGITS}' is not a value for avg_order_value_usd"
        f" ({'DECIMAL(18,2)' if built.warehouse.target == 'duckdb' else 'numeric'}),"
        " which holds at most 16 digits before the point and 2 after"
    )
    if built.warehouse.target == "duckdb":
        detail = assert_refused(client, "customer_summary", f"revenue_usd:gt:{THIRTY_EIGHT_DIGITS}")
        assert detail == (
            f"'{THIRTY_EIGHT_DIGITS}' is not a value for revenue_usd (DECIMAL(38,2)),"
            " which holds at most 36 digits before the point and 2 after"
        )
        return
    # Postgres declares revenue_usd (a sum) plain numeric, which holds the value: compared exactly.
    revenues = [r["revenue_usd"] for r in rows(built.warehouse, "select revenue_usd from reports.customer_summary")]
    expected = sum(1 for v in revenues if v > Decimal(THIRTY_EIGHT_DIGITS))
    assert expected == sum(1 for v in revenues if v >= Decimal("0.12"))
    page, download = filtered(client, "customer_summary", f"revenue_usd:gt:{THIRTY_EIGHT_DIGITS}")
    assert page.status_code == download.status_code == 200
    assert page.json()["total"] == expected == len(list(csv.DictReader(io.StringIO(download.text))))


@pytest.mark.parametrize(
    ("report", "flt"),
    [
        ("customer_summary", "orders:eq:٣"),
        ("customer_summary", "orders:gte:1_000"),
        ("customer_summary", "customer_key:eq:１２"),
        ("customer_summary", "revenue_usd:gt:1_000.5"),
        ("customer_summary", "revenue_usd:gt:٣"),
        ("customer_summary", "first_order_date:gte:2025-W01-1"),
        ("customer_summary", "first_order_date:gte:2025-001"),
        ("customer_summary", "first_order_date:gte:20250101"),
        ("dag_execution_summary", "started_at:gte:2025-W01-1T00:00"),
        ("dag_execution_summary", "started_at:gte:2025-01-01T00:00+05"),
    ],
)
def test_forms_pythons_parsers_take_are_not_integers_or_dates(client: TestClient, report: str, flt: str) -> None:
    assert assert_refused(client, report, flt).startswith(repr(flt.split(":", 2)[2]) + " is not a value for ")


def test_a_timestamp_with_an_offset_selects_what_the_same_instant_in_utc_selects(
    client: TestClient, built: BuiltApi
) -> None:
    (run,) = rows(built.warehouse, "select started_at from reports.dag_execution_summary")
    utc: datetime = run["started_at"]  # naive UTC, as the warehouse stores it
    plus_five = (utc + timedelta(hours=5)).isoformat() + "+05:00"
    minus_three = (utc - timedelta(hours=3, minutes=30)).isoformat() + "-03:30"

    def total(flt: str) -> int:
        page, download = filtered(client, "dag_execution_summary", flt)
        assert page.status_code == download.status_code == 200, (flt, page.text[:300])
        assert len(list(csv.DictReader(io.StringIO(download.text)))) == page.json()["total"]
        return page.json()["total"]

    for written in (utc.isoformat(), utc.isoformat() + "Z", plus_five, minus_three):
        assert [total(f"started_at:{op}:{written}") for op in ("eq", "ne", "lt", "lte", "gt", "gte")] == [
            1,
            0,
            0,
            1,
            0,
            1,
        ]
    later = (utc + timedelta(microseconds=1) + timedelta(hours=5)).isoformat() + "+05:00"
    assert total(f"started_at:lt:{later}") == 1 and total(f"started_at:gte:{later}") == 0
    # A date alone is that day's midnight UTC.
    assert total(f"started_at:gte:{utc.date().isoformat()}") == 1
    assert total(f"started_at:lt:{utc.date().isoformat()}") == 0


def test_the_catalog_types_the_filters_rely_on(built: BuiltApi, reports: dict[str, Report]) -> None:
    # Pinned: if a report's types change, the grammar a client meets changes with them (see report_query.py).
    found = {
        (c.report, c.name): (c.data_type, c.precision, c.scale)
        for r in reports.values()
        for c in r.columns
        if c.name in ("revenue_usd", "revenue_per_m2", "score", "started_at", "z_score", "models_built")
    }
    if built.warehouse.target == "duckdb":
        assert found == {
            ("store_performance", "revenue_usd"): ("DECIMAL(38,2)", 38, 2),
            ("store_performance", "revenue_per_m2"): ("DECIMAL(18,2)", 18, 2),
            ("data_quality_scorecard", "score"): ("DECIMAL(4,1)", 4, 1),
            ("dag_execution_summary", "started_at"): ("TIMESTAMP", None, None),
            ("dag_execution_summary", "models_built"): ("INTEGER", 32, 0),
            ("anomaly_detection", "z_score"): ("DOUBLE", 53, 0),
            ("sales_trends_daily", "revenue_usd"): ("DECIMAL(38,2)", 38, 2),
        }
    else:
        assert found == {
            ("store_performance", "revenue_usd"): ("numeric", None, None),
            ("store_performance", "revenue_per_m2"): ("numeric", None, None),
            ("data_quality_scorecard", "score"): ("numeric", 4, 1),
            ("dag_execution_summary", "started_at"): ("timestamp without time zone", None, None),
            ("dag_execution_summary", "models_built"): ("integer", 32, 0),
            ("anomaly_detection", "z_score"): ("double precision", 53, None),
            ("sales_trends_daily", "revenue_usd"): ("numeric", None, None),
        }


def test_leading_zeros_count_for_nothing_however_many(client: TestClient) -> None:
    """5,000 leading zeros once went to int() whole and broke its 4,300-digit limit (a 500)."""
    padded = client.get("/reports/customer_summary", headers=KEY, params={"filter": "orders:gt:" + "0" * 5000 + "1"})
    plain = client.get("/reports/customer_summary", headers=KEY, params={"filter": "orders:gt:1"})
    assert padded.status_code == plain.status_code == 200, padded.text[:300]
    assert padded.json()["total"] == plain.json()["total"]
    csv = client.get("/reports/customer_summary.csv", headers=KEY, params={"filter": "orders:gt:" + "0" * 5000 + "1"})
    assert csv.status_code == 200 and csv.text.count("\n") == plain.json()["total"] + 1
