"""elt_pipeline under Airflow's CeleryExecutor, for real: Redis as the broker (db 7 of the local server), a
fresh Postgres database as Airflow's metadata database and Celery's result backend, the Postgres warehouse,
and two `airflow celery worker` processes with distinct names.

One setup for the module starts what Airflow 3 needs besides the workers: `airflow db migrate`, the API server
on a free port (the UI, the REST API and the execution API the tasks report to), the scheduler and the DAG
processor. The DAG run is triggered through the REST API and followed until it ends (the run's state, polled;
the caps are safety nets). The tests then check that it succeeded on both workers, through the run's own
Celery queue, and that it built the marts of expected.json like any DAG run. Everything started is stopped
(each process group: SIGTERM, then SIGKILL), both databases are dropped and the Redis keys the run made are
deleted. docs/airflow.md#celery-workers says how to run the same by hand.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import redis

from core.warehouse import Warehouse
from orchestration.celery_worker import WORKER_HOSTNAME
from orchestration.dbt import ensure_manifest
from tests.api.live import free_port
from tests.conftest import _drop_database, _fresh_database, _postgres_required
from tests.orchestration.airflow_support import (
    AIRFLOW,
    airflow_env,
    airflow_token,
    check_dag_run_built,
    dbt_shape,
    expected_task_ids,
    stop_process_groups,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAG_ID = "elt_pipeline"
REDIS_URL = "redis://127.0.0.1:6379/7"  # the local Redis; db 7 is this test's
WORKERS = ("celery-worker-1", "celery-worker-2")  # ELT_WORKER_HOSTNAME of each: the task instances' hostname
CONCURRENCY = 2  # task slots per worker: four in all, the DAG's max_active_tasks on Postgres
HTTP_SECONDS = 120  # safety net for one request to an API server busy with the rest of the machine
STARTUP_SECONDS = 600  # safety net: the API server up, the workers ready, the DAG parsed (with `dbt parse`)
RUN_SECONDS = 1800  # safety net: the DAG run takes a few minutes here
T = TypeVar("T")


@dataclass
class Service:
    """One Airflow process this module started, leading a process group of its own, and its output."""

    name: str
    process: subprocess.Popen
    log: Path

    def tail(self, chars: int = 4000) -> str:
        """The end of what the process printed so far."""
        return f"--- {self.name} ---\n" + (self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "")


@dataclass
class CeleryAirflow:
    """The running Airflow: its API's URL and admin token, its processes, home, queue and environment."""

    base: str
    token: str
    services: list[Service]
    home: Path
    queue: str
    env: dict[str, str]

    def get(self, path: str) -> httpx.Response | None:
        """GET on the REST API; None if the server did not answer in time (busy: ask again)."""
        try:
            return httpx.get(f"{self.base}{path}", headers=self.bearer, timeout=HTTP_SECONDS)
        except httpx.HTTPError:
            return None

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def wait_for(self, check: Callable[[], T | None], seconds: float, what: str) -> T:
        """Poll `check` every 2 s until it returns something; fails at once if one of the processes ended."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for service in self.services:
                if service.process.poll() is not None:
                    raise AssertionError(
                        f"{service.name} exited {service.process.returncode} before {what}:\n{service.tail()}"
                    )
            found = check()
            if found is not None:
                return found
            time.sleep(2)
        raise AssertionError(f"no {what} after {seconds} s:\n" + "\n".join(s.tail(2000) for s in self.services))


def _start(name: str, args: list[str], env: dict[str, str], logs: Path) -> Service:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [AIRFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=logs
        )
    return Service(name, process, log)


def _redis() -> redis.Redis:
    """Db 7 of the local Redis; skips the test where none answers (fails it under CI)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        if _postgres_required():  # CI: the machine's services are never skipped
            pytest.fail(f"Redis is required in CI but unreachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return client


def _postgres_url(scheme: str, database: str) -> str:
    """A URL of the libpq server of the PG* variables; the password, if any, stays in PGPASSWORD."""
    host, port = os.environ.get("PGHOST", "127.0.0.1"), os.environ.get("PGPORT", "5432")
    return f"{scheme}://{os.environ.get('PGUSER', 'postgres')}@{host}:{port}/{database}"


def _env(tmp: Path, sample_dir: Path, metadata_db: str, warehouse_db: str, port: int, queue: str) -> dict[str, str]:
    """What every Airflow process of the test gets: the CeleryExecutor on Redis, the metadata database, the API's
    port, the admin's login, the Postgres warehouse and its files; nothing of the caller's ELT_ or AIRFLOW
    settings."""
    data = tmp / "data"
    shutil.copytree(sample_dir, data)
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(16)}))
    base = f"http://127.0.0.1:{port}"
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ELT_", "AIRFLOW", "PGDATABASE"))}
    return {
        **kept,
        **airflow_env(tmp / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": _postgres_url("db+postgresql+psycopg2", metadata_db),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _postgres_url("postgresql+psycopg2", metadata_db),
        # Every task goes to this run's own queue, the only one the workers listen on: a message another run
        # left in Redis is never taken, and none of this run's is taken by anything else.
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        # The scheduler's send of a task to Redis may take 1 s (the default) only; a busy 2-core machine needs more.
        "AIRFLOW__CELERY__OPERATION_TIMEOUT": "30",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "orchestration.celery_worker.worker_hostname",
        "AIRFLOW__CORE__PARALLELISM": str(CONCURRENCY * len(WORKERS)),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"{base}/",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",  # where the workers' tasks report
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),  # the same in every process
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # the first parse runs `dbt parse` (no manifest yet)
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "360",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # one parse is enough: 2 cores
        # Only the run triggered here (no scheduled run of the @daily DAG), which must not wait for an unpause.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "ELT_TARGET": "postgres",
        "PGDATABASE": warehouse_db,
        "ELT_DATA_DIR": str(data),
        "ELT_REPORTS_DIR": str(tmp / "reports"),
        "ELT_DATA_DOCS_DIR": str(tmp / "data_docs"),
        "ELT_LINEAGE_DIR": str(tmp / "lineage"),
        "ELT_DBT_TARGET_ROOT": str(tmp / "target"),  # no manifest there, as in a fresh clone
        "ELT_LOCK_TIMEOUT": "60",
    }


