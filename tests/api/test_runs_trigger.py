"""POST /runs starts a build in the background (202 + run id, 409 while it runs, status at GET /runs/{id});
on DuckDB, requests during a write get 503 and resume after it; `elt serve` needs a key unless --dev."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.warehouse import Warehouse
from orchestration.readiness import RUN_A_LOAD
from tests.api.conftest import API_KEY, KEY, BuiltApi
from tests.dbt.conftest import elt


def wait_for_run(client: TestClient, run_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/runs/{run_id}", headers=KEY).json()
        if body["status"] != "running":
            return body
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


def test_post_runs_builds_in_the_background_one_at_a_time(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    elt("load", "--data-dir", str(sample_dir), env=wh_env)  # raw only: the build below makes every model
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=tmp_path / "target" / warehouse.target)
    with TestClient(create_app(settings)) as client:
        assert client.post("/runs", headers=KEY, json={"select": ["--vars"]}).status_code == 422
        assert client.post("/runs", headers=KEY, json={"select": ["a b"]}).status_code == 422
        started = client.post("/runs", headers=KEY)  # no body: build everything
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        assert started.headers["location"] == f"/runs/{run_id}" == started.json()["url"]
        second = client.post("/runs", headers=KEY, json={})
        assert second.status_code == 409 and run_id in second.json()["detail"]
        assert client.get(f"/runs/{run_id}", headers=KEY).json()["status"] == "running"

        run = wait_for_run(client, run_id)
        assert (run["status"], run["trigger"], run["command"]) == ("success", "api", "build")
        assert (run["models_built"], run["tests_passed"], run["tests_failed"]) == (36, 258, 0)
        assert client.get(f"/runs/{run_id}/nodes", headers=KEY).json()["total"] == 36 + 258
        assert (settings.dbt_target_path / "run_results.json").is_file()  # the API's own artifacts folder
        model = client.get("/models/stg_stores", headers=KEY).json()
        assert model["applied"]["last_success"]["run_id"] == run_id
        again = client.post("/runs", headers=KEY, json={"select": ["stg_stores"]})  # free again once it ended
        assert again.status_code == 202
        rerun = wait_for_run(client, again.json()["run_id"])
        assert (rerun["status"], rerun["models_built"]) == ("success", 1)
        assert client.get("/runs", headers=KEY, params={"trigger": "api"}).json()["total"] == 2


def parse_metrics(text: str) -> dict[str, dict[tuple, float]]:
    """Prometheus text as {metric: {label values: value}} (the client library's own parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        family.name: {tuple(sample.labels.values()): sample.value for sample in family.samples}
        for family in text_string_to_metric_families(text)
    }


def test_duckdb_requests_wait_out_a_writer_with_503(built_apis) -> None:
    built = built_apis.get("duckdb")  # Postgres readers never wait for writers (MVCC)
    with TestClient(create_app(built.settings())) as client:
        assert client.get("/reports/store_performance", headers=KEY).status_code == 200  # the file is now open
        read = parse_metrics(client.get("/metrics").text)
        with built.warehouse.lock(timeout=10, purpose="test"):  # granted once the API lets go of the file
            # /metrics: the figures last read, flagged busy (api/metrics.py PipelineCollector)
            while_busy = parse_metrics(client.get("/metrics").text)
            assert (while_busy["elt_warehouse_busy"], while_busy["elt_warehouse_up"]) == ({(): 1.0}, {(): 1.0})
            assert while_busy["elt_last_load_rows"] == read["elt_last_load_rows"] != {}
            busy = client.get("/reports/store_performance", headers=KEY)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
            assert "writing" in busy.json()["detail"]
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "busy"
            assert client.post("/runs", headers=KEY, json={}).status_code == 409
        assert client.get("/reports/store_performance", headers=KEY).status_code == 200

        # A writer's change shows at once afterwards: answers cached for the open file are dropped with it.
        total = client.get("/reports/store_performance", headers=KEY).json()["total"]
        path = built.warehouse.duckdb_path
        duplicate = (
            "insert into reports.store_performance select * from reports.store_performance"
            " where store_key = (select min(store_key) from reports.store_performance)"
        )
        undo = (
            "delete from reports.store_performance where rowid ="
            " (select max(rowid) from reports.store_performance"
            " where store_key = (select min(store_key) from reports.store_performance))"
        )
        for statement, expected_total in ((duplicate, total + 1), (undo, total)):
            with built.warehouse.lock(timeout=10, purpose="test"):
                write = f"import duckdb; c = duckdb.connect({str(path)!r}); c.execute({statement!r}); c.close()"
                done = subprocess.run([sys.executable, "-c", write], capture_output=True, text=True)
                assert done.returncode == 0, done.stderr
            assert client.get("/reports/store_performance", headers=KEY).json()["total"] == expected_total

        time.sleep(client.app.state.reader._duckdb.idle_seconds + 0.5)
        # Idle, the API has let go of the file: a writer that knows nothing of our lock (dbt by hand) gets it.
        opened = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(built.warehouse.duckdb_path)!r}).close()"],
            capture_output=True,
            text=True,
        )
        assert opened.returncode == 0, opened.stderr


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_failed_background_build_shows_as_failed(warehouse: Warehouse, tmp_path: Path) -> None:
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=tmp_path / "target" / "duckdb")
    with TestClient(create_app(settings)) as client:  # nothing loaded: the build stops before dbt, recorded
        started = client.post("/runs", headers=KEY, json={"select": ["stg_stores"]})
        assert started.status_code == 202
        run = wait_for_run(client, started.json()["run_id"])
        assert (run["status"], run["trigger"], run["models_built"]) == ("failed", "api", None)
        assert run["error"] == f"nothing loaded yet on {warehouse.describe()}: {RUN_A_LOAD}"


