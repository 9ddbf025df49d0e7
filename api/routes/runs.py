"""Pipeline runs from audit.runs: the list, one run, its dbt nodes, its log; POST /runs starts a build."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import PlainTextResponse

from api.db import WarehouseReader
from api.deps import Conn, Paging, get_launcher, get_reader
from api.launcher import LaunchedRun, RunInProgress, RunLauncher
from api.queries.runs import node_results_page, run_detail, run_exists, run_log, runs_page
from api.schemas import ErrorBody, NodeRunResult, Page, RunAccepted, RunDetail, RunRequest, RunSummary
from core.errors import WarehouseError

router = APIRouter(prefix="/runs", tags=["runs"])

RunStatus = Literal["running", "success", "failed", "interrupted"]
NodeStatus = Literal["success", "error", "skipped", "pass", "fail", "warn"]
_SELECTOR = re.compile(r"[A-Za-z0-9_.+*@:/][A-Za-z0-9_.+*@:/,-]{0,199}")
MAX_TAIL = 100_000  # lines ?tail= may ask for


@router.get("", response_model=Page[RunSummary])
def list_runs(
    conn: Conn,
    paging: Paging,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
    trigger: Annotated[Literal["cli", "airflow", "api"] | None, Query()] = None,
) -> Page[RunSummary]:
    """Pipeline runs, newest first; filter by `status` and `trigger`."""
    items, total = runs_page(conn, status=run_status, trigger=trigger, limit=paging.page_size, offset=paging.offset)
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)


@router.get("/{run_id}", response_model=RunDetail, responses={404: {"model": ErrorBody}})
def get_run(
    run_id: str,
    reader: Annotated[WarehouseReader, Depends(get_reader)],
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
) -> RunDetail:
    """One run with its seconds per step; a build started here shows as `running` before its row exists."""
    launched = launcher.get(run_id)
    try:
        with reader.connection() as conn:
            detail = run_detail(conn, run_id)
    except WarehouseError:
        if launched is None:
            raise
        detail = None  # our own build is writing (or creating) the warehouse: answer from what the launcher knows
    if detail is not None:
        return detail
    if launched is not None:
        return _launched_detail(launched, reader.warehouse.target)
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {run_id}")


@router.get("/{run_id}/nodes", response_model=Page[NodeRunResult], responses={404: {"model": ErrorBody}})
def run_nodes(
    run_id: str,
    conn: Conn,
    paging: Paging,
    node_status: Annotated[NodeStatus | None, Query(alias="status")] = None,
    resource_type: Annotated[Literal["model", "test", "unit_test", "seed", "snapshot"] | None, Query()] = None,
) -> Page[NodeRunResult]:
    """The dbt nodes a run executed, in execution order; filter by `status` and `resource_type`."""
    if not run_exists(conn, run_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {run_id}")
    items, total = node_results_page(
        conn, run_id, status=node_status, resource_type=resource_type, limit=paging.page_size, offset=paging.offset
    )
    return Page(items=items, page=paging.page, page_size=paging.page_size, total=total)


@router.get(
    "/{run_id}/log",
    response_class=Response,  # no media type of its own: 200 is text/plain as documented, the errors JSON
    responses={
        200: {
            "description": "the run's log, a line each: `<UTC time> [<level>] <message>`",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        404: {"model": ErrorBody},
    },
)
def get_run_log(
    run_id: str,
    reader: Annotated[WarehouseReader, Depends(get_reader)],
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
    tail: Annotated[int | None, Query(ge=1, le=MAX_TAIL, description="only the last N lines")] = None,
) -> PlainTextResponse:
    """The run's log as plain text: dbt's log lines of the run's dbt invocations (info, warnings, errors) and
    the run's own `elt: ...` step lines, oldest first; `tail=N`: the last N. Stored after each step and when
    the run ends, so a running run shows the steps done so far (a build started here: empty until then)."""
    launched = launcher.get(run_id)
    try:
        with reader.connection() as conn:
            lines = run_log(conn, run_id, tail)
    except WarehouseError:
        if launched is None:
            raise
        lines = []  # our own build is writing (or creating) the warehouse: nothing stored to show yet
    if lines is None:
        if launched is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {run_id}")
        lines = []
    private = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}  # a run's data, kept nowhere
    return PlainTextResponse("".join(f"{line}\n" for line in lines), headers=private)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    responses={409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)
def start_run(
    response: Response,
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
    request: RunRequest | None = None,
) -> RunAccepted:
    """Start `dbt build` (all nodes, or `select`) in the background: 202 with the run id; 409 while a run is on."""
    request = request or RunRequest()
    for selector in request.select or []:
        if not _SELECTOR.fullmatch(selector):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"selector {selector!r}: letters, digits and _.+*@:/,- only",
            )
    try:
        run = launcher.start(request.select, request.full_refresh)
    except RunInProgress as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    url = f"/runs/{run.run_id}"
    response.headers["Location"] = url
    return RunAccepted(run_id=run.run_id, status="running", url=url)


def _launched_detail(run: LaunchedRun, target: str) -> RunDetail:
    return RunDetail(
        run_id=run.run_id,
        trigger="api",
        command="build",
        target=target,
        status=run.status,
        started_at=run.started_at,
        finished_at=None,
        seconds=None,
        rows_loaded=None,
        models_built=None,
        models_failed=None,
        tests_passed=None,
        tests_failed=None,
        tests_warned=None,
        error=run.error(),
        load_id=None,
        seconds_per_step={},
    )
