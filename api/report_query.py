"""Reading a report page by page: `sort` and `filter` allowed only on the report's real columns (as the
warehouse catalog lists them), values converted to the column's type and passed as bound parameters.

Client text never becomes SQL: column names are checked against the catalog and then quoted, operators
come from a fixed table, values are parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestion.warehouse import Connection
from orchestration.reports import REPORTS

MAX_SORT_KEYS = 5
MAX_FILTERS = 10
OPERATORS = {
    "eq": "=",
    "ne": "<>",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "contains": "like",
    "null": "is null",
    "notnull": "is not null",
}
_INT64 = 2**63


class QueryError(ValueError):
    """A sort or filter the report cannot take (answered with 422)."""


@dataclass(frozen=True)
class CatalogColumn:
    """A column of a report table, as the warehouse catalog has it."""

    name: str
    data_type: str

    @property
    def kind(self) -> str:
        """integer, number, date, timestamp, boolean or text."""
        t = self.data_type.lower()
        if re.match(r"(big|small|tiny|huge|u)?int|integer|bigint|smallint|hugeint", t):
            return "integer"
        if t.startswith(("decimal", "numeric", "double", "real", "float")):
            return "number"
        if t.startswith("timestamp"):
            return "timestamp"
        if t == "date":
            return "date"
        if t.startswith("bool"):
            return "boolean"
        return "text"


def report_columns(conn: Connection, name: str) -> list[CatalogColumn]:
    """The report table's columns from information_schema (empty when the report is not built)."""
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'reports' and table_name = ? order by ordinal_position",
        (name,),
    )
    return [CatalogColumn(column, kind) for column, kind in rows]


@dataclass(frozen=True)
class ReportQuery:
    """The SQL of one report read, and its parameters."""

    where: str
    params: tuple[Any, ...]
    order_by: str

    def page_sql(self, name: str) -> str:
        """Rows of one page (the caller appends limit and offset parameters)."""
        return f"select * from reports.{name}{self.where} order by {self.order_by} limit ? offset ?"

    def all_sql(self, name: str) -> str:
        """Every matching row, in order (the CSV download)."""
        return f"select * from reports.{name}{self.where} order by {self.order_by}"

    def count_sql(self, name: str) -> str:
        """How many rows match."""
        return f"select count(*) from reports.{name}{self.where}"


def build_query(name: str, columns: Sequence[CatalogColumn], sort: str | None, filters: Sequence[str]) -> ReportQuery:
    """Parse `sort` (`col,-col2`) and `filter` (`col:op:value`) against the report's columns."""
    by_name = {c.name: c for c in columns}
    order = [f"{_quote(col)} {'desc' if desc else 'asc'} nulls last" for col, desc in parse_sort(sort, by_name)]
    sorted_on = {part.split(" ")[0] for part in order}
    order += [f"{_quote(key)} asc nulls last" for key in REPORTS[name] if _quote(key) not in sorted_on]
    clauses, params = [], []
    if len(filters) > MAX_FILTERS:
        raise QueryError(f"at most {MAX_FILTERS} filters")
    for text in filters:
        clause, values = parse_filter(text, by_name)
        clauses.append(clause)
        params.extend(values)
    where = f" where {' and '.join(clauses)}" if clauses else ""
    return ReportQuery(where=where, params=tuple(params), order_by=", ".join(order))


def parse_sort(sort: str | None, columns: dict[str, CatalogColumn]) -> list[tuple[str, bool]]:
    """`revenue_usd,-orders` -> [(revenue_usd, ascending), (orders, descending)]."""
    if sort is None or not sort.strip():
        return []
    keys = [part.strip() for part in sort.split(",")]
    if len(keys) > MAX_SORT_KEYS:
        raise QueryError(f"sort takes at most {MAX_SORT_KEYS} columns")
    result = []
    for key in keys:
        desc = key.startswith("-")
        column = key[1:] if desc else key
        if column not in columns:
            raise QueryError(f"cannot sort on {column!r}: columns are {', '.join(columns)}")
        result.append((column, desc))
    return result


def parse_filter(text: str, columns: dict[str, CatalogColumn]) -> tuple[str, list[Any]]:
    """`country:eq:Germany` -> (`"country" = ?`, ['Germany']); `delivery_date:null` takes no value."""
    parts = text.split(":", 2)
    if len(parts) < 2:
        raise QueryError(f"filter {text!r}: write column:operator:value (operators: {', '.join(OPERATORS)})")
    column_name, op = parts[0], parts[1]
    column = columns.get(column_name)
    if column is None:
        raise QueryError(f"cannot filter on {column_name!r}: columns are {', '.join(columns)}")
    if op not in OPERATORS:
        raise QueryError(f"filter {text!r}: unknown operator {op!r} (use {', '.join(OPERATORS)})")
    if op in ("null", "notnull"):
        if len(parts) == 3:
            raise QueryError(f"filter {text!r}: {op} takes no value")
        return f"{_quote(column.name)} {OPERATORS[op]}", []
    if len(parts) < 3:
        raise QueryError(f"filter {text!r}: {op} needs a value (column:{op}:value)")
    value = parts[2]
    if op == "contains":
        if column.kind != "text":
            raise QueryError(f"filter {text!r}: contains works on text columns only")
        escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return f"{_quote(column.name)} like ? escape '!'", [f"%{escaped}%"]
    return f"{_quote(column.name)} {OPERATORS[op]} ?", [convert(column, value)]


def convert(column: CatalogColumn, text: str) -> Any:
    """The filter value as the column's type; QueryError if it is not one."""
    kind = column.kind
    try:
        if kind == "integer":
            value = int(text)
            if not -_INT64 <= value < _INT64:
                raise ValueError
            return value
        if kind == "number":
            number = Decimal(text)
            if not number.is_finite() or abs(number.adjusted()) > 30:
                raise ValueError
            return float(number) if column.data_type.lower().startswith(("double", "real", "float")) else number
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "timestamp":
            return datetime.fromisoformat(text).replace(tzinfo=None)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
    except (ValueError, InvalidOperation, OverflowError):
        raise QueryError(f"{text!r} is not a valid {kind} for column {column.name}") from None
    if "\x00" in text:
        raise QueryError(f"filter value for {column.name} holds a NUL character")
    return text


def json_safe(value: Any) -> Any:
    """A value JSON carries as a number (decimals become floats; NaN and infinities become null)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
