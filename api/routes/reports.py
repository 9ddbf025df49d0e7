"""The reports: list, one page at a time (sort, filter), or the whole report as a CSV download.

Which reports there are, and each one's key (the order of its rows), is read from the served build's
manifest (core.dbt_project.reports: the models in dbt_project/models/reports/). A report name from the
client is looked up there before it goes anywhere near SQL: 404 for any other. Before any build (no
manifest) there is no report: the list is empty and every report is a 404.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from api.artifacts import Artifact
from api.deps import Artifacts, Cache, Conn, Paging
from api.queries.reports import report_page, report_rows, row_count
from api.read_cache import ReadCache, ReportsState, reports_state
from api.report_query import CatalogColumn, QueryError, ReportQuery, build_query, report_columns, text_value
from api.schemas import ErrorBody, Page, ReportColumn, ReportInfo
from core.dbt_project import reports
from core.warehouse import Connection

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
ReportKeys = dict[str, tuple[str, ...]]  # report name -> its key columns


@dataclass(frozen=True)
class RowShape:
    """Which rows of a report a request asks for, and in which order (the client's text, unchecked)."""

    sort: str | None
    filters: list[str]


def row_shape(
    sort: SortParam = None,
    filters: Annotated[list[str], Query(alias="filter", max_length=10, description=FILTER_HELP)] = [],  # noqa: B006 - FastAPI copies it
) -> RowShape:
    """The `sort` and `filter` query parameters of a report route."""
    return RowShape(sort, filters)


Shape = Annotated[RowShape, Depends(row_shape)]


def manifest_reports(artifacts: Artifacts) -> ReportKeys:
    """The served build's reports and their keys, from its manifest ({} before any build). A report without
    a key raises WarehouseError (answered 503)."""
    return reports(artifacts.optional(Artifact.manifest))


Reports = Annotated[ReportKeys, Depends(manifest_reports)]


@router.get("", response_model=Page[ReportInfo])
def list_reports(artifacts: Artifacts, known: Reports, conn: Conn, cache: Cache, paging: Paging) -> Page[ReportInfo]:
    """The reports (by name) with their keys, columns (from the warehouse catalog), descriptions and row counts."""
    nodes = artifacts.optional(Artifact.manifest).get("nodes", {})
    state = reports_state(conn, known)
    items = []
    for name in paging.slice(list(known)):
        node = nodes.get(f"model.retail_elt.{name}", {})
        documented = node.get("columns", {})
        found = cache.get_or_compute(state.key, ("columns", name), lambda name=name: report_columns(conn, name))
        rows = 0
        if found:
            rows = cache.get_or_compute(
                state.rows_key(name), ("rows", name), lambda name=name: row_count(conn, name, known)
            )
        items.append(
            ReportInfo(
                name=name,
                description=node.get("description") or "",
                key=list(known[name]),
                columns=[
                    ReportColumn(
                        name=c.name,
                        data_type=c.data_type,
                        description=documented.get(c.name, {}).get("description", ""),
                    )
                    for c in found
                ],
                rows=rows,
                url=f"/reports/{name}",
                csv_url=f"/reports/{name}.csv",
            )
        )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=len(known))


CSV_IN_MEMORY_BYTES = 1 << 20  # a CSV up to this size is kept in memory while sent, a larger one in a temporary file
CSV_CHUNK_BYTES = 64 * 1024  # bytes handed to the server per write


@router.get(
    "/{name}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def report_csv(
    name: str,
    known: Reports,
    conn: Conn,
    cache: Cache,
    shape: Shape,
) -> StreamingResponse:
    """The whole report (or the rows matching `filter`, in `sort` order) as CSV with a header.

    The CSV is written out in full before the response starts, holding one connection from the limited
    path (api.deps.get_connection): a failure is an error status, never a 200 whose body stops short, and
    the response carries its Content-Length. The connection is let go before the first byte is sent, so a
    client that reads slowly, stalls or disconnects holds a temporary file, no DuckDB reader slot and no
    Postgres connection (api.deps.Conn lets it go when the handler returns).
    """
    columns, query = checked_query(conn, cache, known, name, shape)
    spool, size = _spooled_csv([c.name for c in columns], report_rows(conn, name, known, query))
    headers = {
        "Content-Disposition": f'attachment; filename="{name}.csv"',
        "Content-Length": str(size),
        "Cache-Control": "no-store",  # customer data: no cache keeps a copy
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(
        _chunks(spool),
        media_type="text/csv; charset=utf-8",
        headers=headers,
        background=BackgroundTask(spool.close),  # also run when the client hangs up mid-response
    )


def _spooled_csv(header: list[str], batches: Iterable[list[tuple]]) -> tuple[tempfile.SpooledTemporaryFile[bytes], int]:
    """The CSV (UTF-8, `\\n` line ends, NULL as an empty field) of `header` and the rows of `batches`, in a
    spooled temporary file positioned at its start, and its size in bytes. Raises what reading the rows raises."""
    spool = tempfile.SpooledTemporaryFile(max_size=CSV_IN_MEMORY_BYTES)  # noqa: SIM115 - the response closes it
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for batch in batches:
            writer.writerows([[text_value(v) for v in row] for row in batch])
            spool.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
        spool.write(buffer.getvalue().encode())
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size


async def _chunks(spool: tempfile.SpooledTemporaryFile[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes from where it stands, CSV_CHUNK_BYTES at a time (read in a worker thread: it may be on disk)."""
    while chunk := await anyio.to_thread.run_sync(spool.read, CSV_CHUNK_BYTES):
        yield chunk


@router.get("/{name}", response_model=Page[dict[str, Any]], responses=NOT_FOUND)
def read_report(
    name: str,
    known: Reports,
    conn: Conn,
    cache: Cache,
    paging: Paging,
    shape: Shape,
) -> Page[dict[str, Any]]:
    """One page of a report: `sort` and `filter` on its columns only; `total` counts every matching row."""
    state = reports_state(conn, known)
    _, query = checked_query(conn, cache, known, name, shape, state)

    def read() -> Page[dict[str, Any]]:
        items, total = report_page(conn, name, known, query, paging.page_size, paging.offset)
        return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)

    key = ("page", name, query.where, query.params, query.order_by, paging.page, paging.page_size)
    return cache.get_or_compute(state.rows_key(name), key, read, weight=lambda page: len(page.items))


def checked_query(
    conn: Connection,
    cache: ReadCache,
    known: ReportKeys,
    name: str,
    shape: RowShape,
    state: ReportsState | None = None,
) -> tuple[list[CatalogColumn], ReportQuery]:
    """The report's columns and the query of the requested sort and filters; 404 for a name that is no report of the
    manifest (checked first: only a known name reaches SQL) or a report not built, 422 for a bad query."""
    if name not in known:
        listed = f"reports are {', '.join(known)}" if known else "nothing has been built yet: run `elt run`"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no report {name}: {listed}")
    state = state or reports_state(conn, known)
    columns = cache.get_or_compute(state.key, ("columns", name), lambda: report_columns(conn, name))
    if not columns:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"report {name} has not been built yet: run `elt run`")
    try:
        return columns, build_query(known[name], columns, shape.sort, shape.filters)
    except QueryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
