"""Fuzzing: schemathesis generates requests from the OpenAPI schema for every read operation, and
hypothesis throws arbitrary sort/filter text (real column names, any operator, any value) at the reports.
Whatever comes in, the answer is never a server error, and every answer matches the OpenAPI schema.

Filter values are also drawn per column type, for every column of every report: numbers of any length
and exponent, digits of every script, underscores, ISO week and ordinal dates, timestamps at any offset,
and values near the report's real ones. A value is only ever answered 200 if it is written in its kind's
grammar (see api/report_query.py), and on the small reports the rows it selects are the ones Python's
own comparison selects (a timestamp's offset included).
Examples are derandomized: the same cases every run, so a failure reproduces."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from tests.api.comparisons import COMPARE
from tests.api.conftest import KEY

FUZZ = settings(
    max_examples=20, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def test_no_operation_of_the_openapi_schema_answers_500_or_off_schema(client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    reads = [op for op in operations if op.method.upper() == "GET"]
    assert len(reads) >= 20  # every GET route is in the schema
    errors: list[str] = []
    for operation in reads:
        _fuzz(operation, errors)
    assert errors == []


def _fuzz(operation, errors: list[str]) -> None:
    """Schemathesis' cases for one operation: server errors collected, answers checked against the schema."""
    # A schema-valid sort or filter can name a column the report does not have (which columns depends on
    # the report): that 422 is right, so only there may schema-valid input be refused.
    excluded = [positive_data_acceptance] if operation.path.startswith("/reports/") else []

    @FUZZ
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call(headers=KEY)
        if response.status_code >= 500:
            errors.append(f"{case.method} {case.formatted_path} {case.query}: {response.status_code}")
        case.validate_response(response, excluded_checks=excluded)  # status and body as documented

    check()


COLUMNS = ["customer_key", "name", "country", "orders", "revenue_usd", "first_order_date", "avg_order_value_usd"]
OPERATORS = ["eq", "ne", "lt", "lte", "gt", "gte", "contains", "null", "notnull", "like", ""]
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1", "-1", "1e999", "NaN", "2025-01-01", "2025-13-45", "' or 1=1 --", "%", "_", "\\", "\x00"]),
)
FILTERS = st.one_of(
    st.builds(lambda c, o, v: f"{c}:{o}:{v}", st.sampled_from(COLUMNS), st.sampled_from(OPERATORS), VALUES),
    st.builds(lambda c, o: f"{c}:{o}", st.sampled_from(COLUMNS), st.sampled_from(OPERATORS)),
    st.text(max_size=40),
)
SORTS = st.one_of(
    st.lists(st.builds(lambda d, c: d + c, st.sampled_from(["", "-", "+"]), st.sampled_from(COLUMNS)), max_size=6).map(
        ",".join
    ),
    st.text(max_size=40),
)


def test_any_sort_and_filter_text_is_answered_without_a_server_error(client: TestClient) -> None:
    @settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(sort=SORTS, filters=st.lists(FILTERS, max_size=3))
    def check(sort: str, filters: list[str]) -> None:
        response = client.get("/reports/customer_summary", headers=KEY, params={"sort": sort, "filter": filters})
        assert response.status_code in (200, 422), (sort, filters, response.status_code, response.text[:300])
        if response.status_code == 200:
            body = response.json()
            assert len(body["items"]) <= body["page_size"] and body["total"] >= len(body["items"])

    check()


# The grammar of each kind, written out again here (ASCII digits only: re.ASCII).
GRAMMAR = {
    "integer": re.compile(r"[+-]?[0-9]+", re.ASCII),
    "number": re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII),
    "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII),
    "timestamp": re.compile(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?",
        re.ASCII,
    ),
    "text": re.compile(r"[^\x00]*", re.DOTALL),
}
SMALL_REPORT = 500  # reports with at most this many rows are read whole, to check what a filter selects


def kind_of(data_type: str) -> str:
    """The filter kind of a catalog type, DuckDB's or Postgres' spelling."""
    base = data_type.split("(")[0].lower()
    if base in ("smallint", "integer", "bigint", "hugeint"):
        return "integer"
    if base in ("decimal", "numeric", "double", "double precision", "real"):
        return "number"
    if base.startswith("timestamp"):
        return "timestamp"
    return "date" if base == "date" else "text"


def _digits_of_any_script(size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(categories=["Nd"]), min_size=1, max_size=size)


