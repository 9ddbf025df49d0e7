"""DAG `elt_pipeline`: the `elt run` pipeline in Airflow, with the dbt graph rendered by astronomer-cosmos.

    start -> load (one task per source file) -> data_docs -> validate -> prepare -> dbt (Cosmos: one
    `dbt build`, then a task per model reporting it) -> publish -> export -> docs -> finish

`data_docs` publishes the Great Expectations Data Docs of the run's load once the load tasks are done,
whether they passed or not (a refused file's page says why); it never fails, so it never holds up the
build, and `validate` still needs every load task to have passed.

Write-audit-publish (docs/publishing.md): `prepare` drops leftover build schemas and copies the published
incremental models into them; the dbt tasks build and test in the build schemas (`marts__build`, ...);
`publish` swaps them in, in one transaction, only once every dbt task passed. Until then readers (the
reports, the marts, the API) keep the last good build.

Every task calls the same step functions as the `elt` command line (orchestration/pipeline.py, through
orchestration/airflow_tasks.py) and records its progress in audit.runs; a failing task marks the run
`failed` there (on_failure_callback) and its downstream tasks do not run.

Configuration (read when the DAG is parsed):
  ELT_TARGET          duckdb (default) or postgres. On DuckDB one task runs at a time (single writer).
  ELT_COSMOS_MODE     watcher (default: one `dbt build`, tests included, feeds every model's task) or
                      local (one dbt invocation per task, a test task after each model); both measured in
                      docs/airflow.md#watcher-or-local.
  ELT_AIRFLOW_RETRIES retries per task (default 2, exponential back-off from 10 s).
  ELT_AIRFLOW_TASK_TIMEOUT
                      seconds a task may run before Airflow fails it (default 7200: 2 h).
  ELT_NOTIFY_URLS, ELT_NOTIFY_ON
                      the run's alert (docs/alerts.md): sent by the failure callback of the task whose failure
                      made the run failed, or by `finish` with ELT_NOTIFY_ON=always. Read when a task ends.
  ELT_DATA_DIR, ELT_REPORTS_DIR, ELT_DATA_DOCS_DIR, ELT_DBT_PROJECT_DIR, ELT_DUCKDB_PATH, PG*: as for
                      `elt` (core/settings.py).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, TaskGroup, TriggerRule, task
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
    TestBehavior,
)

from core.dbt_project import OFFLINE_ENV, marts, read_manifest, reports
from core.settings import Settings
from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from orchestration import airflow_tasks as steps
from orchestration.dbt import ensure_manifest
from orchestration.publish import build_env

SETTINGS = Settings.from_env()  # read once, when the DAG is parsed
WAREHOUSE = Warehouse.from_settings(SETTINGS)
COSMOS_MODES = {"local": ExecutionMode.LOCAL, "watcher": ExecutionMode.WATCHER}
COSMOS_MODE = COSMOS_MODES[SETTINGS.cosmos_mode]
# Where the dbt tests run. WATCHER: in the producer's `dbt build`, with every model's; they get no tasks of
# their own (a task per test would only read the producer's result: 124 tasks instead of 51, the DAG run
# 1.7x slower, docs/airflow.md#tests-in-the-build). A failing test fails the producer, which `publish` waits
# for. LOCAL: each model's task runs `dbt run`, so its tests get a task after it.
TEST_BEHAVIOR = TestBehavior.NONE if COSMOS_MODE == ExecutionMode.WATCHER else TestBehavior.AFTER_EACH
DATA_DIR = SETTINGS.data_dir.resolve()
DBT_ENV = {key: value for key, value in WAREHOUSE.dbt_env().items() if key != "PGPASSWORD"}


def warehouse_asset(schema: str, table: str) -> Asset:
    """The Airflow asset of a warehouse table, for data-aware DAGs downstream (`schedule=[...]`).

    Assets are named by their URI: a name must not change its URI (Airflow then marks it inactive).
    """
    return Asset(uri=f"x-elt://{WAREHOUSE.target}/{schema}/{table}")


RAW_FILES = {source.name: Asset(uri=f"file://{DATA_DIR / source.file}") for source in SOURCES}
RAW_TABLES = {source.name: warehouse_asset("raw", source.name) for source in SOURCES}
MANIFEST = read_manifest(ensure_manifest(WAREHOUSE))  # its models in models/marts/ and models/reports/
MART_ASSETS = [warehouse_asset("marts", mart) for mart in marts(MANIFEST)]
REPORT_ASSETS = [warehouse_asset("reports", report) for report in reports(MANIFEST)]

default_args = {
    "owner": "elt",
    "retries": SETTINGS.airflow_retries,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(seconds=SETTINGS.airflow_task_timeout),
    # The run becomes `failed`, then its one alert goes out from the task whose failure made it so (docs/alerts.md).
    "on_failure_callback": [steps.on_task_failure, steps.RunAlert("failure")],
}

with DAG(
    dag_id="elt_pipeline",
    description="Retail ELT: load the five CSVs, validate raw, dbt build (Cosmos), export reports, dbt docs",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # DuckDB has one writer process at a time: one task at a time on it.
    max_active_tasks=4 if WAREHOUSE.target == "postgres" else 1,  # DuckDB: one writer; Spark: one process
    default_args=default_args,
    tags=["elt", "dbt", WAREHOUSE.target],
    doc_md=__doc__,
) as dag:

    @task(task_id="start")
    def start(**context) -> str:
        """Record the run in audit.runs; generate sample data if the data folder is empty."""
        return steps.start(context)

    @task(task_id="data_docs", trigger_rule=TriggerRule.ALL_DONE)
    def data_docs(**context) -> str:
        """The Data Docs of the run's load (a refused file's page too); logs a warning rather than failing."""
        return steps.data_docs(context)

    @task(task_id="validate")
    def validate(**context) -> str:
        """Raw holds this run's five loads (present, non-empty, one load id, counts as recorded)."""
        return steps.validate(context)

    @task(task_id="prepare")
    def prepare(**context) -> str:
        """Drop leftover build schemas; copy the published incremental models into the build schemas."""
        return steps.prepare(context)

    @task(task_id="publish")
    def publish(build_started: str, **context) -> str:
        """Publish the build (one transaction) once every dbt task passed; records the build step's seconds."""
        return steps.publish(context, build_started)

    @task(task_id="export", outlets=REPORT_ASSETS)
    def export(**context) -> dict[str, int]:
        """The report CSVs into ELT_REPORTS_DIR."""
        return steps.export(context)

    @task(task_id="docs")
    def docs(**context) -> str:
        """dbt docs generate --static."""
        return steps.docs(context)

    @task(task_id="finish", outlets=MART_ASSETS, on_success_callback=steps.RunAlert("success"))
    def finish(**context) -> dict[str, int]:
        """Close the run in audit.runs as success, with its node counts."""
        return steps.finish(context)

    started = start()
    with TaskGroup(group_id="load", tooltip="one atomic load per source file") as load:
        previous = None
        for source in SOURCES:

            @task(task_id=f"load_{source.name}", inlets=[RAW_FILES[source.name]], outlets=[RAW_TABLES[source.name]])
            def load_source(source_name: str = source.name, **context) -> int:
                """Load one CSV into raw (the warehouse lock serialises loads, so they run in turn)."""
                return steps.load_source(context, source_name)

            current = load_source()
            if previous is not None:
                previous >> current
            previous = current
    documented = data_docs()
    validated = validate()

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=SETTINGS.dbt_project_dir,
            manifest_path=ensure_manifest(WAREHOUSE),
            install_dbt_deps=False,
            # Cosmos runs dbt in a temporary copy of the project and finds dbt's partial-parse file and
            # run_results.json in its target/ folder, so target/ rather than the per-target folder here.
            # No password here: these values are shown in the UI; dbt reads PGPASSWORD from the worker's env.
            # The build schemas' suffix: the dbt tasks build and test in `marts__build`, ... (write-audit-publish).
            env_vars={**OFFLINE_ENV, **DBT_ENV, **build_env(), "DBT_TARGET_PATH": steps.COSMOS_TARGET_DIR},
        ),
        profile_config=ProfileConfig(
            profile_name="retail_elt",
            target_name=WAREHOUSE.target,
            profiles_yml_filepath=SETTINGS.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(execution_mode=COSMOS_MODE, invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TEST_BEHAVIOR,
            # LOCAL: a test of several models (row conservation, singular tests) runs once all of them are built.
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,  # the marts' assets are published by `finish`, once the whole build passed
        ),
        # After each dbt invocation its node results (and its log lines, which dbt_event collects) are recorded.
        operator_args={"callback": steps.record_node_results, "dbt_runner_callbacks": [steps.dbt_event]},
    )
    steps.producer_runs_the_tests(dbt)
    steps.consumers_after_producer(dbt)
    steps.producer_writes_only_read_events(dbt)

    published = publish(validated)
    producer = steps.producer_of(dbt)
    if producer is not None:  # WATCHER: the build's tests ran in the producer; publish only if it passed
        producer >> published
    started >> load >> documented >> validated >> prepare() >> dbt >> published >> export() >> docs() >> finish()
    load >> validated  # validate (and so the build) runs only if every load passed
