"""Fuzzing: schemathesis generates requests from the OpenAPI schema for every read operation, and
hypothesis throws arbitrary sort/filter text (real column names, any operator, any value) at the reports.
Whatever comes in, the answer is never a server error, and every answer matches the OpenAPI schema.
Examples are derandomized: the same cases every run, so a failure reproduces."""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

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