@pytest.fixture(scope="module")
def celery_airflow(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, postgres_available: bool
) -> Iterator[CeleryAirflow]:
    """Airflow on two Celery workers over fresh databases, up with elt_pipeline parsed; all of it removed after."""
    if not postgres_available:
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    broker = _redis()
    keys_before = set(broker.scan_iter(count=1000))
    tmp = tmp_path_factory.mktemp("celery")
    queue = f"elt_celery_test_{secrets.token_hex(4)}"
    metadata_db, warehouse_db = _fresh_database("celery_airflow"), _fresh_database("celery_wh")
    services: list[Service] = []
    try:
        env = _env(tmp, sample_dir, metadata_db, warehouse_db, free_port(), queue)
        started = time.monotonic()
        migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, cwd=tmp)
        assert migrated.returncode == 0, (migrated.stdout + migrated.stderr)[-5000:]
        print(f"airflow db migrate: {time.monotonic() - started:.0f} s")
        port = env["AIRFLOW__API__PORT"]
        services.append(_start("api-server", ["api-server", "--host", "127.0.0.1", "--port", port], env, tmp))
        services.append(_start("scheduler", ["scheduler"], env, tmp))
        services.append(_start("dag-processor", ["dag-processor"], env, tmp))
        for name in WORKERS:
            worker_env = {
                **env,
                WORKER_HOSTNAME: name,
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),  # one log server per worker
            }
            args = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queue]
            services.append(_start(name, [*args, "--concurrency", str(CONCURRENCY)], worker_env, tmp))
        base = f"http://127.0.0.1:{port}"
        password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]
        airflow = CeleryAirflow(base, "", services, Path(env["AIRFLOW_HOME"]), queue, env)
        login = functools.partial(airflow_token, base, password, HTTP_SECONDS)
        airflow.token = airflow.wait_for(login, STARTUP_SECONDS, "API server login")
        for worker in services[-len(WORKERS) :]:  # Celery's "<name>@<host> ready." once it consumes its queue

            def ready(worker: Service = worker) -> bool | None:
                lines = worker.log.read_text(errors="replace").splitlines()
                return True if any(f"{worker.name}@" in line and " ready." in line for line in lines) else None

            airflow.wait_for(ready, STARTUP_SECONDS, f"{worker.name} ready")

        def parsed() -> dict | None:
            found = airflow.get(f"/api/v2/dags/{DAG_ID}")
            return found.json() if found is not None and found.status_code == 200 else None

        dag = airflow.wait_for(parsed, STARTUP_SECONDS, f"DAG {DAG_ID} parsed")
        assert dag["is_paused"] is False
        print(f"Airflow with two Celery workers up, {DAG_ID} parsed: {time.monotonic() - started:.0f} s")
        yield airflow
    finally:
        try:
            stop_process_groups([service.process for service in services])
        finally:
            _drop_database(metadata_db)
            _drop_database(warehouse_db)
            made = set(broker.scan_iter(count=1000)) - keys_before  # the queue, its bindings, the workers' pidbox
            if made:
                broker.delete(*made)
            broker.close()


