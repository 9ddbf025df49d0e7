"""What the Airflow DAG's tasks do: thin wrappers over the pipeline steps of orchestration/pipeline.py.

Every task works on the run the first task recorded in audit.runs; its id is derived from the Airflow
run, so each task (and the failure callback) finds it without XCom. The dbt nodes run as Cosmos tasks;
`record_node_results` is their callback and turns each task's run_results.json into audit.node_results
rows of the run, as `elt build` does for its one build. Write-audit-publish as in `elt build`: `prepare`
readies the build schemas, the dbt tasks build and test there, and `publish` swaps them in only if no node
failed (docs/publishing.md).

The run's log (audit.run_logs, orchestration/run_log.py) is stored in parts, each task adding its own: the
step tasks their steps' lines and those of the dbt commands they run (`docs`, the freshness check of
`publish`), as each step and task ends (`_logged`); the dbt tasks the lines of their dbt invocations, which
Cosmos hands to `dbt_event` (its dbtRunner callback), stored with their node results.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from airflow.sdk import BaseNotifier

from core.audit import new_id, utc_now
from core.errors import one_line
from core.settings import Settings
from core.warehouse import Warehouse
from orchestration import pipeline, run_log
from orchestration.notify import notify_run
from orchestration.run_audit import RunRecord, record_build, update_run

log = logging.getLogger(__name__)
TRIGGER = "airflow"
COMMAND = "dag"
PRODUCER_TASK_SUFFIX = ".dbt_producer_watcher"  # Cosmos' task id of the WATCHER mode's `dbt build`
COSMOS_TARGET_DIR = "target"  # dbt's target path inside Cosmos' temporary copy of the project
RUN_FAILED_HERE = "elt_run_failed_here"  # context key: did this task's failure make the run failed (RunAlert)
T = TypeVar("T")
# The log lines of this process's dbt task (Cosmos runs one dbt task per process), until they are stored.
_DBT_LINES = run_log.RunLog()


def data_dir() -> Path:
    """Where the DAG reads the five CSVs (generated there first if missing), as an absolute path."""
    return Settings.from_env().data_dir.resolve()


def reports_dir() -> Path:
    """Where the DAG writes the report CSVs: $ELT_REPORTS_DIR or data/reports."""
    return Settings.from_env().reports_dir.resolve()


def run_id_of(context: Any) -> str:
    """The audit.runs id of the Airflow run in `context`, the same in every task: the DAG run's conf
    `run_id` when it has one (the id `POST /runs {"via": "airflow"}` answered with; letters, digits and
    `. _ : -`, at most 80, as `elt build --run-id` takes them: ValueError otherwise), else one derived from
    the Airflow run, time-sortable like `elt` run ids."""
    import re

    dag_run = context["dag_run"]
    chosen = (dag_run.conf or {}).get("run_id")
    if chosen is not None:
        if not (isinstance(chosen, str) and re.fullmatch(r"[A-Za-z0-9._:-]{1,80}", chosen)):
            raise ValueError(f"conf run_id {chosen!r}: letters, digits and . _ : - only (at most 80)")
        return chosen
    when = dag_run.run_after or dag_run.logical_date or datetime.now(UTC)
    digest = hashlib.sha256(f"{dag_run.dag_id}/{dag_run.run_id}".encode()).hexdigest()[:6]
    return f"{when.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}-{digest}"


def _logged(task: Callable[..., T]) -> Callable[..., T]:
    """A step task whose lines of the run's log (its steps', its dbt commands') are stored in audit.run_logs
    as it ends, passed or failed (best effort: a warning if the warehouse cannot take them). A task's failure
    is logged by `on_task_failure`, for every kind of task."""

    @functools.wraps(task)
    def logged(context: Any, *args: Any, **kwargs: Any) -> T:
        with run_log.capturing(run_log.RunLog()):
            try:
                return task(context, *args, **kwargs)
            finally:
                run_log.flush(Warehouse.from_env(), run_id_of(context))

    return logged


@_logged
def start(context: Any) -> str:
    """First task: record the run as `running` and generate sample data if the data folder is empty.

    The run's load id is chosen here, so the five load tasks share it and the `data_docs` task finds it even
    when the first load was refused."""
    result = pipeline.begin_run(Warehouse.from_env(), run_id_of(context), TRIGGER, COMMAND)
    result.run.load_id = new_id()
    pipeline.generate_step(result, data_dir())
    return result.run.run_id


@_logged
def load_source(context: Any, source: str) -> int:
    """One load task per source file: that file into raw, atomically, under the run's load id."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    before = result.run.rows_loaded or 0
    pipeline.load_step(result, data_dir(), sources=[source])
    return result.run.rows_loaded - before


