"""What GET /health and /health/details read: that the warehouse answers, and the run started last."""

from __future__ import annotations

from api.db import fetch_dicts
from api.schemas import LastRun
from core.warehouse import Connection


def ping(conn: Connection) -> None:
    """One trivial statement: returns when the warehouse answers, raises the driver's error when not."""
    conn.execute("select 1")


def last_run(conn: Connection) -> LastRun | None:
    """The run started last in audit.runs; None when there is none, or no audit.runs yet (nothing loaded)."""
    exists = conn.scalar(
        "select count(*) from information_schema.tables where table_schema = 'audit' and table_name = 'runs'"
    )
    if not exists:
        return None
    rows = fetch_dicts(
        conn,
        "select run_id, status, trigger, command, started_at, finished_at from audit.runs"
        " order by started_at desc limit 1",
    )
    return LastRun(**rows[0]) if rows else None
