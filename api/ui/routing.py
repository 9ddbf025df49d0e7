"""`PageRoute`: the route class of the dashboard's pages, which answers a failure with an HTML page.

The REST routes answer errors as JSON (api.main's handlers); a person looking at the dashboard gets the
same status code and message on a page with the navigation, so they can go on: 404 (no such run or report),
422 (a sort or filter the report cannot take), 409 (a build already running), 503 (the warehouse is being
written, unreachable or not built yet; with Retry-After when busy). A redirect to the login form (303) and a
401 for a wrong key pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import duckdb
import psycopg2.errors
from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api.artifacts import ArtifactMissing
from api.ui.templating import render
from core.errors import WarehouseBusy, WarehouseError, first_line

# A warehouse not built yet (no audit or report tables), or a query over the statement timeout.
NOT_BUILT = (duckdb.CatalogException, psycopg2.errors.UndefinedTable, psycopg2.errors.QueryCanceled)


class PageRoute(APIRoute):
    """An APIRoute whose errors are HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """The route's handler, wrapped: an error it raises becomes `error_page`."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code < 400 or exc.status_code == status.HTTP_401_UNAUTHORIZED:
                    raise
                return error_page(request, exc.status_code, _text(exc.detail), exc.headers)
            except RequestValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
                return error_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
            except WarehouseBusy as exc:
                return error_page(request, status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "5"})
            except (WarehouseError, ArtifactMissing) as exc:
                return error_page(request, status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
            except NOT_BUILT as exc:
                detail = f"the warehouse cannot answer yet (run `elt run`): {first_line(exc)}"
                return error_page(request, status.HTTP_503_SERVICE_UNAVAILABLE, detail)

        return page_handler


def error_page(request: Request, status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error page: the status and the message, with the navigation."""
    return render(request, "error.html", status_code, headers, code=status_code, message=message)


def _text(detail: Any) -> str:
    return detail if isinstance(detail, str) else str(detail)
