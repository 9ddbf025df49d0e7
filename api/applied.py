"""What the warehouse holds for each dbt node: its executions in audit.node_results, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.db import fetch_dicts
from api.schemas import Applied, NodeExecution
from ingestion.warehouse import Connection

EXECUTION_COLUMNS = (
    "run_id, invocation_id, status, started_at, completed_at, execution_seconds, rows_affected, row_count,"
    " failures, message"
)
SUCCESS = ("success", "pass")

# Each node's executions ranked newest first: by the run's start, then by completion within the run
# (an Airflow retry runs a node twice in one run).
_RANKED = f"""
    select n.unique_id, {", ".join(f"n.{c.strip()}" for c in EXECUTION_COLUMNS.split(","))},
           row_number() over (
               partition by n.unique_id {{partition}}
               order by r.started_at desc, n.completed_at desc nulls last
           ) as newest
    from audit.node_results n
    left join audit.runs r on r.run_id = n.run_id
    {{where}}
"""


def applied_states(conn: Connection, unique_ids: Iterable[str] | None = None) -> dict[str, Applied]:
    """Last attempt and last success of each node (all nodes, or those of `unique_ids`), by unique_id."""
    ids = sorted(set(unique_ids)) if unique_ids is not None else None
    where, params = "", []
    if ids is not None:
        if not ids:
            return {}
        where = f"where n.unique_id in ({', '.join('?' for _ in ids)})"
        params = ids
    success = ", ".join(f"'{s}'" for s in SUCCESS)
    last_attempt = _RANKED.format(partition="", where=where)
    last_success = _RANKED.format(partition=f", case when n.status in ({success}) then 0 else 1 end", where=where)
    attempts = fetch_dicts(conn, f"select * from ({last_attempt}) ranked where newest = 1", params)
    successes = fetch_dicts(
        conn, f"select * from ({last_success}) ranked where newest = 1 and status in ({success})", params
    )
    states: dict[str, Applied] = {}
    for row in attempts:
        states[row["unique_id"]] = Applied(last_attempt=_execution(row), last_success=None)
    for row in successes:
        states.setdefault(row["unique_id"], Applied(last_attempt=None, last_success=None)).last_success = _execution(
            row
        )
    return states


def never_applied() -> Applied:
    """The state of a node no build has run yet."""
    return Applied(last_attempt=None, last_success=None)


def node_history(conn: Connection, unique_id: str, limit: int, offset: int) -> tuple[list[NodeExecution], int]:
    """One node's executions, newest first (a page of them) and how many there are."""
    total = conn.scalar("select count(*) from audit.node_results where unique_id = ?", (unique_id,))
    rows = fetch_dicts(
        conn,
        f"select {', '.join('n.' + c.strip() for c in EXECUTION_COLUMNS.split(','))}"
        " from audit.node_results n left join audit.runs r on r.run_id = n.run_id where n.unique_id = ?"
        " order by r.started_at desc, n.completed_at desc nulls last limit ? offset ?",
        (unique_id, limit, offset),
    )
    return [_execution(row) for row in rows], int(total or 0)


def _execution(row: dict[str, Any]) -> NodeExecution:
    return NodeExecution(**{key: row[key] for key in NodeExecution.model_fields})
