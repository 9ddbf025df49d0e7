"""GET /ui/quality: the rejected records (marts.rejected_records), browsable by source and reason, each with
the raw record as it was in the file.

The counts per source and reason link to the filtered list; the list is read through the route of
GET /rejected (api.routes.rejected.list_rejected: the same filters, order and pages). A page past the end
holds no records (200, as in the API) and links to the last page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import Conn, Paging
from api.queries import dashboard as queries
from api.routes import rejected
from api.ui.pager import pager
from api.ui.routing import PageRoute
from api.ui.templating import render, with_query

router = APIRouter(route_class=PageRoute)


@router.get("/ui/quality", response_class=HTMLResponse)
def quality(
    request: Request,
    conn: Conn,
    paging: Paging,
    source: Annotated[rejected.Source | None, Query()] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Rejected records per source and reason, and one page of them (filter `source`, `reason`)."""
    page = rejected.list_rejected(conn, paging, source, reason or None)
    counts = queries.rejected_counts(conn)

    def url(page_number: int | None = None, **chosen: str | None) -> str:
        picked = {"source": source, "reason": reason, **chosen}
        params = [("source", picked["source"]), ("reason", picked["reason"]), ("page", page_number)]
        return with_query("/ui/quality", [*params, ("page_size", paging.page_size)])

    return render(
        request,
        "quality.html",
        counts=[(s, r, n, url(source=s, reason=r)) for s, r, n in counts],
        by_source=_by_source(counts, url),
        total_rejected=sum(n for _, _, n in counts),
        records=[(record, _fields(record.raw_record)) for record in page.items],
        page=page,
        pager=pager(paging.page, paging.page_size, page.total, url),
        source=source,
        reason=reason,
        sources=list(get_args(rejected.Source)),
        reasons=sorted({r for _, r, _ in counts}),
        clear_url=url(source=None, reason=None),
    )


def _by_source(counts: list[tuple[str, str, int]], url: Callable[..., str]) -> list[tuple[str, int, str]]:
    """(source, rejected records, URL of its list) per source."""
    totals: dict[str, int] = {}
    for source, _, n in counts:
        totals[source] = totals.get(source, 0) + n
    return [(source, n, url(source=source, reason=None)) for source, n in totals.items()]


def _fields(raw_record: str) -> list[tuple[str, str]] | None:
    """The raw record's fields (it is stored as a JSON object of the file's columns), or None if it is not one."""
    try:
        parsed = json.loads(raw_record)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    return [(str(k), "" if v is None else str(v)) for k, v in parsed.items()]