@_logged
def data_docs(context: Any) -> str:
    """After the load tasks, whether they passed or not: the Data Docs of the run's load (a refused file's
    page too). Never fails: pages that cannot be written are logged as a warning and the run goes on."""
    try:
        result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
        pipeline.data_docs_step(result)
    except Exception as exc:  # the warehouse itself: the tasks after this one meet it and report it
        log.warning("data docs step: %s", exc)
        return f"failed: {exc}"
    note = result.notes["data_docs"]
    if note.startswith("not written"):
        log.warning("data docs %s", note)
    return note


@_logged
def validate(context: Any) -> str:
    """Raw must hold this run's five loads before dbt runs; returns when it finished (the build step starts
    then: preparing the build schemas, the dbt task group and publishing)."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.validate_step(result)
    return datetime.now(UTC).isoformat()


@_logged
def prepare(context: Any) -> str:
    """Before the dbt task group: leftover build schemas dropped, published incremental models copied in."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.prepare_build_step(result)
    return result.notes["build"]


@_logged
def publish(context: Any, build_started: str) -> str:
    """After the dbt task group: publish its build if no node failed; its wall time (from validate's end,
    so preparing and publishing included) as the build step."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.publish_step(result)
    elapsed = datetime.now(UTC) - datetime.fromisoformat(build_started)
    result.run.seconds_per_step["build"] = round(elapsed.total_seconds(), 3)
    update_run(result.warehouse, result.run)
    return result.notes["build"]


@_logged
def export(context: Any) -> dict[str, int]:
    """The report CSVs (of the build just published)."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.export_step(result, reports_dir())
    return result.report_rows


@_logged
def docs(context: Any) -> str:
    """dbt docs generate (static, offline) for the docs site and the API."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.docs_step(result)
    return str(result.docs_index)


@_logged
def finish(context: Any) -> dict[str, int]:
    """Last task: close the run as `success` (node counts from audit.node_results); returns rows per mart.
    Its on_success_callback (`RunAlert("success")`) then sends the good run's alert if ELT_NOTIFY_ON=always."""
    result = pipeline.resume_run(Warehouse.from_env(), run_id_of(context))
    pipeline.finish_run(result)
    return result.mart_rows


def dbt_event(event: Any) -> None:
    """Cosmos' dbtRunner callback (operator argument `dbt_runner_callbacks`): every event of a dbt task's dbt
    invocation; its log lines are kept until `record_node_results` stores them."""
    _DBT_LINES.dbt_event(event)


def record_node_results(project_dir: str, context: Any = None, **_: Any) -> None:
    """Cosmos callback after each dbt invocation (pass or fail): its log lines into audit.run_logs, its
    run_results.json into audit.node_results, and its nodes' OpenLineage events (orchestration/lineage.py,
    naming the published relations; they never fail the task: a warning, also in the run's log, instead)."""
    from orchestration.lineage import emit_dbt_nodes

    warehouse = Warehouse.from_env()
    _store_dbt_lines(warehouse, context)
    target_dir = Path(project_dir) / COSMOS_TARGET_DIR
    if not (target_dir / "run_results.json").is_file():
        log.warning("no run_results.json in %s: nothing to record", target_dir)
        return
    record_build(warehouse, run_id_of(context), target_dir)
    with run_log.capturing(_DBT_LINES):
        emit_dbt_nodes(warehouse, run_id_of(context), target_dir)
    _store_dbt_lines(warehouse, context)


