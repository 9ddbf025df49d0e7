"""Run audit: every `elt run` / `elt build` becomes a row in audit.runs, and dbt's run_results.json
becomes one row per node in audit.node_results, on every target, kept across runs. On Spark the updates
and deletes below run as rewrites of the table (core.spark.run), and nothing is one transaction.

The row in audit.runs is written when the run starts (status `running`), updated after each step
(so a report exported mid-run shows how far it got) and closed with `success` or `failed`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.audit import STEPS, ensure_audit_tables, new_id, utc_now
from core.warehouse import Warehouse

TEST_TYPES = ("test", "unit_test")
INSERT_CHUNK = 100  # audit.node_results rows per insert statement


@dataclass
class NodeCounts:
    """What one dbt build did, counted from run_results.json."""

    models_built: int = 0
    models_failed: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    failures: list[str] = field(default_factory=list)  # `<node>: <message>` of each failed node

    def shown_failures(self, most: int = 3) -> str:
        """The first `most` failures joined by `; `, then ` ...` if there were more."""
        return "; ".join(self.failures[:most]) + (" ..." if len(self.failures) > most else "")


@dataclass
class RunRecord:
    """One pipeline run, as audit.runs stores it."""

    trigger: str
    command: str
    target: str
    run_id: str = field(default_factory=new_id)
    started_at: datetime = field(default_factory=utc_now)
    status: str = "running"
    load_id: str | None = None
    rows_loaded: int | None = None
    counts: NodeCounts | None = None
    seconds_per_step: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def start_run(warehouse: Warehouse, run: RunRecord) -> None:
    """Record the run as `running` (replacing an earlier attempt with the same run id, e.g. an Airflow run
    that was cleared and started again, and that attempt's log).

    A CLI run holds the warehouse lock for its whole life, so with the lock held any other `running` CLI
    row is a run whose process died: it is marked `interrupted`. Airflow runs are closed by the DAG's own
    final task or failure callback instead.
    """
    conn = warehouse.connect()
    try:
        ensure_audit_tables(conn)
        with conn.transaction():
            conn.execute(
                "update audit.runs set status = 'interrupted', error = 'the run process ended before it finished'"
                " where status = 'running' and trigger <> 'airflow' and run_id <> ?",
                (run.run_id,),
            )
            conn.execute("delete from audit.runs where run_id = ?", (run.run_id,))
            conn.execute("delete from audit.run_logs where run_id = ?", (run.run_id,))  # its log starts afresh
            conn.execute(
                "insert into audit.runs (run_id, trigger, command, target, started_at, status)"
                " values (?, ?, ?, ?, ?, ?)",
                (run.run_id, run.trigger, run.command, run.target, run.started_at, run.status),
            )
    finally:
        conn.close()


def fetch_run(warehouse: Warehouse, run_id: str) -> RunRecord:
    """The run record of audit.runs as it stands (for a step that runs in another process, e.g. an Airflow task)."""
    conn = warehouse.connect()
    try:
        found = conn.execute(
            "select trigger, command, target, started_at, status, load_id, rows_loaded, models_built, models_failed,"
            f" tests_passed, tests_failed, tests_warned, error, {', '.join(f'{step}_seconds' for step in STEPS)}"
            " from audit.runs where run_id = ?",
            (run_id,),
        )
    finally:
        conn.close()
    if not found:
        raise LookupError(f"no run {run_id} in audit.runs of {warehouse.describe()}")
    trigger, command, target, started_at, status, load_id, rows_loaded, *figures = found[0]
    built, models_failed, passed, tests_failed, warned, error, *seconds = figures
    run = RunRecord(trigger, command, target, run_id, started_at, status, load_id, rows_loaded, error=error)
    if built is not None:
        run.counts = NodeCounts(built, models_failed or 0, passed or 0, tests_failed or 0, warned or 0)
    run.seconds_per_step = {step: value for step, value in zip(STEPS, seconds, strict=True) if value is not None}
    return run


def node_counts(warehouse: Warehouse, run_id: str) -> NodeCounts:
    """Models built/failed and tests passed/failed/warned of a run, counted from audit.node_results.

    For the Airflow DAG, whose dbt nodes run as separate tasks that each record their own results; a node
    tried more than once (an Airflow retry) counts with its last result.
    """
    conn = warehouse.connect()
    try:
        found = conn.execute(
            "select unique_id, resource_type, status, name, message from audit.node_results where run_id = ?"
            " order by completed_at nulls first",
            (run_id,),
        )
    finally:
        conn.close()
    last = {unique_id: row for unique_id, *row in found}
    counts = NodeCounts()
    for kind, status, name, message in last.values():
        _count(counts, kind, status, {"unique_id": name, "message": message}, {"name": name})
    return counts


def update_run(warehouse: Warehouse, run: RunRecord, finished: bool = False) -> None:
    """Write the run's figures so far; with finished=True also its end time, seconds and final status."""
    counts = run.counts or NodeCounts()
    finished_at = utc_now() if finished else None
    values: dict[str, Any] = {
        "status": run.status,
        "load_id": run.load_id,
        "rows_loaded": run.rows_loaded,
        "models_built": counts.models_built if run.counts else None,
        "models_failed": counts.models_failed if run.counts else None,
        "tests_passed": counts.tests_passed if run.counts else None,
        "tests_failed": counts.tests_failed if run.counts else None,
        "tests_warned": counts.tests_warned if run.counts else None,
        "error": run.error,
        **{f"{step}_seconds": run.seconds_per_step.get(step) for step in STEPS},
    }
    if finished:
        values["finished_at"] = finished_at
        values["seconds"] = (finished_at - run.started_at).total_seconds()
    conn = warehouse.connect()
    try:
        assignments = ", ".join(f"{column} = ?" for column in values)
        conn.execute(f"update audit.runs set {assignments} where run_id = ?", (*values.values(), run.run_id))
    finally:
        conn.close()


def record_build(warehouse: Warehouse, run_id: str, target_path: Path) -> NodeCounts:
    """Turn the build's run_results.json into audit.node_results rows; return the counts per kind."""
    results = json.loads((target_path / "run_results.json").read_text())
    manifest = json.loads((target_path / "manifest.json").read_text())
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    invocation_id = results["metadata"]["invocation_id"]
    counts = NodeCounts()
    conn = warehouse.connect()
    try:
        rows = []
        for result in results["results"]:
            node = nodes.get(result["unique_id"], {})
            kind = node.get("resource_type") or result["unique_id"].split(".")[0]
            status = result["status"]
            _count(counts, kind, status, result, node)
            started, completed = _execute_timing(result)
            rows.append(
                (
                    run_id,
                    invocation_id,
                    result["unique_id"],
                    node.get("name") or result["unique_id"].split(".")[-1],
                    kind,
                    _attached_model(node, nodes),
                    status,
                    started,
                    completed,
                    result.get("execution_time"),
                    _rows_affected(result),
                    _row_count(conn, node) if kind == "model" and status == "success" else None,
                    result.get("failures"),
                    result.get("message"),
                )
            )
        with conn.transaction():  # a few rows per insert: on Spark each statement is a job that writes a file
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[start : start + INSERT_CHUNK]
                conn.execute(
                    "insert into audit.node_results (run_id, invocation_id, unique_id, name, resource_type,"
                    " attached_model, status, started_at, completed_at, execution_seconds, rows_affected,"
                    " row_count, failures, message) values "
                    + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk),
                    [value for row in chunk for value in row],
                )
    finally:
        conn.close()
    return counts


