"""A failing dbt test in the Airflow DAG fails the run, leaves its audit row `failed` with the test's name,
and the tasks after it (export, docs, finish, the models downstream) do not run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestion.warehouse import Warehouse
from tests.dbt.conftest import rows
from tests.orchestration.airflow_support import airflow_dags_test


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_a_failing_dbt_test_fails_the_run_and_stops_downstream(target: str, dag_env: dict[str, str]) -> None:
    with (Path(dag_env["ELT_DATA_DIR"]) / "Customers.csv").open("a", encoding="utf-8") as fh:
        # Born in 2090 with no age given: dim_customers derives a negative age, which its test refuses.
        fh.write("99999901,Female,Future Person,Leeds,WYK,West Yorkshire,LS1,United Kingdom,Europe,1/1/2090,,\n")
    done, states = airflow_dags_test(dag_env)
    assert done.returncode != 0 and "DagRun failed" in done.stderr + done.stdout

    assert states["dbt.dim_customers.test"] == "failed"
    assert {states[t] for t in ("export", "docs", "finish")} == {"upstream_failed"}
    assert all(states[t] == "success" for t in ("start", "validate", "dbt.dim_customers.run"))
    downstream_of_customers = [t for t in states if t.startswith(("dbt.customer_features.", "dbt.customer_summary."))]
    assert downstream_of_customers and {states[t] for t in downstream_of_customers} == {"upstream_failed"}

    warehouse = Warehouse.from_env(environ={**os.environ, **dag_env})
    (run,) = rows(warehouse, "select * from audit.runs")
    assert (run["trigger"], run["status"], run["tests_failed"]) == ("airflow", "failed", 1)
    assert "expression_is_true_dim_customers_age" in run["error"] and run["finished_at"] is not None
    assert not Path(dag_env["ELT_REPORTS_DIR"]).exists()  # nothing exported from a failed build
