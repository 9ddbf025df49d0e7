"""The nine reports: list, one page at a time (sort, filter), or the whole report as a CSV download."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from api.artifacts import Artifact
from api.db import WarehouseReader, stream_rows
from api.deps import Artifacts, Cache, Conn, Paging, get_reader
from api.read_cache import ReadCache
from api.report_query import CatalogColumn, QueryError, ReportQuery, build_query, json_safe, report_columns
from api.schemas import ErrorBody, Page, ReportColumn, ReportInfo
from ingestion.warehouse import Connection
from orchestration.reports import REPORTS

router = APIRouter(prefix="/reports", tags=["reports"])

SortParam = Annotated[
    str | None,
    Query(max_length=500, description="columns to sort on, comma-separated; `-` first for descending: `-revenue_usd`"),
]
FILTER_HELP = (
    "`column:op:value`, repeatable, all must hold; op is eq, ne, lt, lte, gt, gte, contains (text),"
    " or `column:null` / `column:notnull`"
)
NOT_FOUND = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.get("", response_model=Page[ReportInfo])
def list_reports(artifacts: Artifacts, conn: Conn, paging: Paging) -> Page[ReportInfo]:
    """The nine reports with their columns (from the warehouse catalog), descriptions and row counts."""
    nodes = artifacts.optional(Artifact.manifest).get("nodes", {})
    items = []
    for name in paging.slice(list(REPORTS)):
        node = nodes.get(f"model.retail_elt.{name}", {})
        documented = node.get("columns", {})
        found = report_columns(conn, name)
        items.append(
            ReportInfo(
                name=name,
                description=node.get("description") or "",
                key=list(REPORTS[name]),
                columns=[
                    ReportColumn(
                        name=c.name,
                        data_type=c.data_type,
                        description=documented.get(c.name, {}).get("description", ""),
                    )
                    for c in found
                ],
                rows=conn.scalar(f"select count(*) from reports.{name}") if found else 0,
                url=f"/reports/{name}",
                csv_url=f"/reports/{name}.csv",
            )
        )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=len(REPORTS))


@router.get(
    "/{name}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def report_csv(
    name: str,
    reader: Annotated[WarehouseReader, Depends(get_reader)],
    cache: Cache,
    sort: SortParam = None,
    filters: Annotated[list[str], Query(alias="filter", max_length=10, description=FILTER_HELP)] = [],  # noqa: B006 - FastAPI copies it
) -> StreamingResponse:
    """The whole report (or the rows matching `filter`, in `sort` order) as CSV with a header, streamed."""
    with reader.connection() as conn:
        columns, query = _checked_query(conn, cache, name, sort, filters)

    def body() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        with reader.connection() as conn:
            for batch in stream_rows(conn, query.all_sql(name), query.params):
                writer.writerows([[_csv_value(v) for v in row] for row in batch])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/{name}", response_model=Page[dict[str, Any]], responses=NOT_FOUND)
def read_report(
    name: str,
    conn: Conn,
    cache: Cache,
    paging: Paging,
    sort: SortParam = None,
    filters: Annotated[list[str], Query(alias="filter", max_length=10, description=FILTER_HELP)] = [],  # noqa: B006 - FastAPI copies it
) -> Page[dict[str, Any]]:
    """One page of a report: `sort` and `filter` on its columns only; `total` counts every matching row."""
    _, query = _checked_query(conn, cache, name, sort, filters)

    def read() -> Page[dict[str, Any]]:
        total = conn.scalar(query.count_sql(name), query.params)
        columns, rows = conn.fetch(query.page_sql(name), (*query.params, paging.page_size, paging.offset))
        items = [{column: json_safe(value) for column, value in zip(columns, row, strict=True)} for row in rows]
        return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)

    key = ("page", name, query.where, query.params, query.order_by, paging.page, paging.page_size)
    return cache.get_or_compute(conn.snapshot, key, read)


def _checked_query(
    conn: Connection, cache: ReadCache, name: str, sort: str | None, filters: list[str]
) -> tuple[list[CatalogColumn], ReportQuery]:
    if name not in REPORTS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no report {name}: reports are {', '.join(REPORTS)}")
    columns = cache.get_or_compute(conn.snapshot, ("columns", name), lambda: report_columns(conn, name))
    if not columns:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"report {name} has not been built yet: run `elt run`")
    try:
        return columns, build_query(name, columns, sort, filters)
    except QueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None


def _csv_value(value: Any) -> Any:
    return "" if value is None else value
