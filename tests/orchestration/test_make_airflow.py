"""`make airflow` on a port other than 8080, end to end: the UI answers on that port, and a run of elt_pipeline
triggered by the API's `POST /runs {"via": "airflow"}` succeeds (its tasks reach the execution API on that
port too), followed by `GET /runs/{id}` until audit.runs has it under the id the API answered with.

One `airflow standalone` (about a minute to start, three for a DAG run on DuckDB) serves every check here.
`run_id_of`, which names the run after the API's id, is checked on its own first.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient

from api.airflow import API_RUN_ID, DAG_ID
from api.config import ApiConfig
from api.main import create_app
from core.audit import new_id
from core.warehouse import Warehouse
from tests.api.conftest import API_KEY, KEY
from tests.orchestration.airflow_support import airflow_token, check_dag_run_built, stop_process_groups

PROJECT = Path(__file__).resolve().parents[2]
HTTP_SECONDS = 120  # safety net for one request to a server that is busy starting its other processes
STARTUP_SECONDS = 600  # safety net: `airflow standalone` migrates, starts four processes, parses the DAG
RUN_SECONDS = 1500  # safety net: the DAG run takes about three minutes on DuckDB
T = TypeVar("T")


def _context(conf: dict | None, run_id: str = "manual__2026-12-01T00:00:00+00:00") -> dict:
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, tzinfo=UTC)
    return {"dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=run_id, conf=conf, run_after=when, logical_date=None)}


def test_run_id_of_takes_the_conf_run_id_or_derives_one() -> None:
    """In a process of its own: importing Airflow here would fix its home for this worker's other tests."""
    import multiprocessing

    checked = multiprocessing.get_context("spawn").Process(target=check_run_id_of)
    checked.start()
    checked.join()
    assert checked.exitcode == 0


