"""GET /runs/{run_id}/log: a run's log as plain text (dbt's lines of the run's dbt invocations, the run's own
step lines), from audit.run_logs, on DuckDB and Postgres: the `elt run` of the session's warehouse, and two
failed builds started with POST /runs (the launcher's `elt build --run-id`) on an empty warehouse."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.errors import one_line
from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from tests.api.conftest import KEY, BuiltApi
from tests.dbt.conftest import rows

LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[(info |warn |error)\] (.*\S.*)")
STEPS_OF_ELT_RUN = ("generate", "load", "data_docs", "validate", "build", "export", "docs")
RUN_TIMEOUT = 600  # seconds: a hang guard only; the wait ends when the run's status changes


def log_text(client: TestClient, run_id: str, expect: int = 200, **params: object) -> str:
    """The body of GET /runs/{run_id}/log (status checked; text/plain when 200)."""
    response = client.get(f"/runs/{run_id}/log", headers=KEY, params=params)
    assert response.status_code == expect, f"{params}: {response.status_code} {response.text[:500]}"
    if expect == 200:
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
    return response.text


def messages(text: str) -> list[tuple[str, str]]:
    """(level, message) of each line of a log; every line must have the log's shape."""
    parsed = []
    for line in text.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"not a log line: {line!r}"
        parsed.append((match[1].strip(), match[2]))
    return parsed


def wait_for_outcome(client: TestClient, run_id: str) -> dict:
    """GET /runs/{run_id} once the run is no longer `running` (polled until it changes; RUN_TIMEOUT guards).
    On a new Postgres database the answer is 503 until the build has made audit.runs."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        answer = client.get(f"/runs/{run_id}", headers=KEY)
        if answer.status_code == 200 and answer.json()["status"] != "running":
            return answer.json()
        assert answer.status_code in (200, 503), answer.text
        assert time.monotonic() < deadline, f"run {run_id} still running after {RUN_TIMEOUT} s: {answer.text}"
        time.sleep(0.2)


def test_the_log_of_an_elt_run_has_its_steps_and_dbt_lines(client: TestClient, built: BuiltApi) -> None:
    (run,) = client.get("/runs", headers=KEY, params={"trigger": "cli"}).json()["items"]
    run_id = run["run_id"]
    text = log_text(client, run_id)
    assert text.endswith("\n")
    lines = text.splitlines()
    logged = messages(text)
    stored = rows(built.warehouse, f"select line_no from audit.run_logs where run_id = '{run_id}' order by line_no")
    assert [r["line_no"] for r in stored] == list(range(1, len(lines) + 1))

    # The run's own lines: how it started, each step's end, its outcome.
    assert logged[0] == ("info", f"elt: cli run {run_id} on {built.warehouse.describe()}")
    assert logged[-1] == ("info", f"elt: run {run_id} succeeded")
    done = [m.split(" ", 2)[1] for _, m in logged if m.startswith("elt: ") and " done in " in m]
    assert done == list(STEPS_OF_ELT_RUN)
    assert all(level == "info" for level, _ in logged)  # a build that passed: no warning, no error

    # dbt's lines (`elt run` keeps dbt's console quiet; its log has them all): one per node started and
    # finished, as many as audit.node_results has, then the freshness check of the five sources.
    nodes = client.get(f"/runs/{run_id}/nodes", headers=KEY, params={"page_size": 1}).json()["total"]
    results = [m for _, m in logged if re.match(rf"\d+ of {nodes} (OK created|PASS) ", m)]
    assert len(results) == nodes == run["models_built"] + run["tests_passed"]
    assert any(
        re.fullmatch(
            rf"\d+ of {nodes} OK created sql incremental model marts__build\.fct_sales \.+ \[\w+( \d+)* in [\d.]+s\]", m
        )
        for _, m in logged
    )
    assert f"Done. PASS={nodes} WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL={nodes}" in [m for _, m in logged]
    assert f"Finished running {len(SOURCES)} sources" in text
    assert any(m.startswith("Catalog written to ") for _, m in logged)  # dbt docs generate, the last step

    # ?tail=N: exactly the last N lines.
    for tail in (1, 7, len(lines) - 1, len(lines), len(lines) + 100):
        assert log_text(client, run_id, tail=tail).splitlines() == lines[-tail:]
    for tail in (0, -1, 100_001, "x"):
        log_text(client, run_id, 422, tail=tail)
    assert log_text(client, "no-such-run", 404) == '{"detail":"no run no-such-run"}'
    assert client.get(f"/runs/{run_id}/log").status_code == 401


def test_each_run_has_its_own_log_and_a_failed_build_its_errors(
    target: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = ApiConfig(api_key=KEY["X-API-Key"], warehouse=warehouse, dbt_target_path=tmp_path / "target" / target)
    conn = warehouse.connect()  # raw tables without the files' columns: each staging model selected fails
    try:
        with conn.transaction():
            conn.execute("create schema if not exists raw")
            for source in SOURCES:
                conn.execute(f"create table raw.{source.name} (unrelated text)")
    finally:
        conn.close()
    with TestClient(create_app(settings)) as client:
        logs, runs, failed_nodes = {}, {}, {}
        for model in ("stg_stores", "stg_products"):
            started = client.post("/runs", headers=KEY, json={"select": [model]})
            assert started.status_code == 202, started.text
            run_id = started.json()["run_id"]
            log_text(client, run_id)  # known from the moment it is started (its lines come as its steps end)
            runs[model] = wait_for_outcome(client, run_id)
            logs[model] = log_text(client, run_id)
            nodes = client.get(f"/runs/{run_id}/nodes", headers=KEY, params={"status": "error"}).json()
            failed_nodes[model] = nodes["items"]

    for model, other in (("stg_stores", "stg_products"), ("stg_products", "stg_stores")):
        run, logged = runs[model], messages(logs[model])
        assert (run["status"], run["trigger"]) == ("failed", "api")
        assert logged[0] == ("info", f"elt: api build {run['run_id']} on {warehouse.describe()}")
        assert logged[-1] == ("error", f"elt: run {run['run_id']} failed: {one_line(run['error'])}")
        assert any(m.startswith("elt: build failed after ") for level, m in logged if level == "error")
        # dbt's own error lines: the node that failed (stg_stores: the model; stg_products: its unit test,
        # run first), dbt's message of it as audit.node_results has it, and the summary.
        dbt_errors = [m.strip() for level, m in logged if level == "error" and not m.startswith("elt: ")]
        (node,) = failed_nodes[model]
        assert any(re.match(rf"1 of \d+ ERROR .*{node['name']} \.* ?\[ERROR in ", m) for m in dbt_errors), dbt_errors
        assert any(m.startswith("Failure in ") and node["name"] in m for m in dbt_errors), dbt_errors
        assert node["message"].splitlines()[0].strip() in dbt_errors
        assert any(m.startswith("Done. PASS=0 WARN=0 ERROR=1 SKIP=") for _, m in logged)
        assert other not in logs[model]  # the other run's lines are in its own log only
        assert not set(logs[model].splitlines()) & set(logs[other].splitlines())
