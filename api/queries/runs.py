"""Pipeline runs as audit.runs, audit.node_results and audit.run_logs record them: pages of runs, one run, a
run's dbt nodes, a run's log."""

from __future__ import annotations

from api.db import fetch_dicts, where_equal
from api.schemas import NodeRunResult, RunDetail, RunSummary
from core.audit import STEPS, format_log_line
from core.warehouse import Connection

SUMMARY_COLUMNS = (
    "run_id, trigger, command, target, status, started_at, finished_at, seconds, rows_loaded, models_built,"
    " models_failed, tests_passed, tests_failed, tests_warned, error"
)
DETAIL_COLUMNS = f"{SUMMARY_COLUMNS}, load_id, {', '.join(f'{step}_seconds' for step in STEPS)}"
NODE_COLUMNS = (
    "unique_id, name, resource_type, attached_model, run_id, invocation_id, status, started_at, completed_at,"
    " execution_seconds, rows_affected, row_count, failures, message"
)


def audit_tables(conn: Connection) -> set[str]:
    """The audit tables that exist (`runs`, `node_results`, `run_logs`, ...): none before the first run."""
    rows = conn.execute("select table_name from information_schema.tables where table_schema = 'audit'")
    return {name for (name,) in rows}


def runs_page(
    conn: Connection, *, status: str | None, trigger: str | None, limit: int, offset: int
) -> tuple[list[RunSummary], int]:
    """One page of the runs with this `status` and `trigger` (None: any), newest first, and how many match
    (none in a warehouse nothing ran on yet)."""
    if "runs" not in audit_tables(conn):
        return [], 0
    where, params = where_equal(status=status, trigger=trigger)
    total = conn.scalar(f"select count(*) from audit.runs{where}", params)
    rows = fetch_dicts(
        conn,
        f"select {SUMMARY_COLUMNS} from audit.runs{where} order by started_at desc, run_id desc limit ? offset ?",
        (*params, limit, offset),
    )
    return [RunSummary(**row) for row in rows], int(total)


def run_detail(conn: Connection, run_id: str) -> RunDetail | None:
    """The run with its seconds per step (the steps that ran), or None when audit.runs has no such run (or
    no audit.runs yet: nothing ran)."""
    if "runs" not in audit_tables(conn):
        return None
    rows = fetch_dicts(conn, f"select {DETAIL_COLUMNS} from audit.runs where run_id = ?", (run_id,))
    if not rows:
        return None
    row = rows[0]
    seconds = {step: row.pop(f"{step}_seconds") for step in STEPS}
    return RunDetail(**row, seconds_per_step={step: s for step, s in seconds.items() if s is not None})


def run_exists(conn: Connection, run_id: str) -> bool:
    """True when audit.runs has the run (False before anything ran)."""
    if "runs" not in audit_tables(conn):
        return False
    return bool(conn.scalar("select count(*) from audit.runs where run_id = ?", (run_id,)))


def node_results_page(
    conn: Connection,
    run_id: str,
    *,
    status: str | None,
    resource_type: str | None,
    limit: int,
    offset: int,
) -> tuple[list[NodeRunResult], int]:
    """One page of the dbt nodes the run executed with this `status` and `resource_type` (None: any), in
    execution order, and how many match."""
    where, params = where_equal(run_id=run_id, status=status, resource_type=resource_type)
    total = conn.scalar(f"select count(*) from audit.node_results{where}", params)
    rows = fetch_dicts(
        conn,
        f"select {NODE_COLUMNS} from audit.node_results{where}"
        " order by started_at nulls last, unique_id limit ? offset ?",
        (*params, limit, offset),
    )
    return [NodeRunResult(**row) for row in rows], int(total)


def run_status(conn: Connection, run_id: str) -> str | None:
    """The run's status in audit.runs (`running`, `success` or `failed`), None when it has no such run."""
    return conn.scalar("select status from audit.runs where run_id = ?", (run_id,))


def run_log(conn: Connection, run_id: str, tail: int | None) -> list[str] | None:
    """The run's log as lines of text (no newline at their end), oldest first: all of them, or the last `tail`
    (a positive number of lines). `2026-11-25 01:22:33.041522 [info ] <message>`: dbt's lines of the run's
    dbt invocations and the run's own `elt: ...` step lines, in the order they were logged (time in UTC).

    [] for a run whose log is empty so far (stored after each step; a warehouse built before audit.run_logs
    existed has none); None when audit.runs has no such run (or no audit.runs yet: nothing ran).
    """
    found = audit_tables(conn)
    if "runs" not in found or not conn.scalar("select count(*) from audit.runs where run_id = ?", (run_id,)):
        return None
    if "run_logs" not in found:
        return []
    query = "select logged_at, level, message from audit.run_logs where run_id = ? order by line_no"
    if tail is None:
        rows = conn.execute(query, (run_id,))
    else:
        rows = conn.execute(f"{query} desc limit ?", (run_id, tail))[::-1]
    return [format_log_line(logged_at, level, message) for logged_at, level, message in rows]
