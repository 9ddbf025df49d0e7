"""Reading a report page by page: `sort` and `filter` allowed only on the report's real columns (as the
warehouse catalog lists them), values converted to the column's type and passed as bound parameters.

Client text never becomes SQL: column names are checked against the catalog and then quoted, operators
come from a fixed table, values are parameters.

A filter value is read by a grammar of its column's kind, never by Python's lenient parsers (`int()` takes
`٣` and `1_000`, `date.fromisoformat` takes `2025-W01-1`), and must be a value the column's type can hold;
any other text is a QueryError (422) before a query runs, so no value fails in the warehouse:

  integer    ASCII digits with an optional sign, within the type's range (smallint -2^15 .. 2^15-1, integer
             2^31, bigint 2^63, DuckDB's hugeint 2^127 and unsigned types 0 .. 2^n-1).
  number     ASCII digits with an optional sign, decimal point and exponent (`12`, `-0.5`, `.5`, `2e3`); no
             NaN, no infinity. Then, by the column's type:
             decimal(p, s)  at most s digits after the point (trailing zeros aside) and p - s before it; the
                            value is bound at scale s, so the warehouse compares it exactly, in the column's type
                            (`revenue_usd:gt:0.111` on a decimal(38,2) is a 422, not a rounded 0.11).
             numeric        without precision and scale (Postgres' type of a sum): compared exactly, within
                            Postgres' limits (131072 digits before the point, 16383 after). DuckDB types the
                            same sums DECIMAL(38,2), so there `0.111` is a 422: the catalogs differ, not the rule.
             double, real   any value within a double's range, rounded to the nearest double (as a SQL
                            literal is); beyond the range, a 422.
  date       YYYY-MM-DD, years 0001 to 9999.
  timestamp  YYYY-MM-DD, optionally followed by `T` (or `t`, or a space) and HH:MM, HH:MM:SS or HH:MM:SS.ffffff (at
             most microseconds), and after the time optionally an offset: Z or +HH:MM / -HH:MM. The warehouse
             stores naive timestamps in UTC: a value with an offset is converted to UTC (`10:00+05:00` is 05:00
             UTC), one without is UTC already, and a date alone is that day's midnight UTC. The instant must
             fall in the years 0001 to 9999 in UTC.
  boolean    true or false, in any letter case.
  text       anything but a NUL character (Postgres text cannot hold one); `contains` works on text only.

Columns of other types (interval, time, blob, ...) take only `null` and `notnull`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from core.warehouse import Connection

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
# Integer types (DuckDB and Postgres names, lower case) -> (bits, signed).
INTEGER_TYPES = {
    "tinyint": (8, True),
    "int1": (8, True),
    "smallint": (16, True),
    "int2": (16, True),
    "integer": (32, True),
    "int": (32, True),
    "int4": (32, True),
    "bigint": (64, True),
    "int8": (64, True),
    "hugeint": (128, True),
    "int128": (128, True),
    "utinyint": (8, False),
    "usmallint": (16, False),
    "uinteger": (32, False),
    "ubigint": (64, False),
    "uhugeint": (128, False),
}
FLOAT_TYPES = {"double", "double precision", "float", "float4", "float8", "real"}
DECIMAL_TYPES = {"decimal", "numeric"}
TIMESTAMP_TYPES = {
    "timestamp",
    "timestamp without time zone",
    "datetime",
    "timestamp_s",
    "timestamp_ms",
    "timestamp_ns",
}
TIMESTAMPTZ_TYPES = {"timestamp with time zone", "timestamptz"}
TEXT_TYPES = {"varchar", "text", "character varying", "character", "char", "bpchar", "string"}
# Postgres' numeric without a declared precision: at most this many digits before / after the point.
POSTGRES_NUMERIC_DIGITS = (131072, 16383)
MAX_DOUBLE = "1.7976931348623157e308"

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?)?",
    re.ASCII,
)
_DECLARED = re.compile(r"\(\s*([0-9]+)\s*(?:,\s*([0-9]+)\s*)?\)")


class QueryError(ValueError):
    """A sort or filter the report cannot take (answered with 422)."""


@dataclass(frozen=True)
class CatalogColumn:
    """A column of a report table, as the warehouse catalog has it: its name, its type as the catalog
    spells it (`DECIMAL(18,2)` on DuckDB, `numeric` on Postgres), and for decimals the declared precision
    (digits in all) and scale (digits after the point), None where the type declares none."""

    name: str
    data_type: str
    precision: int | None = None
    scale: int | None = None

    @property
    def base_type(self) -> str:
        """The type's name in lower case without its parameters: `decimal` for `DECIMAL(18,2)`."""
        return self.data_type.split("(", 1)[0].strip().lower()

    @property
    def kind(self) -> str:
        """integer, number, date, timestamp, boolean, text, or other (a type filters cannot compare with)."""
        t = self.base_type
        if t in INTEGER_TYPES:
            return "integer"
        if t in DECIMAL_TYPES or t in FLOAT_TYPES:
            return "number"
        if t in TIMESTAMP_TYPES or t in TIMESTAMPTZ_TYPES:
            return "timestamp"
        if t == "date":
            return "date"
        if t in ("boolean", "bool"):
            return "boolean"
        if t in TEXT_TYPES:
            return "text"
        return "other"

    def decimal_digits(self) -> tuple[int, int] | None:
        """(precision, scale) of a decimal column that declares them; None for other columns and for
        Postgres' numeric without a declared precision."""
        if self.base_type not in DECIMAL_TYPES:
            return None
        if self.precision is not None:
            return self.precision, self.scale or 0
        declared = _DECLARED.search(self.data_type)
        if declared is None:
            return None
        return int(declared.group(1)), int(declared.group(2) or 0)


