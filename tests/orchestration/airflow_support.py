"""Running the Airflow DAG in tests: its environment, `airflow dags test`, and the DAG a manifest implies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ingestion.contract import SOURCES

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
    """Every task id of the DAG for that manifest and Cosmos mode."""
    dbt = {f"dbt.{m}.run" for m in shape.models} | {f"dbt.{m}.test" for m in shape.tested_models}
    dbt |= {f"dbt.{t}_test" for t in shape.multi_model_tests}
    return PIPELINE_TASKS | dbt | (WATCHER_TASKS if mode == "watcher" else set())


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
