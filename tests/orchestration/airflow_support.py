"""Running the Airflow DAG in tests: its environment, `airflow dags test`, and the DAG a manifest implies."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.data_docs import DataDocs
from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from ingestion.data_docs import read_entries
from ingestion.expectations import SUITES
from orchestration.dbt import ensure_manifest
from tests.dbt.conftest import rows
from tests.dbt.figures import expected_figures, warehouse_figures
from tests.reports_contract import REPORTS

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "orchestration" / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
PIPELINE_TASKS = {
    "start",
    "data_docs",
    "validate",
    "prepare",
    "publish",
    "export",
    "docs",
    "finish",
    *(f"load.load_{s.name}" for s in SOURCES),
}
WATCHER_TASKS = {"dbt.dbt_producer_watcher", "dbt.dbt_producer_watcher_done"}


def airflow_env(home: Path) -> dict[str, str]:
    """What `make airflow-test` sets: the project's DAGs, no examples, no telemetry, no retries (fast failure)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),  # a cache of its own per test worker
        "DO_NOT_TRACK": "1",
        "ELT_AIRFLOW_RETRIES": "0",
    }


@dataclass
class DbtShape:
    """What Cosmos must render from a manifest."""

    models: set[str]
    tested_models: set[str]  # models with at least one test of that model alone
    multi_model_tests: set[str]  # tests of several models: a task of their own once all are built
    tests: int  # data tests and unit tests: what a build runs besides the models


def dbt_shape(manifest: dict) -> DbtShape:
    """Models and tests of the manifest, grouped the way the DAG renders them."""
    nodes = manifest["nodes"].values()
    models = {n["name"] for n in nodes if n["resource_type"] == "model"}
    tested, multi = set(), set()
    for node in nodes:
        if node["resource_type"] != "test":
            continue
        parents = {manifest["nodes"][p]["name"] for p in node["depends_on"]["nodes"] if p.startswith("model.")}
        if len(parents) == 1:
            tested |= parents
        else:
            multi.add(node["name"])
    data_tests = sum(1 for n in nodes if n["resource_type"] == "test")
    return DbtShape(models, tested, multi, data_tests + len(manifest.get("unit_tests", {})))


def expected_task_ids(shape: DbtShape, mode: str) -> set[str]:
    """Every task id of the DAG for that manifest and Cosmos mode.

    WATCHER: the producer's `dbt build` runs the tests, so a task per model only (Cosmos names it
    `<model>_run`). LOCAL: a task group per model (its `run`, then its `test` if it has tests), a task per
    test of several models."""
    if mode == "watcher":
        return PIPELINE_TASKS | {f"dbt.{m}_run" for m in shape.models} | WATCHER_TASKS
    dbt = {f"dbt.{m}.run" for m in shape.models} | {f"dbt.{m}.test" for m in shape.tested_models}
    dbt |= {f"dbt.{t}_test" for t in shape.multi_model_tests}
    return PIPELINE_TASKS | dbt


def airflow_dags_test(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """`airflow dags test elt_pipeline`, and the state of each task of that run (from the metadata DB)."""
    done = subprocess.run(
        [AIRFLOW, "dags", "test", "elt_pipeline"], env={**os.environ, **env}, capture_output=True, text=True
    )
    db = sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    try:
        (run_id,) = db.execute("select run_id from dag_run where dag_id = 'elt_pipeline' order by id desc").fetchone()
        states = dict(db.execute("select task_id, state from task_instance where run_id = ?", (run_id,)).fetchall())
    finally:
        db.close()
    return done, states


def check_dag_run_built(warehouse: Warehouse, reports_dir: Path, expected: dict) -> dict:
    """The one successful DAG run on `warehouse` built the marts of expected.json and is recorded like an
    `elt run`: audit.runs with every step timed, dbt's node results, its log, the loads, the contract's checks
    and Data Docs, the report CSVs in reports_dir. Returns the run's audit.runs row."""
    shape = dbt_shape(json.loads(ensure_manifest(warehouse).read_text()))
    conn = warehouse.connect(read_only=True)
    try:
        assert warehouse_figures(conn) == expected_figures(expected)
    finally:
        conn.close()

    # The run is in audit.runs like an `elt run`, with every step timed and dbt's node results.
    (run,) = rows(warehouse, "select * from audit.runs")
    assert (run["trigger"], run["command"], run["status"], run["error"]) == ("airflow", "dag", "success", None)
    assert run["rows_loaded"] == sum(f["rows"] for f in expected["files"].values())
    assert (run["models_built"], run["models_failed"]) == (len(shape.models), 0)
    assert (run["tests_passed"], run["tests_failed"]) == (shape.tests, 0)
    steps = ("generate", "load", "data_docs", "validate", "build", "export", "docs")
    assert all(run[f"{step}_seconds"] is not None for step in steps)
    # A row per dbt invocation of a node: the producer's `dbt build` ran every model and every test (the DAG
    # has no test tasks in WATCHER mode); a node run again by its own task would add a second row.
    node_query = "select count(distinct unique_id) as n, count(*) filter (where status not in ('success', 'pass'))"
    nodes = rows(warehouse, f"{node_query} as bad from audit.node_results where run_id = '{run['run_id']}'")
    assert (nodes[0]["n"], nodes[0]["bad"]) == (len(shape.models) + shape.tests, 0)
    # Its log (GET /runs/{id}/log): the run's own lines around dbt's, one result line per node.
    log_query = f"select message from audit.run_logs where run_id = '{run['run_id']}' order by line_no"
    logged = [r["message"] for r in rows(warehouse, log_query)]
    assert logged[0] == f"elt: airflow dag {run['run_id']} on {warehouse.describe()}"
    assert logged[-1] == f"elt: run {run['run_id']} succeeded"
    total = len(shape.models) + shape.tests
    assert f"Done. PASS={total} WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL={total}" in logged
    assert sum(1 for m in logged if re.match(rf"\d+ of {total} (OK created|PASS) ", m)) == total
    for source in SOURCES:  # the five per-file loads share the run's load id
        load_ids = rows(warehouse, f"select distinct _load_id as id from raw.{source.name}")
        assert [r["id"] for r in load_ids] == [run["load_id"]]
    checked = rows(warehouse, f"select count(*) as n from audit.validations where load_id = '{run['load_id']}'")
    assert checked[0]["n"] == sum(len(SUITES[source.name]) for source in SOURCES)
    pages = [e for e in read_entries(DataDocs.of(warehouse)) if e.load_id == run["load_id"]]  # one per load task
    assert sorted((e.file, e.status) for e in pages) == sorted((source.file, "passed") for source in SOURCES)
    for name in REPORTS:
        with (reports_dir / f"{name}.csv").open(encoding="utf-8") as fh:
            csv_rows = sum(1 for _ in fh) - 1
        assert csv_rows == rows(warehouse, f"select count(*) as n from reports.{name}")[0]["n"], name
    return run


def airflow_token(base: str, password: str, timeout: float) -> str | None:
    """The admin's JWT from the API server at `base` (`POST /auth/token`); None while it does not answer or
    refuses (still starting): poll it."""
    try:
        response = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=timeout)
    except httpx.HTTPError:
        return None
    return response.json()["access_token"] if response.status_code == 201 else None


def stop_process_groups(processes: Sequence[subprocess.Popen]) -> None:
    """SIGTERM to each process's group (the children Airflow and Celery start too), up to 60 s in all for them
    to end, then SIGKILL to what is left."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
