"""The dashboard's public routes: `GET /` (to the dashboard) and its stylesheet and script files.

The files are served by name from api/ui/static/ with Starlette's StaticFiles (api.static_site.StaticSite:
only the listed names, never a path built from client text). They hold no data, so they need no login:
the login form uses the stylesheet too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from api.static_site import StaticSite

STATIC = Path(__file__).resolve().parent / "static"
FILES = ("ui.css", "watch.js", "favicon.svg")
DASHBOARD = "/ui/"

site = StaticSite(
    STATIC,
    names=FILES,
    unknown="the dashboard has no file {file!r}",
    absent="the dashboard's file {file!r} is missing from the installation",
)
router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    """The dashboard is the server's front page."""
    return RedirectResponse(DASHBOARD, status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/ui/static/{file}")
async def static_file(file: Annotated[str, PathParam(max_length=64)], request: Request) -> Response:
    """ui.css, watch.js or favicon.svg (any other name: 404)."""
    return await site.get_response(file, request.scope)
