"""Pipeline runs from audit.runs: the list, one run, its dbt nodes, its log; POST /runs starts a build here
or triggers the Airflow DAG (`via: airflow`), whose run is followed through Airflow until its first task
records it in audit.runs."""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import PlainTextResponse

from api.airflow import (
    API_RUN_ID,
    AirflowClient,
    AirflowError,
    AirflowNotConfigured,
    AirflowRefused,
    DagPaused,
    DagRunState,
    missing_settings,
)
from api.db import WarehouseReader
from api.deps import Conn, Paging, get_launcher, get_reader, get_settings
from api.launcher import LaunchedRun, RunInProgress, RunLauncher
from api.queries.runs import node_results_page, run_detail, run_exists, run_log, runs_page
from api.schemas import ErrorBody, NodeRunResult, Page, RunAccepted, RunDetail, RunRequest, RunSummary
from core.audit import new_id
from core.errors import WarehouseError
from core.settings import Settings

router = APIRouter(prefix="/runs", tags=["runs"])

RunStatus = Literal["running", "success", "failed", "interrupted"]
NodeStatus = Literal["success", "error", "skipped", "pass", "fail", "warn"]
_SELECTOR = re.compile(r"[A-Za-z0-9_.+*@:/][A-Za-z0-9_.+*@:/,-]{0,199}")
MAX_TAIL = 100_000  # lines ?tail= may ask for
_AIRFLOW_LOCK = threading.Lock()  # makes the app's one AirflowClient (get_airflow)
AIRFLOW_STATUS = {AirflowNotConfigured: 503, DagPaused: 409, AirflowRefused: 502}  # else unreachable: 503
AIRFLOW_REFUSED = {502: {"model": ErrorBody, "description": "a run triggered through Airflow: Airflow refused to say"}}


def get_airflow(request: Request) -> AirflowClient | None:
    """The app's client of Airflow's REST API (made on first use, kept on app.state for its token), or None
    when ELT_AIRFLOW_URL, ELT_AIRFLOW_USERNAME or ELT_AIRFLOW_PASSWORD is not set."""
    state = request.app.state
    with _AIRFLOW_LOCK:
        if not hasattr(state, "airflow"):
            settings = get_settings(request).settings
            state.airflow = None if missing_settings(settings) else AirflowClient.from_settings(settings)
        return state.airflow


Airflow = Annotated[AirflowClient | None, Depends(get_airflow)]


def airflow_failure(exc: AirflowError) -> HTTPException:
    """The answer to an Airflow error: 503 not configured or unreachable, 502 refused, 409 DAG paused."""
    return HTTPException(AIRFLOW_STATUS.get(type(exc), status.HTTP_503_SERVICE_UNAVAILABLE), detail=str(exc))


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


@router.get("/{run_id}", response_model=RunDetail, responses={404: {"model": ErrorBody}, **AIRFLOW_REFUSED})
def get_run(
    run_id: str,
    reader: Annotated[WarehouseReader, Depends(get_reader)],
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
    airflow: Airflow,
) -> RunDetail:
    """One run with its seconds per step; a build started here shows as `running` before its row exists, a
    DAG run triggered here as Airflow reports it (`queued`, `running`) until its first task records it (on
    DuckDB: until it ended, see `_dag_run_in_progress`)."""
    launched, unreadable = launcher.get(run_id), None
    if launched is None and reader.warehouse.target == "duckdb":
        in_progress = _dag_run_in_progress(airflow, run_id)
        if in_progress is not None:
            return _dag_run_detail(run_id, in_progress, reader.warehouse.target)
    try:
        with reader.connection() as conn:
            detail = run_detail(conn, run_id)
    except WarehouseError as exc:
        if launched is None and not _triggered_here(airflow, run_id):
            raise
        detail, unreadable = None, exc  # a run is writing (or creating) the warehouse: the launcher or Airflow says
    if detail is not None:
        return detail
    if launched is not None:
        return _launched_detail(launched, reader.warehouse.target)
    dag_run = _dag_run(airflow, run_id)
    if dag_run is not None:
        return _dag_run_detail(run_id, dag_run, reader.warehouse.target)
    if unreadable is not None:
        raise unreadable  # not a DAG run of ours: maybe a run of audit.runs, which cannot be read now (503)
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
        **AIRFLOW_REFUSED,
    },
)
def get_run_log(
    run_id: str,
    reader: Annotated[WarehouseReader, Depends(get_reader)],
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
    airflow: Airflow,
    tail: Annotated[int | None, Query(ge=1, le=MAX_TAIL, description="only the last N lines")] = None,
) -> PlainTextResponse:
    """The run's log as plain text: dbt's log lines of the run's dbt invocations (info, warnings, errors) and
    the run's own `elt: ...` step lines, oldest first; `tail=N`: the last N. Stored after each step and when
    the run ends, so a running run shows the steps done so far (a build or DAG run started here: empty until
    then)."""
    launched = launcher.get(run_id)
    try:
        with reader.connection() as conn:
            lines = run_log(conn, run_id, tail)
    except WarehouseError:
        if launched is None:
            raise
        lines = []  # our own build is writing (or creating) the warehouse: nothing stored to show yet
    if lines is None:
        if launched is None and _dag_run(airflow, run_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {run_id}")
        lines = []
    private = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}  # a run's data, kept nowhere
    return PlainTextResponse("".join(f"{line}\n" for line in lines), headers=private)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunAccepted,
    responses={
        409: {"model": ErrorBody, "description": "a build is running; `via: airflow`: elt_pipeline is paused"},
        422: {"model": ErrorBody},
        502: {"model": ErrorBody, "description": "`via: airflow`: Airflow refused (credentials, no such DAG)"},
        503: {"model": ErrorBody, "description": "`via: airflow`: not configured (which setting) or unreachable"},
    },
)
def start_run(
    response: Response,
    launcher: Annotated[RunLauncher, Depends(get_launcher)],
    airflow: Airflow,
    http_request: Request,
    request: RunRequest | None = None,
) -> RunAccepted:
    """Start `dbt build` (all nodes, or `select`) in the background: 202 with the run id; 409 while a run is on.
    `via: airflow`: trigger the DAG elt_pipeline (the whole pipeline) through Airflow's REST API instead: 202
    with the run id its tasks record the run under."""
    request = request or RunRequest()
    if request.via == "airflow":
        run_id, state = _trigger_dag(request, airflow, get_settings(http_request).settings)
        return _accepted(response, run_id, state)
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
    return _accepted(response, run.run_id, "running")