def check_run_id_of() -> None:
    """`run_id_of` takes the API's run id from conf (checked), else derives one from the Airflow run."""
    from orchestration.airflow_tasks import run_id_of

    chosen = new_id()
    assert run_id_of(_context({"run_id": chosen})) == chosen
    derived = run_id_of(_context({}))
    assert derived == run_id_of(_context(None)) and derived.startswith("20261201T000000.000000Z-")
    assert derived != run_id_of(_context({}, run_id="manual__other"))
    for bad in ("a b", "x" * 81, "", 7, "../etc"):
        with pytest.raises(ValueError, match="letters, digits"):
            run_id_of(_context({"run_id": bad}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check: Callable[[], T | None], seconds: float, what: str, process: subprocess.Popen, log: Path) -> T:
    """Poll `check` (every 2 s) until it returns something: that; fails if `make` ended or time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make airflow exited {process.returncode} before {what}:\n{_tail(log)}")
        found = check()
        if found is not None:
            return found
        time.sleep(2)
    raise AssertionError(f"no {what} after {seconds} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-6000:] if log.exists() else ""


def _ok(response: httpx.Response | None) -> httpx.Response | None:
    return response if response is not None and response.status_code == 200 else None


def _answer(url: str, **kwargs: object) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=HTTP_SECONDS, **kwargs)
    except httpx.HTTPError:
        return None


@pytest.fixture
def make_airflow(tmp_path: Path, sample_dir: Path) -> Iterator[SimpleNamespace]:
    """`make airflow AIRFLOW_PORT=<a free port>` over a fresh DuckDB warehouse and a copy of the seed-7
    sample, everything in tmp_path; the whole process group is ended afterwards."""
    port = _free_port()
    home, data = tmp_path / "airflow", tmp_path / "data"
    shutil.copytree(sample_dir, data)
    duckdb_path = tmp_path / "warehouse.duckdb"
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ELT_", "AIRFLOW", "MAKE", "MFLAGS"))}
    env = {
        **kept,
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        # Only the run triggered here: no scheduled run of the @daily DAG, which is not paused at creation.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "ELT_LINEAGE_DIR": str(tmp_path / "lineage"),
        # No manifest there, as in a fresh clone: the DAG's first parse runs `dbt parse` (longer than 30 s on
        # a busy machine, which Airflow's default import timeout would not allow).
        "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"),
    }
    command = [
        "make",
        "--no-print-directory",
        "-o",
        f"{sys.prefix}/.installed",  # the running venv is set up: `setup` installs nothing
        "airflow",
        f"VENV={sys.prefix}",
        f"AIRFLOW_PORT={port}",
        f"AIRFLOW_HOME={home}",
        f"DATA={data}",
        "TARGET=duckdb",
        f"ELT_DUCKDB_PATH={duckdb_path}",
        f"ELT_REPORTS_DIR={tmp_path / 'reports'}",
        f"ELT_DATA_DOCS_DIR={tmp_path / 'data_docs'}",
    ]
    log = tmp_path / "make-airflow.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield SimpleNamespace(port=port, home=home, process=process, log=log, duckdb_path=duckdb_path)
    finally:
        stop_process_groups([process])


def _api(duckdb_path: Path, tmp_path: Path, airflow_url: str, password: str) -> TestClient:
    environ = {
        "ELT_TARGET": "duckdb",
        "ELT_DUCKDB_PATH": str(duckdb_path),
        "ELT_AIRFLOW_URL": airflow_url,
        "ELT_AIRFLOW_USERNAME": "admin",
        "ELT_AIRFLOW_PASSWORD": password,
    }
    warehouse = Warehouse.from_env(environ=environ)
    return TestClient(create_app(ApiConfig(API_KEY, warehouse, tmp_path / "api-target" / "duckdb")))


@pytest.mark.slow
def test_make_airflow_on_another_port_runs_the_dag_the_api_triggers(
    make_airflow: SimpleNamespace, tmp_path: Path, expected: dict
) -> None:
    airflow, started = make_airflow, time.monotonic()
    base = f"http://localhost:{airflow.port}"

    def wait(check: Callable[[], T | None], seconds: float, what: str) -> T:
        return _wait_for(check, seconds, what, airflow.process, airflow.log)

    # The UI and the REST API answer on the port asked for; the admin's password is where make says.
    version = wait(lambda: _answer(f"{base}/api/v2/version"), STARTUP_SECONDS, "answer on the port")
    assert version.status_code == 200 and version.json()["version"].startswith("3.")
    ui = wait(lambda: _ok(_answer(f"{base}/")), STARTUP_SECONDS, "the UI to answer")
    assert ui is not None and ui.status_code == 200 and "text/html" in ui.headers["content-type"]
    passwords = airflow.home / "simple_auth_manager_passwords.json.generated"
    password = wait(
        lambda: json.loads(passwords.read_text())["admin"] if passwords.exists() else None, STARTUP_SECONDS, "password"
    )
    token = wait(lambda: airflow_token(base, password, HTTP_SECONDS), STARTUP_SECONDS, "token")
    bearer = {"Authorization": f"Bearer {token}"}

    def dag_parsed() -> bool | None:
        found = _answer(f"{base}/api/v2/dags/{DAG_ID}", headers=bearer)
        return True if found is not None and found.status_code == 200 else None

    wait(dag_parsed, STARTUP_SECONDS, f"DAG {DAG_ID} parsed")
    print(f"airflow standalone up with {DAG_ID} parsed after {time.monotonic() - started:.0f} s")

    with _api(airflow.duckdb_path, tmp_path, base, password) as api:
        accepted = api.post("/runs", headers=KEY, json={"via": "airflow"})
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        assert API_RUN_ID.fullmatch(run_id)
        assert accepted.json() == {"run_id": run_id, "status": "queued", "url": f"/runs/{run_id}"}
        assert accepted.headers["location"] == f"/runs/{run_id}"
        first = api.get(f"/runs/{run_id}", headers=KEY)
        assert first.status_code == 200 and first.json()["status"] in ("queued", "running")
        assert (first.json()["trigger"], first.json()["command"]) == ("airflow", "dag")

        def ended() -> dict | None:
            answer = api.get(f"/runs/{run_id}", headers=KEY)
            if answer.status_code == 503:  # Airflow's API server too busy to answer in time: ask again
                assert "cannot be reached" in answer.json()["detail"], answer.text
                return None
            assert answer.status_code == 200, answer.text  # the warehouse being written or not, the API answers
            body = answer.json()
            # A success is the run's row in audit.runs (its seconds; Airflow's state has none), a failure either.
            return body if body["status"] == "failed" or body["seconds"] is not None else None

        run = wait(ended, RUN_SECONDS, f"run {run_id} ended")
        assert run["status"] == "success", (run, _tail(airflow.log))
        print(f"DAG run succeeded {time.monotonic() - started:.0f} s after make airflow")
        assert (run["run_id"], run["trigger"], run["command"], run["error"]) == (run_id, "airflow", "dag", None)
        assert run["rows_loaded"] == sum(f["rows"] for f in expected["files"].values())
        assert (run["models_failed"], run["tests_failed"]) == (0, 0)
        listed = api.get("/runs", headers=KEY, params={"trigger": "airflow"}).json()
        assert [item["run_id"] for item in listed["items"]] == [run_id]
        log = api.get(f"/runs/{run_id}/log", headers=KEY).text.splitlines()
        assert log[-1].endswith(f"elt: run {run_id} succeeded")

        # A run id Airflow never saw is 404; a paused DAG is refused (the run would wait forever).
        assert api.get(f"/runs/{new_id()}", headers=KEY).status_code == 404
        paused = httpx.patch(f"{base}/api/v2/dags/{DAG_ID}", json={"is_paused": True}, headers=bearer, timeout=10)
        assert paused.status_code == 200, paused.text
        refused = api.post("/runs", headers=KEY, json={"via": "airflow"})
        assert refused.status_code == 409 and f"{DAG_ID} is paused" in refused.json()["detail"]

    # Wrong credentials: Airflow's refusal, named.
    with _api(airflow.duckdb_path, tmp_path, base, password + "x") as api:
        refused = api.post("/runs", headers=KEY, json={"via": "airflow"})
        assert refused.status_code == 502 and "refused the login of user 'admin'" in refused.json()["detail"]

    # What `airflow dags test` checks on Postgres (test_airflow_dag.py), here on DuckDB under a real scheduler.
    environ = {
        "ELT_TARGET": "duckdb",
        "ELT_DUCKDB_PATH": str(airflow.duckdb_path),
        "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"),
        "ELT_DATA_DOCS_DIR": str(tmp_path / "data_docs"),
    }
    recorded = check_dag_run_built(Warehouse.from_env(environ=environ), tmp_path / "reports", expected)
    assert (recorded["run_id"], recorded["trigger"], recorded["command"]) == (run_id, "airflow", "dag")