def test_health_and_reads_are_503_when_the_warehouse_is_unreachable(tmp_path: Path) -> None:
    env = {"ELT_API_KEY": API_KEY, "PGPORT": "1", "ELT_DUCKDB_PATH": str(tmp_path / "missing" / "wh.duckdb")}
    for target in ("postgres", "duckdb"):
        with TestClient(create_app(ApiConfig.from_env(target, environ=env))) as client:
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "unreachable", target
            runs = client.get("/runs", headers=KEY)
            assert runs.status_code == 503 and runs.json()["detail"].startswith("cannot "), runs.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_elt_serve_refuses_without_a_key_and_serves_with_dev(built: BuiltApi) -> None:
    env = {k: v for k, v in {**os.environ, **built.env}.items() if k != "ELT_API_KEY"}
    refused = subprocess.run(
        [sys.executable, "-m", "elt.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: ELT_API_KEY is not set: set it, or start with --dev for a random key"

    port = _free_port()
    workers = "2" if built.warehouse.target == "postgres" else "1"  # both ways of serving, one per target
    server = subprocess.Popen(
        [sys.executable, "-m", "elt.cli", "serve", "--dev", "--port", str(port), "--workers", workers],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = server.stdout.readline()
        assert first.startswith("dev mode: X-API-Key for this server is ")
        key = first.rsplit(" ", 1)[1].strip()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert httpx.get(f"{url}/runs", timeout=5).status_code == 401
        runs = httpx.get(f"{url}/runs", headers={"X-API-Key": key}, params={"trigger": "cli"}, timeout=5)
        assert runs.status_code == 200 and runs.json()["total"] == 1

        # More clients at once than the server has worker threads (40) and connections (8): all are served.
        def read(_: int) -> int:
            params = {"page": 3, "page_size": 50, "sort": "-revenue_usd"}
            with httpx.Client(timeout=60) as http:
                return http.get(
                    f"{url}/reports/customer_summary", headers={"X-API-Key": key}, params=params
                ).status_code

        with ThreadPoolExecutor(max_workers=60) as pool:
            assert list(pool.map(read, range(120))) == [200] * 120
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_a_warehouse_nothing_ran_on_has_no_runs_and_the_dashboard_says_how_to_start(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=tmp_path / "target" / warehouse.target)
    with TestClient(create_app(settings)) as client:  # a new, empty warehouse: no audit tables yet
        if warehouse.target == "duckdb":
            warehouse.connect().close()  # the file exists, empty (a missing file is `unreachable`: 503)
        runs = client.get("/runs", headers=KEY)
        assert runs.status_code == 200 and (runs.json()["items"], runs.json()["total"]) == ([], 0)
        for path in ("/runs/x", "/runs/x/nodes", "/runs/x/log"):
            missing = client.get(path, headers=KEY)
            assert missing.status_code == 404 and missing.json() == {"detail": "no run x"}, (path, missing.text)
        overview = client.get("/ui/", headers={**KEY, "Accept": "text/html"})
        assert overview.status_code == 200 and "No run yet" in overview.text, overview.text[-2000:]
