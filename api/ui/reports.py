"""GET /ui/reports (every report of the served build) and GET /ui/reports/{name} (one report as a table that
pages, sorts and filters, a CSV download of what the table selects, and a chart where one says more).

The table is read as GET /reports/{name} reads a page (api.routes.reports): the same manifest lookup of the
name, the same whitelist of columns, operators and value grammars (api.report_query), the same query and cache.
Only the values differ: the API sends a decimal as a JSON float (2109.6 for 2109.60), the table keeps the
warehouse's own value and writes each cell as the CSV download writes it (api.report_query.text_value), so the two
show the same text. The page's URL carries the same `sort`, `filter`, `page` and `page_size` parameters, and the
download link is GET /reports/{name}.csv with the same `sort` and `filter` (the session cookie authenticates
it). The filter form's three fields (`fcol`, `fop`, `fval`) are turned into one more `filter` and the page
redirects to that URL. A page past the end holds no rows (200, as in the API) and links to the last page.

Charts read the whole report (not the filtered rows), by fixed statements (api.queries.dashboard), and are cached
with the report's pages (api.read_cache): daily revenue with its 7-day average, customers per segment, the
top products, revenue per m² by store, and the anomalous days on the revenue trend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.artifacts import Artifact
from api.deps import Artifacts, Cache, Conn, Pagination, Paging
from api.queries import dashboard as queries
from api.queries.reports import report_page as read_report_page
from api.queries.reports import row_count
from api.read_cache import reports_state
from api.report_query import OPERATORS, CatalogColumn, report_columns, text_value
from api.routes import reports
from api.schemas import Page, ReportColumn, ReportInfo
from api.ui import charts
from api.ui.formatting import number
from api.ui.pager import Pager, pager
from api.ui.routing import PageRoute
from api.ui.templating import render, with_query
from core.warehouse import Connection

router = APIRouter(route_class=PageRoute)

PAGE_SIZES = (25, 50, 100, 500)
NUMERIC_KINDS = ("integer", "number")
UNARY = ("null", "notnull")  # operators that take no value
FilterText = Annotated[str | None, Query(max_length=500)]


@router.get("/ui/reports", response_class=HTMLResponse)
def report_list(
    request: Request, artifacts: Artifacts, known: reports.Reports, conn: Conn, cache: Cache
) -> HTMLResponse:
    """Every report with its description, key and rows, as GET /reports lists them."""
    listed = reports.list_reports(artifacts, known, conn, cache, Pagination(1, 500)).items if known else []
    return render(request, "reports.html", reports=listed)


@router.get("/ui/reports/{name}", response_class=HTMLResponse)
def report_page(
    name: Annotated[str, PathParam(max_length=200)],
    request: Request,
    artifacts: Artifacts,
    known: reports.Reports,
    conn: Conn,
    cache: Cache,
    paging: Paging,
    shape: reports.Shape,
    fcol: FilterText = None,
    fop: FilterText = None,
    fval: FilterText = None,
) -> Response:
    """One page of the report `name` as GET /reports/{name} answers it (404 for no such report); a sort or
    filter it refuses (422) is shown above the table with the filters to remove."""
    if fcol and fop:  # the filter form: one more `filter`, then the canonical URL
        added = f"{fcol}:{fop}" if fop in UNARY else f"{fcol}:{fop}:{fval or ''}"
        target = _url(name, shape.sort, [*shape.filters, added], 1, paging.page_size)
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    problem, page = None, None
    try:
        page = _read_page(name, known, conn, cache, paging, shape)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise
        problem = str(exc.detail)
    info = _report_info(artifacts, known, conn, cache, name, page if not shape.filters else None)
    return render(
        request,
        "report.html",
        status.HTTP_200_OK if problem is None else status.HTTP_422_UNPROCESSABLE_CONTENT,
        report=info,
        page=page,
        problem=problem,
        numeric={c.name for c in info.columns if CatalogColumn(c.name, c.data_type).kind in NUMERIC_KINDS},
        cells=[[text_value(row[c.name]) for c in info.columns] for row in page.items] if page else [],
        sort_links=_sort_links(info, name, shape, paging),
        filters=[
            (text, _url(name, shape.sort, [f for i, f in enumerate(shape.filters) if i != n], 1, paging.page_size))
            for n, text in enumerate(shape.filters)
        ],
        pager=_pager(name, shape, paging, page.total if page else 0),
        page_sizes=[(size, _url(name, shape.sort, shape.filters, 1, size)) for size in PAGE_SIZES],
        operators=list(OPERATORS),
        csv_url=with_query(f"/reports/{name}.csv", [("sort", shape.sort), *(("filter", f) for f in shape.filters)]),
        clear_url=_url(name, None, [], 1, paging.page_size),
        charts=_charts(conn, cache, known, name),
        sort=shape.sort or "",
        page_size=paging.page_size,
    )


def _read_page(
    name: str, known: reports.ReportKeys, conn: Connection, cache: Cache, paging: Pagination, shape: reports.RowShape
) -> Page[dict[str, Any]]:
    """One page of report `name` as GET /reports/{name} reads it (the manifest lookup, the checks of `sort` and
    `filter`, the query: 404 or 422 as HTTPException), cached like it, but holding the warehouse's own values
    (column -> Decimal at its scale, int, date, datetime, str, None) rather than JSON-safe ones; `total` counts
    every matching row."""
    state = reports_state(conn, known)
    _, query = reports.checked_query(conn, cache, known, name, shape, state)

    def read() -> Page[dict[str, Any]]:
        as_read = lambda cell: cell  # noqa: E731 - the warehouse's own value, not a JSON-safe one
        items, total = read_report_page(conn, name, known, query, paging.page_size, paging.offset, as_read)
        return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)

    key = ("ui-page", name, query.where, query.params, query.order_by, paging.page, paging.page_size)
    return cache.get_or_compute(state.rows_key(name), key, read, weight=lambda page: len(page.items))


def _report_info(
    artifacts: Artifacts, known: reports.ReportKeys, conn: Connection, cache: Cache, name: str, unfiltered: Page | None
) -> ReportInfo:
    """The report as GET /reports lists it: description and column descriptions from the manifest, columns from
    the catalog (the routes' cached list), and its rows in all: the total of an `unfiltered` page when there is
    one (the report's count, already made), else counted (cached as GET /reports caches it). The two reports
    that are views cost a read each time on Postgres, hence no second count."""
    node = artifacts.optional(Artifact.manifest).get("nodes", {}).get(f"model.retail_elt.{name}", {})
    documented = node.get("columns", {})
    state = reports_state(conn, known)
    found = cache.get_or_compute(state.key, ("columns", name), lambda: report_columns(conn, name))
    if unfiltered is not None:
        rows = unfiltered.total
    else:
        rows = cache.get_or_compute(state.rows_key(name), ("rows", name), lambda: row_count(conn, name, known))
    return ReportInfo(
        name=name,
        description=node.get("description") or "",
        key=list(known[name]),
        columns=[
            ReportColumn(
                name=c.name, data_type=c.data_type, description=documented.get(c.name, {}).get("description", "")
            )
            for c in found
        ],
        rows=rows,
        url=f"/reports/{name}",
        csv_url=f"/reports/{name}.csv",
    )


def _url(name: str, sort: str | None, filters: list[str], page: int, page_size: int) -> str:
    """The dashboard URL of a report page."""
    params = [("sort", sort), *(("filter", f) for f in filters), ("page", page), ("page_size", page_size)]
    return with_query(f"/ui/reports/{quote(name, safe='')}", params)


def _sort_links(info: ReportInfo, name: str, shape: reports.RowShape, paging: Pagination) -> dict[str, tuple[str, str]]:
    """Column -> (URL sorting by it, `asc`/`desc` if the table is sorted by it first, else ''). A click on the
    column the table is sorted by reverses the order."""
    first = (shape.sort or "").split(",")[0].strip()
    links = {}
    for column in info.columns:
        if first == column.name:
            links[column.name] = (_url(name, f"-{column.name}", shape.filters, 1, paging.page_size), "asc")
        elif first == f"-{column.name}":
            links[column.name] = (_url(name, column.name, shape.filters, 1, paging.page_size), "desc")
        else:
            links[column.name] = (_url(name, column.name, shape.filters, 1, paging.page_size), "")
    return links


def _pager(name: str, shape: reports.RowShape, paging: Pagination, total: int) -> Pager:
    """Where the page stands among the `total` matching rows, and the links to the pages around it."""
    return pager(
        paging.page, paging.page_size, total, lambda n: _url(name, shape.sort, shape.filters, n, paging.page_size)
    )


def _charts(conn: Connection, cache: Cache, known: reports.ReportKeys, name: str) -> list[charts.Chart]:
    """The report's charts, computed once per state of the warehouse (cached like the report's pages)."""
    draw = CHARTS.get(name)
    if draw is None:
        return []
    state = reports_state(conn, known)
    return cache.get_or_compute(
        state.rows_key(name), ("ui-charts", name), lambda: draw(conn, known), weight=lambda found: 1 + len(found)
    )


def _daily_revenue(conn: Connection, known: reports.ReportKeys) -> list[charts.Chart]:
    days = queries.daily_revenue(conn)
    xs = [day for day, _, _ in days]
    keys = [day.isoformat() for day in xs]
    revenue = [float(r) if r is not None else None for _, r, _ in days]
    average = [float(a) if a is not None else None for _, _, a in days]
    return [
        charts.xy_chart(
            "chart-daily-revenue",
            "Daily revenue (USD) and its 7-day average",
            xs,
            [
                charts.Series("revenue_usd", "bars", "bar day", revenue),
                charts.Series(
                    "revenue_usd_7d_avg",
                    "line",
                    "line average",
                    average,
                    [
                        f"{k}: 7-day average {number(a)}" if a is not None else k
                        for k, a in zip(keys, average, strict=True)
                    ],
                ),
            ],
            keys,
            charts.date_ticks(xs),
        )
    ]


def _segments(conn: Connection, known: reports.ReportKeys) -> list[charts.Chart]:
    rows = [(segment, segment, float(n)) for segment, n in queries.segment_sizes(conn)]
    return [charts.bar_chart("chart-segments", "Customers per segment", rows, css="bar segment")]


def _top_products(conn: Connection, known: reports.ReportKeys) -> list[charts.Chart]:
    rows = [(str(key), f"{product} ({key})", float(revenue)) for key, product, revenue in queries.top_products(conn)]
    title = f"Top {queries.TOP_PRODUCTS} products by revenue (USD)"
    return [charts.bar_chart("chart-top-products", title, rows, css="bar product")]


def _stores(conn: Connection, known: reports.ReportKeys) -> list[charts.Chart]:
    rows = [(str(key), f"{store} ({key})", float(value)) for key, store, value in queries.revenue_per_m2(conn)]
    return [
        charts.bar_chart(
            "chart-revenue-per-m2",
            "Revenue per m² by store (USD; the online store has no floor area)",
            rows,
            css="bar store",
        )
    ]


def _anomalies(conn: Connection, known: reports.ReportKeys) -> list[charts.Chart]:
    """The daily revenue as a line, the days the report flags as dots on it."""
    flagged = {key: (value, z) for key, value, z in queries.day_anomalies(conn)}
    days = queries.daily_revenue(conn) if "sales_trends_daily" in known else []
    xs = [day for day, _, _ in days]
    keys = [day.isoformat() for day in xs]
    revenue = [float(r) if r is not None else None for _, r, _ in days]
    spots = [flagged[k][0] if k in flagged else None for k in keys]
    tips = [f"{k}: {number(flagged[k][0])} USD, z = {flagged[k][1]:.2f}" if k in flagged else "" for k in keys]
    return [
        charts.xy_chart(
            "chart-anomalies",
            "Anomalous days on the daily revenue (USD)",
            xs,
            [
                charts.Series("revenue_usd", "line", "line trend", revenue),
                charts.Series("anomaly", "dots", "dot anomaly", spots, tips),
            ],
            keys,
            charts.date_ticks(xs),
        )
    ]


# Report name -> its charts.
CHARTS: dict[str, Callable[[Connection, reports.ReportKeys], list[charts.Chart]]] = {
    "sales_trends_daily": _daily_revenue,
    "customer_segmentation": _segments,
    "product_performance": _top_products,
    "store_performance": _stores,
    "anomaly_detection": _anomalies,
}