OFFSETS = ["", "Z", "+00:00", "+05:00", "-03:30", "+14:00", "+0500", "+05", "+24:00", "-00:60", " 05:00"]
ADVERSARIAL = {
    "integer": st.one_of(
        st.sampled_from(["٣", "1_000", "١٢", "1.0", "1e3", " 1", "1 ", "+-1", "", "0x1F", "²"]),
        st.integers(-(2**130), 2**130).map(str),
        _digits_of_any_script(4),
        st.from_regex(r"[0-9]{1,3}(_[0-9]{3}){1,2}", fullmatch=True),
    ),
    "number": st.one_of(
        st.sampled_from(["0." + "1" * 38, "1_000.5", "٣", "NaN", "-Infinity", "1,5", " 1.5", ".", "1e", "½"]),
        st.from_regex(r"[+-]?[0-9]{1,45}(\.[0-9]{1,45})?([eE][+-]?[0-9]{1,6})?", fullmatch=True),
        # 34 to 38 digits after the point: a literal DuckDB takes as DECIMAL(38, 34..38), too narrow for the column
        st.builds(
            lambda sign, digits: f"{sign}0.{digits}",
            st.sampled_from(["", "-"]),
            st.from_regex(r"[0-9]{33,37}[1-9]", fullmatch=True),
        ),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
        _digits_of_any_script(4).map(lambda d: d + ".5"),
    ),
    "date": st.one_of(
        st.sampled_from(["2025-W01-1", "2025-001", "20250101", "2025-02-30", "0000-01-01", "2025-1-1", "today"]),
        st.dates(min_value=date(1000, 1, 1)).map(date.isoformat),
        st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%G-W%V-%u")),
        st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%Y-%j")),
        st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%Y%m%d")),
        st.dates().map(lambda d: d.isoformat().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
        st.sampled_from(["2025-01-01T00:00", "2025-01-01 ", "+2025-01-01"]),
    ),
    "timestamp": st.one_of(
        st.sampled_from(["2025-W01-1T10:00", "2025-01-01T10", "2025-01-01T24:00", "2025-01-01T10:00:00.1234567"]),
        st.builds(lambda t, o: t.isoformat() + o, st.datetimes(), st.sampled_from(OFFSETS)),
        st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%G-W%V-%uT10:00")),
        st.sampled_from(["0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00", "20250101T100000"]),
    ),
    "text": st.text(max_size=20),
}


def _near(kind: str, value: Any) -> st.SearchStrategy[str]:
    """Texts of a real value of the column (a timestamp written at an offset, as local time there)."""
    if kind == "timestamp":
        utc = datetime.fromisoformat(value)
        offsets = st.sampled_from([timedelta(0), timedelta(hours=5), timedelta(hours=-3, minutes=-30)])
        return st.builds(lambda o: (utc + o).replace(tzinfo=timezone(o)).isoformat(), offsets)
    if kind == "number":
        return st.sampled_from([repr(value), f"{value:.17E}"])
    return st.just(str(value))


def _value(kind: str, text: str) -> Any:
    """The value a well-formed filter text names, as Python compares it with the report's JSON rows."""
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "timestamp":
        moment = datetime.fromisoformat(text.replace(" ", "T").replace("z", "Z"))
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return text


def _row_value(kind: str, value: Any) -> Any:
    if value is None or kind in ("integer", "number", "text"):
        return value
    return date.fromisoformat(value) if kind == "date" else datetime.fromisoformat(value)


@pytest.mark.parametrize("kind", sorted(GRAMMAR))
def test_filter_values_per_column_type_are_422_unless_well_formed_and_select_the_right_rows(
    client: TestClient, kind: str
) -> None:
    listing = client.get("/reports", headers=KEY, params={"page_size": 50}).json()["items"]
    columns = [(r["name"], c["name"], c["data_type"]) for r in listing for c in r["columns"]]
    columns = [column for column in columns if kind_of(column[2]) == kind]
    small = {
        r["name"]: client.get(f"/reports/{r['name']}", headers=KEY, params={"page_size": SMALL_REPORT}).json()["items"]
        for r in listing
        if r["rows"] <= SMALL_REPORT
    }
    samples = {  # real values to draw near: the first page of every report
        r["name"]: client.get(f"/reports/{r['name']}", headers=KEY, params={"page_size": 20}).json()["items"]
        for r in listing
    }

    @settings(max_examples=30, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        report, column, data_type = data.draw(st.sampled_from(columns), label="column")
        real = [row[column] for row in samples[report] if row[column] is not None]
        near = st.sampled_from(real).flatmap(lambda v: _near(kind, v)) if real else ADVERSARIAL[kind]
        text = data.draw(st.booleans().flatmap(lambda n: near if n else ADVERSARIAL[kind]), label="value")
        op = data.draw(st.sampled_from([*COMPARE, "contains"]), label="op")
        flt = f"{column}:{op}:{text}"
        page = client.get(f"/reports/{report}", headers=KEY, params={"filter": flt, "page_size": 1})
        assert page.status_code in (200, 422), (flt, page.status_code, page.text[:300])
        if page.status_code == 422:
            return
        assert GRAMMAR[kind].fullmatch(text), f"{flt} ({data_type}) is not in the {kind} grammar, yet answered 200"
        assert op != "contains" or kind == "text", flt
        if report not in small:
            return
        download = client.get(f"/reports/{report}.csv", headers=KEY, params={"filter": flt})
        assert (
            download.status_code == 200
            and len(list(csv.DictReader(io.StringIO(download.text)))) == (page.json()["total"])
        ), flt
        if data_type.lower().startswith(("decimal", "numeric")) or (
            kind == "text" and op not in ("eq", "ne", "contains")
        ):
            return  # JSON carries decimals as floats; text order is the server's collation (test_report_filters.py)
        selected = [_row_value(kind, row[column]) for row in small[report]]
        if op == "contains":
            expected = sum(1 for v in selected if v is not None and text in v)
        else:
            value = _value(kind, text)
            expected = sum(1 for v in selected if v is not None and COMPARE[op](v, value))
        assert page.json()["total"] == expected, (flt, data_type)

    check()