def _store_dbt_lines(warehouse: Warehouse, context: Any) -> None:
    """The dbt task's log lines not stored yet, into the run's log (best effort)."""
    with run_log.capturing(_DBT_LINES):
        run_log.flush(warehouse, run_id_of(context))


def on_task_failure(context: Any) -> None:
    """Failure callback of every task: the run becomes `failed` in audit.runs, naming the task and its error,
    and the run's log gets that line (after a dbt task's own lines, if dbt failed before Cosmos called
    `record_node_results`).

    Leaves its verdict in the context for `RunAlert`, the callback after it: `context[RUN_FAILED_HERE]` is
    True when this failure made the run `failed` (the first one), False when the run was failed already; it is
    not set when the failure could not be recorded (the run was never recorded, or the warehouse failed:
    this callback then raises)."""
    message = _failure_message(context)
    warehouse = Warehouse.from_env()
    _store_dbt_lines(warehouse, context)
    with run_log.capturing(run_log.RunLog()):
        run_log.note(one_line(message), "error")
        run_log.flush(warehouse, run_id_of(context))
    try:
        context[RUN_FAILED_HERE] = pipeline.fail_run(warehouse, run_id_of(context), message[:2000])
    except LookupError:  # the run was never recorded (the first task failed before it could)
        log.error("run %s is not in audit.runs; not recorded: %s", run_id_of(context), message)


def _failure_message(context: Any) -> str:
    """`task <task id> failed: <its error>`, as the run records it."""
    task_id = context["task_instance"].task_id
    error = context.get("exception")
    return f"task {task_id} failed: {str(error).strip() or type(error).__name__}" if error else f"task {task_id}"


class RunAlert(BaseNotifier):
    """Airflow notifier of the DAG run's alert (orchestration/notify.py: one message to every URL of
    ELT_NOTIFY_URLS, e-mail, webhook, ...), so that one DAG run sends one alert however many tasks fail.

    `RunAlert("failure")`: in every task's on_failure_callback, after `on_task_failure`; sends the alert of the
    failed run from the one task whose failure made the run `failed` (`context[RUN_FAILED_HERE]` True) and
    from no other. When the failure could not be recorded (the warehouse failed, or the run was never
    recorded: no verdict in the context), it alerts all the same, with what the task knows.
    `RunAlert("success")`: the `finish` task's on_success_callback; sends the good run's alert, which
    `notify_run` sends only with ELT_NOTIFY_ON=always.

    Never raises: an alert that cannot be sent is a warning in the task's log and a line of the run's log.
    """

    def __init__(self, outcome: Literal["failure", "success"]):
        super().__init__()
        self.outcome = outcome

    def notify(self, context: Any) -> None:
        """Send the alert of the run of `context`, if this task is the one to send it."""
        if self.outcome == "failure" and context.get(RUN_FAILED_HERE) is False:
            return  # an earlier failure of this run made it failed and sent its alert
        warehouse = Warehouse.from_env()
        run_id = run_id_of(context)
        try:
            run = pipeline.resume_run(warehouse, run_id).run
        except Exception as exc:
            if self.outcome == "success":
                log.warning("run %s not read, no alert sent: %s", run_id, one_line(str(exc)))
                return
            run = self._unrecorded_failure(context, run_id, warehouse)
        if self.outcome == "failure" and run.status != "failed":  # on_task_failure could not record it
            run.status, run.error = "failed", _failure_message(context)
        with run_log.capturing(run_log.RunLog()):
            notify_run(warehouse, run)
            run_log.flush(warehouse, run_id)

    @staticmethod
    def _unrecorded_failure(context: Any, run_id: str, warehouse: Warehouse) -> RunRecord:
        """The failed run as the task knows it, when audit.runs cannot tell (unreachable, or no such run)."""
        started = context["dag_run"].start_date or utc_now()
        run = RunRecord(TRIGGER, COMMAND, warehouse.target, run_id, started, status="failed")
        run.error = _failure_message(context)
        return run