@pytest.fixture(scope="module")
def dag_run(celery_airflow: CeleryAirflow) -> dict:
    """elt_pipeline triggered through the REST API and followed until it ended: the run and its task instances."""
    airflow, started = celery_airflow, time.monotonic()
    run_id = f"celery__{secrets.token_hex(4)}"
    triggered = httpx.post(
        f"{airflow.base}/api/v2/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": None},
        headers=airflow.bearer,
        timeout=HTTP_SECONDS,
    )
    assert triggered.status_code == 200, triggered.text

    def ended() -> dict | None:
        answer = airflow.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        if answer is None:
            return None
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["state"] in ("success", "failed") else None

    run = airflow.wait_for(ended, RUN_SECONDS, f"DAG run {run_id} ended")
    print(f"DAG run {run['state']} after {time.monotonic() - started:.0f} s")
    listed = airflow.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100")
    assert listed is not None and listed.status_code == 200, listed and listed.text
    instances = listed.json()["task_instances"]
    assert len(instances) == listed.json()["total_entries"]
    return {"run": run, "task_instances": instances}


def _failed_task_logs(airflow: CeleryAirflow, run: dict, instances: list[dict]) -> str:
    """The end of each failed task's log, for the assertion message."""
    out = []
    runs = airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run['dag_run_id']}"
    for ti in instances:
        if ti["state"] != "success":
            for log in sorted((runs / f"task_id={ti['task_id']}").glob("*.log")):
                text = log.read_text(errors="replace")[-3000:]
                out.append(f"--- {ti['task_id']} ({ti['state']}) {log.name} ---\n{text}")
    return "\n".join(out) or "\n".join(s.tail(2000) for s in airflow.services)


def test_the_dag_runs_on_both_celery_workers(celery_airflow: CeleryAirflow, dag_run: dict) -> None:
    run, instances = dag_run["run"], dag_run["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in instances}
    assert run["state"] == "success", _failed_task_logs(celery_airflow, run, instances)
    warehouse = Warehouse.from_env(environ=celery_airflow.env)
    shape = dbt_shape(json.loads(ensure_manifest(warehouse).read_text()))
    assert set(states) == expected_task_ids(shape, "watcher")
    assert set(states.values()) == {"success"}
    # Every task went through the run's Celery queue and ran on one of the two workers, and each worker ran some.
    # Only EmptyOperators (Cosmos' dbt_producer_watcher_done) never reach a worker: the scheduler marks them done.
    sent = [ti for ti in instances if ti["queued_when"]]
    assert {ti["operator"] for ti in instances if not ti["queued_when"]} <= {"EmptyOperator"}
    assert len(sent) >= len(instances) - 1
    assert {ti["queue"] for ti in sent} == {celery_airflow.queue}
    hosts = [ti["hostname"] for ti in sent]
    assert set(hosts) == set(WORKERS), hosts
    print("tasks per worker:", {name: hosts.count(name) for name in WORKERS})


def test_the_celery_run_built_the_marts_of_expected_json(
    celery_airflow: CeleryAirflow, dag_run: dict, expected: dict
) -> None:
    assert dag_run["run"]["state"] == "success"
    warehouse = Warehouse.from_env(environ=celery_airflow.env)
    check_dag_run_built(warehouse, Path(celery_airflow.env["ELT_REPORTS_DIR"]), expected)