def report_columns(conn: Connection, name: str) -> list[CatalogColumn]:
    """The report table's columns from information_schema (empty when the report is not built)."""
    rows = conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns"
        " where table_schema = 'reports' and table_name = ? order by ordinal_position",
        (name,),
    )
    columns = []
    for column, data_type, precision, scale in rows:
        if data_type.split("(", 1)[0].strip().lower() not in DECIMAL_TYPES:
            precision = scale = None  # integers and floats report bits, not decimal digits
        columns.append(CatalogColumn(column, data_type, precision, scale))
    return columns


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


def build_query(
    key: Sequence[str], columns: Sequence[CatalogColumn], sort: str | None, filters: Sequence[str]
) -> ReportQuery:
    """Parse `sort` (`col,-col2`) and `filter` (`col:op:value`) against the report's columns; rows are then
    ordered by its `key` columns (from the manifest) after the sort's. Raises QueryError (a 422)."""
    by_name = {c.name: c for c in columns}
    order = [f"{_quote(col)} {'desc' if desc else 'asc'} nulls last" for col, desc in parse_sort(sort, by_name)]
    sorted_on = {part.split(" ")[0] for part in order}
    order += [f"{_quote(column)} asc nulls last" for column in key if _quote(column) not in sorted_on]
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
    """`country:eq:Germany` -> (`"country" = ?`, ['Germany']); `delivery_date:null` takes no value.

    Raises QueryError for an unknown column or operator, or a value the column cannot hold (see `convert`).
    """
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
        convert(column, value)  # the same checks as any text value
        escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return f"{_quote(column.name)} like ? escape '!'", [f"%{escaped}%"]
    return f"{_quote(column.name)} {OPERATORS[op]} ?", [convert(column, value)]


def convert(column: CatalogColumn, text: str) -> Any:
    """The filter value `text` as a value of the column's type, by the grammar of the module docstring:
    int for integers, Decimal at the column's scale for decimals, float for doubles, date, datetime (naive
    UTC; aware UTC for a column with time zone), bool, or the text itself.

    Raises QueryError, saying what the column takes, for any text that is not a value the column can hold.
    """
    kind = column.kind
    if kind == "integer":
        return _integer(column, text)
    if kind == "number":
        return _number(column, text)
    if kind == "date":
        found = _DATE.fullmatch(text)
        try:
            if found is None:
                raise ValueError
            return date(*map(int, found.groups()))
        except ValueError:
            raise _refused(column, text, "takes a date written YYYY-MM-DD") from None
    if kind == "timestamp":
        return _timestamp(column, text)
    if kind == "boolean":
        if not text.isascii() or text.lower() not in ("true", "false"):
            raise _refused(column, text, "takes true or false")
        return text.lower() == "true"
    if kind == "text":
        if "\x00" in text:
            raise QueryError(f"filter value for {column.name} holds a NUL character")
        return text
    raise QueryError(f"cannot compare {column.name} ({column.data_type}) with a value: filter it with null or notnull")


