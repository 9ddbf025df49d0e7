"""A run's log: dbt's log lines of every dbt invocation the run makes, and the run's own step lines, kept in
memory while the run goes and stored in audit.run_logs after each step and when the run is closed (success
or failure).

dbt's lines come from dbtRunner's callbacks, which get every event dbt fires (EventMsg), whatever the
console shows (`--quiet` included). Kept are the lines dbt's console prints at its default level: `info`,
`warn` and `error` (`debug`, each statement and connection, stays in dbt's own log file), each with dbt's
time, level and message, colour codes removed, a message of several lines as several lines.

`capturing(log)` makes `log` the current run's log for a block (a context variable): every dbt invocation
made in the block (orchestration.dbt.run_dbt asks `dbt_callbacks()`) and every step (`note`) logs into it.
`store` appends lines to the run's log in the warehouse, numbered on from the last stored line; `flush`
stores what the current log holds. A run flushes its log after each step (so a running run's log shows the
steps done) and when it is closed; the Airflow DAG's tasks, each a process of its own, flush theirs as each
step and task ends, and the dbt tasks' lines with their node results.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.audit import utc_now
from core.errors import one_line
from core.warehouse import Warehouse

KEPT_LEVELS = ("info", "warn", "error")
MAX_LINES = 100_000  # lines kept in memory per run (or per Airflow task): past that the oldest go
INSERT_CHUNK = 500  # rows per insert statement
_COLOUR = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class LogLine:
    """One line of a run's log: when (UTC, naive), its level and its text (no newline)."""

    logged_at: datetime
    level: str
    message: str


class RunLog:
    """The lines one run logged so far, in memory (thread-safe: dbt logs from its worker threads); the
    latest `max_lines` are kept."""

    def __init__(self, max_lines: int = MAX_LINES):
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        self._lock = threading.Lock()

    def add(self, level: str, message: str, logged_at: datetime | None = None) -> None:
        """Log `message` at `level` (each of its lines a line of the log; blank ones dropped)."""
        when = logged_at or utc_now()
        with self._lock:
            for text in _COLOUR.sub("", message).splitlines():
                if text.strip():
                    self._lines.append(LogLine(when, level, text.rstrip()))

    def dbt_event(self, event: Any) -> None:
        """dbtRunner callback: one dbt EventMsg, kept if its level is info, warn or error."""
        info = event.info
        if info.level in KEPT_LEVELS and info.msg:
            self.add(info.level, info.msg, info.ts.ToDatetime())

    def lines(self) -> list[LogLine]:
        """The lines logged so far, in order."""
        with self._lock:
            return list(self._lines)

    def take(self) -> list[LogLine]:
        """The lines logged so far, removing them."""
        with self._lock:
            taken = list(self._lines)
            self._lines.clear()
            return taken


_current: ContextVar[RunLog | None] = ContextVar("elt_run_log", default=None)


@contextlib.contextmanager
def capturing(log: RunLog) -> Iterator[RunLog]:
    """Make `log` the current run's log for the block."""
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


def current() -> RunLog | None:
    """The current run's log, None outside `capturing`."""
    return _current.get()


def dbt_callbacks() -> list[Callable[[Any], None]]:
    """The callbacks a dbtRunner takes to log into the current run's log (none outside a run)."""
    log = current()
    return [log.dbt_event] if log is not None else []


def note(message: str, level: str = "info") -> None:
    """Log one of the run's own lines (`elt: ...`) into the current run's log; nothing outside a run."""
    log = current()
    if log is not None:
        log.add(level, f"elt: {message}")


def store(warehouse: Warehouse, run_id: str, lines: list[LogLine]) -> int:
    """Append `lines` to the run's log in audit.run_logs, numbered on from its last stored line, in one
    transaction; returns how many were stored. On Postgres, where the DAG's tasks may end at the same time,
    a transaction-scoped advisory lock per run makes the appends take turns (DuckDB and Spark have one writer)."""
    if not lines:
        return 0
    conn = warehouse.connect()
    try:
        with conn.transaction():
            if warehouse.target == "postgres":
                conn.execute("select pg_advisory_xact_lock(hashtext(?))", (f"audit.run_logs {run_id}",))
            last = conn.scalar("select max(line_no) from audit.run_logs where run_id = ?", (run_id,)) or 0
            for start in range(0, len(lines), INSERT_CHUNK):
                chunk = lines[start : start + INSERT_CHUNK]
                values = ", ".join("(?, ?, ?, ?, ?)" for _ in chunk)
                params = [
                    value
                    for offset, line in enumerate(chunk, start=last + start + 1)
                    for value in (run_id, offset, line.logged_at, line.level, line.message)
                ]
                conn.execute(
                    f"insert into audit.run_logs (run_id, line_no, logged_at, level, message) values {values}", params
                )
    finally:
        conn.close()
    return len(lines)


def flush(warehouse: Warehouse, run_id: str) -> None:
    """Store the lines of the current run's log not stored yet (nothing outside a run). Best effort: a log
    that cannot be written (the warehouse failing) is a warning on stderr, never the run's failure."""
    log = current()
    if log is None:
        return
    lines = log.take()
    try:
        store(warehouse, run_id, lines)
    except Exception as exc:
        print(
            f"warning: {len(lines)} line(s) of the log of run {run_id} not stored: {one_line(str(exc))}",
            file=sys.stderr,
        )
