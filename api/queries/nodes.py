"""dbt nodes' executions as audit.node_results records them: each node's applied state (its last attempt
and its last success) and one node's history.

Newest first means by the run's start, then by completion within the run (an Airflow retry runs a node
twice in one run).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.db import fetch_dicts
from api.schemas import Applied, NodeExecution
from core.warehouse import Connection

EXECUTION_COLUMNS = (
    "run_id, invocation_id, status, started_at, completed_at, execution_seconds, rows_affected, row_count,"
    " failures, message"
)
SUCCESS = ("success", "pass")

_SELECTED = ", ".join(f"n.{column.strip()}" for column in EXECUTION_COLUMNS.split(","))
_EXECUTIONS = "from audit.node_results n left join audit.runs r on r.run_id = n.run_id"
_NEWEST_FIRST = "r.started_at desc, n.completed_at desc nulls last"
# Each node's executions (within {partition}, after the node) ranked newest first: `newest` = 1 is the last.
_RANKED = f"""
    select n.unique_id, {_SELECTED},
           row_number() over (partition by n.unique_id{{partition}} order by {_NEWEST_FIRST}) as newest
    {_EXECUTIONS}
    {{where}}
"""


def applied_states(conn: Connection, unique_ids: Iterable[str] | None = None) -> dict[str, Applied]:
    """Last attempt and last success of each node that ever ran (all nodes, or those of `unique_ids`), by
    unique_id; a node that never ran is absent (see never_applied)."""
    where, params = "", []
    if unique_ids is not None:
        params = sorted(set(unique_ids))
        if not params:
            return {}
        where = f"where n.unique_id in ({', '.join('?' for _ in params)})"
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
        states.setdefault(row["unique_id"], never_applied()).last_success = _execution(row)
    return states


def never_applied() -> Applied:
    """The state of a node no build has run yet."""
    return Applied(last_attempt=None, last_success=None)


def node_history(conn: Connection, unique_id: str, limit: int, offset: int) -> tuple[list[NodeExecution], int]:
    """One node's executions, newest first (a page of them: `limit` from `offset`) and how many there are."""
    total = conn.scalar("select count(*) from audit.node_results where unique_id = ?", (unique_id,))
    rows = fetch_dicts(
        conn,
        f"select {_SELECTED} {_EXECUTIONS} where n.unique_id = ? order by {_NEWEST_FIRST} limit ? offset ?",
        (unique_id, limit, offset),
    )
    return [_execution(row) for row in rows], int(total or 0)


def _execution(row: dict[str, Any]) -> NodeExecution:
    return NodeExecution(**{key: row[key] for key in NodeExecution.model_fields})