def json_safe(value: Any) -> Any:
    """A value JSON carries as a number (decimals become floats; NaN and infinities become null)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _integer(column: CatalogColumn, text: str) -> int:
    bits, signed = INTEGER_TYPES[column.base_type]
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if _INTEGER.fullmatch(text) is None:
        raise _refused(column, text, "takes an integer: ASCII digits 0-9 with an optional sign")
    digits = text.lstrip("+-").lstrip("0") or "0"  # leading zeros count for nothing (nor for int()'s digit limit)
    sign = "-" if text.startswith("-") else ""
    value = int(sign + digits) if len(digits) <= 40 else None  # longer than any type's range
    if value is None or not low <= value <= high:
        raise _refused(column, text, f"holds integers from {low} to {high}")
    return value


def _number(column: CatalogColumn, text: str) -> Decimal | float:
    form = "takes a number: ASCII digits 0-9 with an optional sign, decimal point and exponent (1.5, -2, 3e4)"
    if _NUMBER.fullmatch(text) is None:
        raise _refused(column, text, form)
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal holds
        raise _refused(column, text, "holds no number of that magnitude") from None
    if column.base_type in FLOAT_TYPES:
        value = float(number)
        if not math.isfinite(value):
            raise _refused(column, text, f"holds magnitudes up to {MAX_DOUBLE}")
        return value
    sign, digits, exponent = _significant(number)
    before, after = max(0, len(digits) + exponent), max(0, -exponent)
    declared = column.decimal_digits()
    if declared is None:
        max_before, max_after = POSTGRES_NUMERIC_DIGITS
        if before > max_before or after > max_after:
            raise _refused(column, text, f"holds at most {max_before} digits before the point and {max_after} after")
        return number
    precision, scale = declared
    if after > scale or before > precision - scale:
        raise _refused(column, text, f"holds at most {precision - scale} digits before the point and {scale} after")
    if not digits:
        return Decimal((0, (0,), -scale))
    return Decimal((sign, digits + (0,) * (exponent + scale), -scale))


def _significant(number: Decimal) -> tuple[int, tuple[int, ...], int]:
    """(sign, digits, exponent) of a finite decimal without leading or trailing zeros (no digits for zero)."""
    sign, digits, exponent = number.as_tuple()
    text = "".join(map(str, digits)).lstrip("0")
    if not text:
        return 0, (), 0
    stripped = text.rstrip("0")
    return sign, tuple(int(d) for d in stripped), int(exponent) + len(text) - len(stripped)


def _timestamp(column: CatalogColumn, text: str) -> datetime:
    found = _TIMESTAMP.fullmatch(text)
    form = (
        "takes a timestamp: YYYY-MM-DD, optionally with THH:MM[:SS[.ffffff]] and an offset Z or +HH:MM / -HH:MM"
        " (UTC without one; a + in a URL is written %2B)"
    )
    if found is None:
        raise _refused(column, text, form)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_hours, off_minutes = found.groups()
    try:
        offset = timedelta(0)
        if sign is not None:
            if int(off_hours) > 23 or int(off_minutes) > 59:
                raise ValueError
            offset = timedelta(hours=int(off_hours), minutes=int(off_minutes)) * (1 if sign == "+" else -1)
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=timezone(offset),
        )
        utc = local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _refused(column, text, form) from None
    return utc if column.base_type in TIMESTAMPTZ_TYPES else utc.replace(tzinfo=None)


def _refused(column: CatalogColumn, text: str, what: str) -> QueryError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return QueryError(f"{shown!r} is not a value for {column.name} ({column.data_type}), which {what}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def text_value(value: Any) -> str:
    """A report value as text: the one rule of GET /reports/{name}.csv and of the dashboard's tables, so the
    two read the same. '' for NULL, else str() of the value as the warehouse returned it: a decimal keeps its
    scale (`2109.60`, `0.0030`: the warehouse's Decimal, not the API's JSON float), an integer has no
    separators (`15266`), a date is `2025-03-01`, a timestamp `2025-03-01 14:05:09` (and its offset, `+00:00`,
    if it has one), a double its shortest repr (`0.1`), a boolean `True`/`False`."""
    return "" if value is None else str(value)
