"""The rows of the reports (schema `reports`): how many, one page, or all of them in batches.

A report's name is spliced into the SQL, so each function takes it with `known`, the report names of the
served build's manifest (core.dbt_project.reports), and refuses any other name (ValueError); sort and
filter come as a ReportQuery (api.report_query), whose values are bound.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

from api.db import stream_rows
from api.report_query import ReportQuery, json_safe
from core.warehouse import Connection


def row_count(conn: Connection, name: str, known: Collection[str]) -> int:
    """How many rows report `name` holds (raises the driver's error if it is not built)."""
    return int(conn.scalar(f"select count(*) from reports.{_known(name, known)}"))


def report_page(
    conn: Connection,
    name: str,
    known: Collection[str],
    query: ReportQuery,
    limit: int,
    offset: int,
    value: Callable[[Any], Any] = json_safe,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the rows of report `name` that match `query`, in its order, as dicts (column -> `value` of
    the warehouse's value: JSON-safe by default), and how many rows match."""
    total = conn.scalar(query.count_sql(_known(name, known)), query.params)
    columns, rows = conn.fetch(query.page_sql(name), (*query.params, limit, offset))
    items = [{column: value(cell) for column, cell in zip(columns, row, strict=True)} for row in rows]
    return items, int(total)


def report_rows(conn: Connection, name: str, known: Collection[str], query: ReportQuery) -> Iterator[list[tuple]]:
    """Every row of report `name` that matches `query`, in its order, in batches (see api.db.stream_rows)."""
    return stream_rows(conn, query.all_sql(_known(name, known)), query.params)


def _known(name: str, known: Collection[str]) -> str:
    if name not in known:
        raise ValueError(f"no report {name!r}")
    return name