def _count(counts: NodeCounts, kind: str, status: str, result: dict, node: dict) -> None:
    if kind == "model":
        if status == "success":
            counts.models_built += 1
        else:
            counts.models_failed += 1
    elif kind in TEST_TYPES:
        if status == "pass":
            counts.tests_passed += 1
        elif status == "warn":
            counts.tests_warned += 1
        elif status in ("fail", "error"):
            counts.tests_failed += 1
    if status in ("fail", "error"):
        counts.failures.append(f"{node.get('name') or result['unique_id']}: {short_message(result.get('message'))}")


# dbt's message of a node that errored starts with a line naming the node again ("Database Error in test
# <name> (<path>)") and ends with "compiled code at <path>"; neither adds to `<name>: <message>`.
_NODE_HEADLINE = re.compile(r"^\w+ Error in \w+ \S+ \([^)]*\)$")


def short_message(message: str | None) -> str:
    """A dbt node's message on one line, without the lines that repeat the node's name or path."""
    lines = [line.strip() for line in (message or "").splitlines()]
    kept = [line for line in lines if line and not line.startswith("compiled code at ")]
    if len(kept) > 1 and _NODE_HEADLINE.match(kept[0]):
        kept = kept[1:]
    return " ".join(kept) or str(message)


def _execute_timing(result: dict) -> tuple[datetime | None, datetime | None]:
    for timing in result.get("timing", []):
        if timing.get("name") == "execute" and timing.get("started_at"):
            return _timestamp(timing["started_at"]), _timestamp(timing.get("completed_at"))
    return None, None


def _timestamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) if text else None


def _rows_affected(result: dict) -> int | None:
    value = (result.get("adapter_response") or {}).get("rows_affected")
    return value if isinstance(value, int) and value >= 0 else None


def _attached_model(node: dict, nodes: dict) -> str | None:
    attached = node.get("attached_node") or (node.get("depends_on", {}).get("nodes") or [None])[0]
    if node.get("resource_type") == "unit_test":
        attached = f"model.{node.get('package_name')}.{node.get('model')}"
    return nodes.get(attached, {}).get("name") if attached else None


def _row_count(conn, node: dict) -> int | None:
    relation = node.get("relation_name")
    return conn.scalar(f"select count(*) from {relation}") if relation else None
