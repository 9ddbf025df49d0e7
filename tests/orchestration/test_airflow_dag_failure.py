"""A failing dbt test in the Airflow DAG fails the run before `publish`: the published marts and reports stay
those of the last good build, the run's audit row is `failed` with the test's name, the tasks after it
(publish, export, docs, finish) do not run, and the failed build stays in the build
schemas. The failure is a test planted in a copy of the dbt project (tests/orchestration/wap_support.py).

On DuckDB only: the DAG's tasks are the same on both warehouses, and a failed build publishing nothing is
checked on both by tests/orchestration/test_publish.py; DuckDB is the one with a single writer, which the
failed producer must release for the tasks after it. A DAG run costs minutes of the suite's budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.publish import BUILD_SUFFIX
from tests.dbt.conftest import rows
from tests.faults.conftest import Built, built, golden  # noqa: F401 - fixtures: a copy of one good `elt run`
from tests.orchestration.airflow_support import airflow_dags_test
from tests.orchestration.notify_support import AlertReceivers, alert_receivers, mail_text  # noqa: F401 - fixture
from tests.orchestration.wap_support import (
    PLANTED_TEST,
    build_schemas,
    content,
    project_with_failing_test,
    with_changed_quantities,
)


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_failing_dbt_test_fails_the_run_before_publish(
    built: Built,  # noqa: F811 - the fixture imported above
    alert_receivers: AlertReceivers,  # noqa: F811 - the fixture imported above
    airflow_home: dict[str, str],
    sample_dir: Path,
    tmp_path: Path,
) -> None:
    env = {
        **airflow_home,
        **built.env,
        "ELT_DATA_DIR": str(with_changed_quantities(sample_dir, tmp_path / "data")),
        "ELT_REPORTS_DIR": str(tmp_path / "reports"),
        "ELT_LOCK_TIMEOUT": "60",
        "ELT_DBT_PROJECT_DIR": str(project_with_failing_test(tmp_path / "project")),
        "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"),
        "ELT_NOTIFY_URLS": alert_receivers.urls,  # the run's alert: an e-mail and a webhook (docs/alerts.md)
    }
    # The DAG renders the planted project's manifest; parse it first, so that parsing the DAG stays quick.
    parse = "from orchestration.dbt import ensure_manifest; from core.warehouse import Warehouse;"
    parse += " ensure_manifest(Warehouse.from_env())"
    subprocess.run([sys.executable, "-c", parse], env={**os.environ, **env}, check=True, capture_output=True)
    before = content(built.warehouse)
    units = "select sum(quantity) as n from {}.fct_sales"

    done, states = airflow_dags_test(env)
    assert done.returncode != 0 and "DagRun failed" in done.stderr + done.stdout, (done.stdout + done.stderr)[-6000:]

    # The producer's `dbt build`, which ran the planted test, fails; every model's task passes (each was built).
    failed = {t for t, state in states.items() if state == "failed"}
    assert failed == {"dbt.dbt_producer_watcher"}, (done.stdout + done.stderr)[-6000:]
    assert {states[t] for t in ("publish", "export", "docs", "finish")} == {"upstream_failed"}
    assert all(states[t] == "success" for t in ("start", "validate", "prepare", "dbt.fct_sales_run"))
    assert states["dbt.anomaly_detection_run"] == "success"

    # Nothing published: readers see the last good build; the failed one, with the new data, is in marts__build.
    assert content(built.warehouse) == before
    assert f"marts{BUILD_SUFFIX}" in build_schemas(built.warehouse)
    built_units = rows(built.warehouse, units.format(f"marts{BUILD_SUFFIX}"))[0]["n"]
    assert built_units != rows(built.warehouse, units.format("marts"))[0]["n"]
    *_, run = rows(built.warehouse, "select * from audit.runs order by started_at")
    assert (run["trigger"], run["status"], run["tests_failed"]) == ("airflow", "failed", 1)
    assert PLANTED_TEST in run["error"] and run["finished_at"] is not None
    assert not Path(env["ELT_REPORTS_DIR"]).exists()  # nothing exported from a failed build
    # The run's log (GET /runs/{id}/log) has dbt's failure line and the failed task's.
    logged = rows(
        built.warehouse, f"select level, message from audit.run_logs where run_id = '{run['run_id']}' order by line_no"
    )
    errors = [r["message"] for r in logged if r["level"] == "error"]
    assert f"Failure in test {PLANTED_TEST} (tests/{PLANTED_TEST}.sql)" in errors
    assert any(m.startswith("elt: task dbt.dbt_producer_watcher failed: ") for m in errors)

    # One alert for the run, from the failure that made it `failed`, naming the failing test.
    (mail,), (hook,) = alert_receivers.received()
    title = f"[elt] run {run['run_id']} failed: airflow dag on {built.warehouse.target}"
    assert (mail["Subject"], hook["title"], hook["type"]) == (title, title, "failure")
    body = mail_text(mail)
    assert body == hook["message"] and f"run id:   {run['run_id']}" in body.splitlines()
    lines = body.splitlines()
    failing = lines[lines.index("failing dbt nodes (1):") + 1]
    assert failing.startswith(f"  - {PLANTED_TEST}: ")
    assert f"\nerror:\n{run['error']}\n" in body and f"GET /runs/{run['run_id']}/log" in body
