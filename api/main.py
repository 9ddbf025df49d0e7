"""The FastAPI app: `create_app(settings)` wires the routers, the shared state and the error handlers.

Run it with `elt serve` (or `uvicorn --factory api.main:create_app`, which reads the settings from the
environment and refuses to start without ELT_API_KEY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import duckdb
import psycopg2.errors
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.artifacts import ArtifactMissing, ArtifactStore
from api.config import ApiConfig
from api.db import WarehouseReader
from api.deps import require_api_key, require_login
from api.launcher import RunLauncher
from api.metrics import ApiMetrics, RequestMetrics
from api.read_cache import ReadCache
from api.routes import (
    api_docs,
    artifacts,
    dbt_docs,
    gx_docs,
    health,
    metrics,
    models,
    rejected,
    reports,
    runs,
    session,
    sources,
    tests,
)
from api.schemas import ErrorBody
from api.server import add_edge_guards
from api.ui import pages as dashboard_pages
from api.ui import public as dashboard_public
from core.errors import WarehouseBusy, WarehouseError, first_line

DESCRIPTION = """
Run results, dbt resources (shaped after dbt's Discovery API: keyed by `unique_id`, definition apart from
what is applied), the reports, the dbt docs site and the Great Expectations Data Docs of the raw data
contract of the retail ELT warehouse.

Every route but `/health`, `/metrics`, `/login`, `/logout` and the OpenAPI docs (`/docs`, `/redoc`, `/openapi.json`)
needs the `X-API-Key` header, or the session cookie a browser gets by logging in at `/login` with the key
(how the dashboard `/ui/`, the dbt docs `/dbt-docs/` and the Data Docs `/gx-docs/` are opened in a browser;
`/` leads to the dashboard, whose stylesheet and script under `/ui/static/` are public). `/health` says only
whether the warehouse answers; `/health/details` (keyed) says more. `/metrics` is for Prometheus: request
counts and latencies per route, and the pipeline's figures from the audit tables (counts and statuses only).
"""


def create_app(settings: ApiConfig | None = None) -> FastAPI:
    """The API for `settings` (default: from the environment; raises ConfigError without ELT_API_KEY)."""
    settings = settings or ApiConfig.from_env()
    reader = WarehouseReader(settings.warehouse, settings.pool_size, settings.statement_timeout_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.connection_limiter = None  # made afresh in this event loop (see api.deps.get_connection)
        yield
        reader.close()

    app = FastAPI(
        title="Retail ELT warehouse API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: api_docs, with local assets instead of a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.reader = reader
    app.state.artifacts = ArtifactStore(settings.dbt_target_path)
    app.state.dbt_docs = dbt_docs.site(settings.dbt_target_path)
    app.state.gx_docs = gx_docs.site(settings.warehouse)
    app.state.launcher = RunLauncher(settings, reader)
    app.state.read_cache = ReadCache()
    app.state.sessions = session.Sessions(settings)
    app.state.metrics = ApiMetrics(reader)

    keyed = [Depends(require_api_key)]
    unavailable = {503: {"model": ErrorBody, "description": "warehouse unreachable, not built yet, or being written"}}
    unauthorized = {401: {"model": ErrorBody, "description": "missing or wrong X-API-Key, and no login session"}}
    app.include_router(health.router)
    app.include_router(metrics.router)  # public, as /health: Prometheus scrapes it (docs/monitoring.md)
    app.include_router(api_docs.router)
    app.include_router(session.router)
    for module in (dbt_docs, gx_docs):  # pages a browser opens: without key or session it is sent to /login
        app.include_router(
            module.router,
            dependencies=[Depends(require_login)],
            responses={**unauthorized, 303: {"description": "a browser without key or session: to /login"}},
        )
    app.include_router(dashboard_public)  # GET / (to /ui/) and the dashboard's stylesheet and script: no data
    app.include_router(dashboard_pages, dependencies=[Depends(require_login)], include_in_schema=False)
    for module in (runs, models, tests, sources, reports, rejected, artifacts):
        app.include_router(
            module.router,
            dependencies=keyed,
            responses={**unauthorized, **unavailable},
        )

    app.add_exception_handler(WarehouseBusy, _busy)
    app.add_exception_handler(WarehouseError, _unavailable)
    app.add_exception_handler(ArtifactMissing, _unavailable)
    # A warehouse never built (no audit or mart tables yet), or a query over the statement timeout.
    for error in (duckdb.CatalogException, psycopg2.errors.UndefinedTable, psycopg2.errors.QueryCanceled):
        app.add_exception_handler(error, _not_built)
    add_edge_guards(app)  # a NUL in the path or query is a 422; no Location names the client's Host
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)  # outermost: counts every answer, refusals too
    return app


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})


async def _not_built(request: Request, exc: Exception) -> JSONResponse:
    detail = f"the warehouse cannot answer yet (run `elt run`): {first_line(exc)}"
    return JSONResponse({"detail": detail}, status_code=503)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)
