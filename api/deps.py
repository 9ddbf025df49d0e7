"""Dependencies of the routes: settings, the API key, a read-only warehouse connection, artifacts,
pagination. Everything long-lived hangs off `app.state`, made once by `api.main.create_app`."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

import anyio
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader

from api.artifacts import ArtifactStore
from api.config import ApiConfig
from api.db import WarehouseReader
from api.launcher import RunLauncher
from api.read_cache import ReadCache
from api.static_site import StaticSite
from core.warehouse import Connection

MAX_PAGE = 1_000_000  # keeps (page - 1) * page_size far inside a 64-bit offset

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's ELT_API_KEY")


def get_settings(request: Request) -> ApiConfig:
    """The app's settings."""
    return request.app.state.settings


def key_matches(request: Request, provided: str) -> bool:
    """True if `provided` equals ELT_API_KEY (compared in constant time)."""
    expected = get_settings(request).api_key.encode()
    return hmac.compare_digest(provided.encode("utf-8", "surrogateescape"), expected)


def authenticated(request: Request, provided: str | None) -> bool:
    """True if the X-API-Key header (`provided`) is the key or, without the header, the request carries a
    valid login session (api.routes.session). A wrong key is refused even with a session."""
    if provided is not None:
        return key_matches(request, provided)
    return request.app.state.sessions.in_request(request)


def require_api_key(request: Request, provided: Annotated[str | None, Depends(api_key_header)] = None) -> None:
    """401 unless the request has the key or a login session (see `authenticated`)."""
    if not authenticated(request, provided):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )


def require_login(request: Request, provided: Annotated[str | None, Depends(api_key_header)] = None) -> None:
    """`require_api_key` for the pages a browser opens (the docs sites): a browser's request for a page
    (Accept: text/html) without key or session is sent to `/login?next=<this URL>` (303) instead of a 401."""
    if authenticated(request, provided):
        return
    if provided is None and "text/html" in request.headers.get("accept", ""):
        here = (request.scope.get("raw_path") or quote(request.url.path).encode()).decode("latin-1")
        if request.url.query:
            here += "?" + request.url.query
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            detail="log in at /login",
            headers={"Location": "/login?next=" + quote(here, safe="")},
        )
    require_api_key(request, provided)


def get_reader(request: Request) -> WarehouseReader:
    """The app's warehouse reader."""
    return request.app.state.reader


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """A read-only warehouse connection for this request.

    At most `pool_size` requests hold one; the others wait here, in the event loop. Opening and closing
    run in worker threads (they block), and the handler runs in another: had the wait been in a worker
    thread too, enough waiting requests would leave no thread for the handlers holding connections.
    """
    reader: WarehouseReader = request.app.state.reader
    async with _limiter(request, reader.pool_size):
        opened = reader.connection()
        conn = await anyio.to_thread.run_sync(opened.__enter__)
        try:
            yield conn
        except BaseException as exc:
            await anyio.to_thread.run_sync(opened.__exit__, type(exc), exc, exc.__traceback__)
            raise
        await anyio.to_thread.run_sync(opened.__exit__, None, None, None)


def _limiter(request: Request, size: int) -> anyio.CapacityLimiter:
    """The app's limit on requests holding a connection, made in the running event loop on first use."""
    state = request.app.state
    if getattr(state, "connection_limiter", None) is None:
        state.connection_limiter = anyio.CapacityLimiter(size)
    return state.connection_limiter


def get_artifacts(request: Request) -> ArtifactStore:
    """The dbt artifacts of the served target."""
    return request.app.state.artifacts


def get_dbt_docs(request: Request) -> StaticSite:
    """The dbt docs site of the served target."""
    return request.app.state.dbt_docs


def get_gx_docs(request: Request) -> StaticSite:
    """The Great Expectations Data Docs site of the served target."""
    return request.app.state.gx_docs


def get_read_cache(request: Request) -> ReadCache:
    """Answers reused while the warehouse cannot change (see api.read_cache)."""
    return request.app.state.read_cache


def get_launcher(request: Request) -> RunLauncher:
    """Starts and tracks builds."""
    return request.app.state.launcher


@dataclass(frozen=True)
class Pagination:
    """`page` (from 1) and `page_size` (1-500, default 50)."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.page_size

    def slice(self, items: list) -> list:
        """This page of an in-memory list."""
        return items[self.offset : self.offset + self.page_size]


def pagination(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=500, description="items per page (1-500)")] = 50,
) -> Pagination:
    """The page the client asks for."""
    return Pagination(page, page_size)


# A route's connection is let go when the handler returns (FastAPI's "function" scope), before the response is
# sent: every answer is complete by then, so a client that reads slowly, stops reading or pipelines requests
# without reading holds no connection and no DuckDB reader slot.
Conn = Annotated[Connection, Depends(get_connection, scope="function")]
Artifacts = Annotated[ArtifactStore, Depends(get_artifacts)]
Paging = Annotated[Pagination, Depends(pagination)]
Cache = Annotated[ReadCache, Depends(get_read_cache)]