def producer_writes_only_read_events(group: Any) -> None:
    """WATCHER mode: the producer writes a node's dbt event to XCom once, when the node has finished, and only
    for a node that has a task of its own in `group` (the DbtTaskGroup) to read it.

    Cosmos' producer writes an XCom for every NodeStart, NodeCompiling, NodeExecuting and NodeFinished event
    of every node, all four under the node's one key, from dbt's own threads and one at a time (each write is
    a request to Airflow's API: ~25 ms under `airflow dags test`, and dbt's threads wait for it). A node's
    task reads that key once, after the node has finished, so only the NodeFinished value is ever read; and a
    data test's key is read only by a test of several models, which has a task of its own (a model's tests
    report through one aggregated status, which is still written). The other writes (~1,100 of the ~1,400 of
    this project's build) held dbt's threads for nothing. Error events are still written for nodes that have
    a task. Figures: docs/airflow.md#the-producers-xcom-writes.

    Cosmos (1.15) has no option for this: it keeps the event list in a module constant and writes through a
    module function, both replaced here. tests/orchestration/test_airflow_events.py drives Cosmos' own log
    parser through them, so an upgrade that moves either fails that test rather than silently writing every
    event again. Idempotent.
    """
    from cosmos.operators._watcher import base

    watched = frozenset(getattr(task, "model_unique_id", None) for task in _tasks_of(group)) - {None}
    write = getattr(base._process_dbt_log_event, "__wrapped__", base._process_dbt_log_event)

    @functools.wraps(write)
    def write_if_read(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        node = (dbt_log.get("data") or {}).get("node_info") or {}
        if node.get("unique_id") in watched:
            write(task_instance, dbt_log)

    base._DBT_EVENT_ALLOWLIST = base._DBT_ERROR_EVENTS_TYPES | {"NodeFinished"}
    base._process_dbt_log_event = write_if_read


def producer_of(group: Any) -> Any | None:
    """WATCHER mode: the task of `group` (a DbtTaskGroup) that runs the whole `dbt build`; None in LOCAL mode."""
    return next((t for t in _tasks_of(group) if t.task_id.endswith(PRODUCER_TASK_SUFFIX)), None)


def producer_runs_the_tests(group: Any) -> None:
    """WATCHER mode with no test tasks (`TestBehavior.NONE`): the producer's `dbt build` runs the tests too.

    For NONE (and AFTER_ALL) Cosmos (1.15) limits the producer's build to models, seeds and snapshots
    (`--resource-type` flags in its `dbt_cmd_flags`): it takes NONE to mean no tests at all. Here the tests
    run in that build, in dbt's order, as in `elt build`, and a failing one fails the producer, which
    `publish` waits for; so those flags are removed. tests/orchestration/test_airflow_dag_failure.py fails if
    the tests stop running there. No-op in LOCAL mode (no producer). Idempotent.
    """
    producer = producer_of(group)
    if producer is None:
        return
    flags, kept = list(producer.dbt_cmd_flags or []), []
    while flags:
        flag = flags.pop(0)
        if flag == "--resource-type":
            flags.pop(0)  # its value
        else:
            kept.append(flag)
    producer.dbt_cmd_flags = kept


def consumers_after_producer(group: Any) -> None:
    """WATCHER mode: start the node tasks once the producer's `dbt build` has finished.

    Each node task then reports its own result from the producer's record, in the graph's order, and a
    node task can never hold the only slot (one active task on DuckDB, or the single thread of
    `dag.test()`) while the producer waits for it. They start whether the build passed or failed
    (`all_done`): a failed build still shows which node failed and what dbt skipped after it.
    No-op in LOCAL mode, which has no producer.
    """
    from airflow.sdk import TriggerRule

    tasks = _tasks_of(group)
    producer = producer_of(group)
    if producer is None:
        return
    members = {t.task_id for t in tasks}
    for node_task in tasks:
        if node_task is producer or producer.task_id in node_task.upstream_task_ids:
            continue
        if not node_task.upstream_task_ids & members:  # a root of the dbt graph
            producer >> node_task
            node_task.trigger_rule = TriggerRule.ALL_DONE


def _tasks_of(group: Any) -> list[Any]:
    tasks = []
    for child in group.children.values():
        tasks.extend(_tasks_of(child) if hasattr(child, "children") else [child])
    return tasks
