"""A run's page, GET /ui/runs/{run_id}, and starting a build, GET and POST /ui/runs/new.

The run page shows the seconds per step, every dbt node the run executed with its status and time (a
timeline packed into the lanes dbt's threads ran, and a table), what failed, and the last lines of the run's
log (the whole text at GET /runs/{id}/log). While the run is `running` the page shows its status only and
watch.js polls GET /runs/{id} (the session cookie authenticates it) until the status changes, then reloads:
on DuckDB the build holds the warehouse file, so nothing else could be read meanwhile anyway.

A build is started through the route of POST /runs (the same launcher, the same rules: one at a time, 409
while any load or build runs, selectors checked), from a form that carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.db import WarehouseReader
from api.deps import get_launcher, get_reader
from api.launcher import RunLauncher
from api.queries import runs as run_queries
from api.routes import runs
from api.routes.session import CSRF_FIELD, csrf_valid, read_form
from api.schemas import NodeRunResult, RunDetail, RunRequest
from api.ui import charts
from api.ui.formatting import seconds
from api.ui.routing import PageRoute, error_page
from api.ui.templating import render

router = APIRouter(route_class=PageRoute)

Reader = Annotated[WarehouseReader, Depends(get_reader)]
Launcher = Annotated[RunLauncher, Depends(get_launcher)]
RunId = Annotated[str, PathParam(max_length=100)]

NODE_LIMIT = 10_000  # nodes read for one run (a build of this project executes about 300)
LOG_TAIL = 200  # log lines shown on the page
FAILED = ("error", "fail")  # node statuses that count as failures (a `warn` is shown, but is no failure)


@router.get("/ui/runs/new", response_class=HTMLResponse)
def new_build(request: Request) -> HTMLResponse:
    """The form that starts a build."""
    return render(request, "trigger.html", message=None, select="", full_refresh=False)


@router.post("/ui/runs/new", response_class=HTMLResponse)
async def start_build(request: Request, launcher: Launcher, airflow: runs.Airflow) -> Response:
    """Start `elt build` as POST /runs does; 303 to the run's page. The form again with the reason on a 409
    (a build is running) or a 422 (a selector); 403 without this session's CSRF token."""
    fields = await read_form(request, max_fields=8)
    if fields is None:
        return error_page(request, status.HTTP_413_CONTENT_TOO_LARGE, "the form is too large")
    if not csrf_valid(request, fields.get(CSRF_FIELD)):
        message = "this form did not come from your session of the dashboard: open it again and resubmit"
        return error_page(request, status.HTTP_403_FORBIDDEN, message)
    select_text = fields.get("select", "")
    full_refresh = fields.get("full_refresh") == "on"
    form = {"select": select_text, "full_refresh": full_refresh}
    try:
        body = RunRequest(select=select_text.split() or None, full_refresh=full_refresh)
        accepted = await anyio.to_thread.run_sync(runs.start_run, Response(), launcher, airflow, request, body)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        return render(request, "trigger.html", status.HTTP_422_UNPROCESSABLE_CONTENT, message=problem, **form)
    except HTTPException as exc:  # 409 (a build is running), 422 (a selector)
        return render(request, "trigger.html", exc.status_code, message=str(exc.detail), **form)
    return RedirectResponse(f"/ui/runs/{accepted.run_id}", status.HTTP_303_SEE_OTHER)


@router.get("/ui/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: RunId, request: Request, reader: Reader, launcher: Launcher, airflow: runs.Airflow
) -> HTMLResponse:
    """The run's page (404 for a run neither audit.runs, this server's launcher nor Airflow knows)."""
    detail = runs.get_run(run_id, reader, launcher, airflow)
    nodes: list[NodeRunResult] = []
    log: list[str] | None = None
    if detail.status != "running":
        with reader.connection() as conn:
            nodes, _ = run_queries.node_results_page(
                conn, run_id, status=None, resource_type=None, limit=NODE_LIMIT, offset=0
            )
            log = run_queries.run_log(conn, run_id, LOG_TAIL)
    return render(
        request,
        "run.html",
        run=detail,
        nodes=nodes,
        failures=[n for n in nodes if n.status in FAILED],
        warnings=[n for n in nodes if n.status == "warn"],
        counts=_counts(nodes),
        steps=_steps_chart(detail),
        timeline=_timeline(nodes),
        log=log,
        log_tail=LOG_TAIL,
    )


def _counts(nodes: list[NodeRunResult]) -> list[tuple[str, str, int]]:
    """(resource type, status, nodes) of the run, by type and status."""
    found: dict[tuple[str, str], int] = {}
    for node in nodes:
        found[(node.resource_type, node.status)] = found.get((node.resource_type, node.status), 0) + 1
    return [(kind, state, n) for (kind, state), n in sorted(found.items())]


def _steps_chart(run: RunDetail) -> charts.BarChart | None:
    if not run.seconds_per_step:
        return None
    rows = [(step, step, float(s)) for step, s in run.seconds_per_step.items()]
    return charts.bar_chart(
        "chart-steps", "Seconds per step", rows, css="bar step", value_format=seconds, tick_format=lambda v: f"{v:g} s"
    )


def _timeline(nodes: list[NodeRunResult]) -> charts.Timeline | None:
    """The nodes that ran (a skipped node has no times) from the first start."""
    timed = [n for n in nodes if n.started_at is not None and n.completed_at is not None]
    if not timed:
        return None
    origin = min(n.started_at for n in timed)
    intervals = [
        charts.Interval(
            key=n.unique_id,
            label=n.name,
            start=(n.started_at - origin).total_seconds(),
            seconds=(n.completed_at - n.started_at).total_seconds(),
            status=n.status,
        )
        for n in timed
    ]
    return charts.timeline("chart-nodes", "dbt nodes over time", intervals)