def _accepted(response: Response, run_id: str, state: str) -> RunAccepted:
    url = f"/runs/{run_id}"
    response.headers["Location"] = url
    return RunAccepted(run_id=run_id, status=state, url=url)


def _trigger_dag(request: RunRequest, airflow: AirflowClient | None, settings: Settings) -> tuple[str, str]:
    """Trigger elt_pipeline for a new run id: (the run id, Airflow's state of the DAG run)."""
    if request.select or request.full_refresh:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="select and full_refresh are for via elt: the Airflow DAG runs the whole pipeline",
        )
    try:
        client = airflow or AirflowClient.from_settings(settings)  # AirflowNotConfigured, naming what is not set
        run_id = new_id()
        return run_id, client.trigger(run_id).state
    except AirflowError as exc:
        raise airflow_failure(exc) from None


def _triggered_here(airflow: AirflowClient | None, run_id: str) -> bool:
    """True when `run_id` may be a DAG run triggered here (Airflow is configured, the id is one this API makes)."""
    return airflow is not None and API_RUN_ID.fullmatch(run_id) is not None


def _dag_run(airflow: AirflowClient | None, run_id: str) -> DagRunState | None:
    """Airflow's DAG run triggered for `run_id`, None if none (or Airflow is not configured); 502/503 when
    Airflow cannot say."""
    if not _triggered_here(airflow, run_id):
        return None
    try:
        return airflow.dag_run(run_id)
    except AirflowError as exc:
        raise airflow_failure(exc) from None


def _dag_run_in_progress(airflow: AirflowClient | None, run_id: str) -> DagRunState | None:
    """The DAG run triggered here for `run_id` while Airflow says it is queued or running, else None (also
    when Airflow cannot say: the warehouse answers then).

    On DuckDB the API leaves the warehouse alone meanwhile: DuckDB admits no other process while one
    writes, and the DAG's tasks open the file between their steps without announcing themselves to the
    API's readers (Warehouse.lock), so a read at the wrong moment would fail the task opening it."""
    if not _triggered_here(airflow, run_id):
        return None
    try:
        dag_run = airflow.dag_run(run_id)
    except AirflowError:
        return None
    return dag_run if dag_run is not None and dag_run.state in ("queued", "running") else None


def _dag_run_detail(run_id: str, dag_run: DagRunState, target: str) -> RunDetail:
    """A DAG run triggered here that has not recorded itself in audit.runs yet, as Airflow reports it."""
    error = None
    if dag_run.state == "failed":
        error = f"Airflow DAG run {dag_run.dag_run_id} failed before audit.runs showed it: see its task logs in Airflow"
    finished = dag_run.end_date if dag_run.state in ("success", "failed") else None
    started = dag_run.start_date or dag_run.queued_at
    return _unrecorded_detail(run_id, "airflow", "dag", target, dag_run.state, started, finished, error)


def _launched_detail(run: LaunchedRun, target: str) -> RunDetail:
    return _unrecorded_detail(run.run_id, "api", "build", target, run.status, run.started_at, None, run.error())


def _unrecorded_detail(
    run_id: str,
    trigger: str,
    command: str,
    target: str,
    status: str,
    started_at: datetime | None,
    finished_at: datetime | None,
    error: str | None,
) -> RunDetail:
    """A run not in audit.runs yet (still starting, or ended before it recorded itself): what is known of it,
    every figure unknown."""
    return RunDetail(
        run_id=run_id,
        trigger=trigger,
        command=command,
        target=target,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        seconds=None,
        rows_loaded=None,
        models_built=None,
        models_failed=None,
        tests_passed=None,
        tests_failed=None,
        tests_warned=None,
        error=error,
        load_id=None,
        seconds_per_step={},
    )
