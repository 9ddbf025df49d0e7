"""The Airflow DAG `elt_pipeline`: it parses without errors and renders the dbt graph of the manifest (WATCHER:
one task per model, the tests in the producer's build; LOCAL: one task per model, one per model's tests, one
per test of several models), and `airflow dags test` builds the
marts of expected.json on Postgres, recorded in audit like `elt run` (on DuckDB a real scheduler does, in
test_make_airflow.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from orchestration.dbt import ensure_manifest
from tests.orchestration.airflow_support import (
    DAGS_FOLDER,
    PIPELINE_TASKS,
    airflow_dags_test,
    check_dag_run_built,
    dbt_shape,
    expected_task_ids,
)


@pytest.mark.parametrize("mode", ["watcher", "local"])
def test_dag_parses_and_renders_the_dbt_graph_of_the_manifest(
    target: str, mode: str, airflow_home: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "never-shown-in-the-dag"
    for key, value in {**airflow_home, "ELT_TARGET": target, "ELT_COSMOS_MODE": mode, "PGPASSWORD": password}.items():
        monkeypatch.setenv(key, value)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert list(bag.dag_ids) == ["elt_pipeline"]
    dag = bag.get_dag("elt_pipeline")
    shape = dbt_shape(json.loads(ensure_manifest(Warehouse.from_env()).read_text()))
    assert shape.models and shape.tested_models and shape.multi_model_tests
    assert set(dag.task_dict) == expected_task_ids(shape, mode)

    # The pipeline's order: start, the five loads in turn, data_docs, validate, prepare, dbt, publish, export,
    # docs, finish. data_docs runs once the loads are done, passed or not (a refused file gets its page);
    # validate needs the loads to have passed too.
    loads = [f"load.load_{s.name}" for s in SOURCES]
    chain = ["start", *loads, "data_docs"]
    for before, after in zip(chain, chain[1:], strict=False):
        assert dag.task_dict[after].upstream_task_ids == {before}
    assert dag.task_dict["data_docs"].trigger_rule == "all_done"
    assert dag.task_dict["validate"].upstream_task_ids == {loads[-1], "data_docs"}
    assert dag.task_dict["prepare"].upstream_task_ids == {"validate"}
    after_validate = {t for t, task in dag.task_dict.items() if "validate" in task.upstream_task_ids}
    assert after_validate == {"prepare", "publish"}  # publish reads when the build step started
    after_prepare = {t for t, task in dag.task_dict.items() if "prepare" in task.upstream_task_ids}
    staging_runs = {f"dbt.{m}.run" for m in shape.models if m.startswith("stg_")}
    assert after_prepare == ({"dbt.dbt_producer_watcher"} if mode == "watcher" else staging_runs)
    publish_after = dag.task_dict["publish"].upstream_task_ids
    assert {t for t in publish_after if not t.startswith("dbt.")} == {"validate"}
    dbt_leaves = {
        t for t, task in dag.task_dict.items() if t.startswith("dbt.") and not task.downstream_task_ids - {"publish"}
    }
    assert dbt_leaves <= publish_after  # publish waits for all of dbt
    assert dag.task_dict["export"].upstream_task_ids == {"publish"}
    assert dag.task_dict["docs"].upstream_task_ids == {"export"}
    assert dag.task_dict["finish"].upstream_task_ids == {"docs"}
    if mode == "watcher":
        # The producer's `dbt build` runs every test: no test tasks, and publish waits for the producer itself
        # (its model tasks pass when a test fails, since the models were built).
        assert not [t for t in dag.task_dict if t.endswith("test")]
        assert "--resource-type" not in dag.task_dict["dbt.dbt_producer_watcher"].dbt_cmd_flags  # tests included
        assert "dbt.dbt_producer_watcher" in publish_after and "dbt.anomaly_detection_run" in dbt_leaves
    else:
        # A model's tests run after it; a test of several models after all of them.
        assert "dbt.anomaly_detection.test" in dbt_leaves
        assert dag.task_dict["dbt.dim_customers.test"].upstream_task_ids == {"dbt.dim_customers.run"}
        conservation = next(t for t in dag.task_dict if t.startswith("dbt.row_conservation_stg_customers"))
        assert {"dbt.dim_customers.test", "dbt.stg_customers.test"} <= dag.task_dict[conservation].upstream_task_ids

    # The dbt tasks' environment (shown in the UI) carries the warehouse's location but not its password,
    # and the build schemas' suffix: they build and test in `marts__build`, ..., and `publish` swaps them in.
    dbt_envs = [task.env for task in dag.tasks if getattr(task, "env", None)]
    assert dbt_envs and all(env["ELT_TARGET"] == target and password not in env.values() for env in dbt_envs)
    assert {env["ELT_BUILD_SCHEMA_SUFFIX"] for env in dbt_envs} == {"__build"}

    # Schedule, retries, callbacks, concurrency.
    assert dag.schedule == "@daily" or str(dag.timetable.summary) == "@daily"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.max_active_tasks == (1 if target == "duckdb" else 4)
    for task in dag.tasks:
        assert task.on_failure_callback, task.task_id
        if task.task_id in PIPELINE_TASKS:
            assert task.retry_exponential_backoff and task.retry_delay.total_seconds() == 10
    # Assets: each load reads its file and writes its raw table; finish publishes the marts.
    load_sales = dag.task_dict["load.load_sales"]
    data_dir = Path(os.environ.get("ELT_DATA_DIR") or "data/sample").resolve()
    assert [a.uri for a in load_sales.inlets] == [f"file://{data_dir / 'Sales.csv'}"]
    assert [a.uri for a in load_sales.outlets] == [f"x-elt://{target}/raw/sales"]
    assert {a.uri for a in dag.task_dict["finish"].outlets} >= {f"x-elt://{target}/marts/fct_sales"}


@pytest.mark.parametrize("target", ["postgres"], indirect=True)  # DuckDB: test_make_airflow.py, in a real scheduler
def test_dags_test_builds_the_marts_of_expected_json(target: str, dag_env: dict[str, str], expected: dict) -> None:
    done, states = airflow_dags_test(dag_env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    warehouse = Warehouse.from_env(environ={**os.environ, **dag_env})
    shape = dbt_shape(json.loads(ensure_manifest(warehouse).read_text()))
    assert set(states) == expected_task_ids(shape, "watcher")
    assert set(states.values()) == {"success"}
    check_dag_run_built(warehouse, Path(dag_env["ELT_REPORTS_DIR"]), expected)
