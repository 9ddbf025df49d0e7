"""Errors the user can act on. The CLI prints each as one line and exits with its `exit_code`."""

from __future__ import annotations

import errno
import re
from pathlib import Path

# How the drivers say a write found no room: DuckDB and Postgres quote the OS error (ENOSPC, EFBIG for a
# file size limit, EDQUOT); Postgres adds its own "could not extend file".
_NO_ROOM = re.compile(
    r"no space left on device|file too large|disk quota exceeded|could not extend file|out of disk space", re.I
)
_NO_ROOM_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
NO_ROOM = "no room to write: the disk is full or a file size limit was reached"
# How psycopg2 and dbt say the server went away mid-operation (restarted, crashed, shut down, unreachable).
_CONNECTION_LOST = re.compile(
    r"server closed the connection unexpectedly|terminating connection due to|the database system is"
    r" (?:shutting down|starting up|in recovery mode|not yet accepting connections)|connection already closed|"
    r"connection refused|"
    r"could not connect to server|SSL connection has been closed unexpectedly|no connection to the server",
    re.I,
)
CONNECTION_LOST = "lost the connection to the warehouse server (restarted, shut down or unreachable)"


class EltError(Exception):
    """Base of every expected error: printed as `error: <message>`, no traceback."""

    exit_code = 1


class InputError(EltError):
    """Bad input data (a file breaks the contract or cannot be parsed): exit code 2."""

    exit_code = 2

    def __init__(self, file: Path | str, message: str, line: int | None = None, column: int | None = None):
        self.file = str(file)
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{self.message} ({where})"


class ConfigError(EltError):
    """A setting (environment variable or option) has a value that cannot work: exit code 2."""

    exit_code = 2


class WarehouseError(EltError):
    """The warehouse cannot be reached or refused an operation: exit code 1."""


class LockTimeout(WarehouseError):
    """Another load or build holds the warehouse lock for longer than we are willing to wait."""


class WarehouseBusy(WarehouseError):
    """A load or build is writing to a DuckDB warehouse, which admits no reader meanwhile (try again later)."""


class ContractViolation(InputError):
    """A file breaks its data contract (error-level Great Expectations failed): not swapped in, exit code 2."""


def one_line(text: str) -> str:
    """`text` on one line: line breaks (and the indentation after them) become single spaces."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def says_out_of_space(text: str) -> bool:
    """True when an error message says a write failed for want of room: disk full, quota, file size limit."""
    return bool(_NO_ROOM.search(text))


def says_connection_lost(text: str) -> bool:
    """True when an error message says the database server went away (restart, crash, shutdown)."""
    return bool(_CONNECTION_LOST.search(text))


def failure_cause(text: str) -> str | None:
    """NO_ROOM or CONNECTION_LOST when an error message says the warehouse itself failed that way, else None."""
    if says_out_of_space(text):
        return NO_ROOM
    if says_connection_lost(text):
        return CONNECTION_LOST
    return None


def is_out_of_space(exc: BaseException) -> bool:
    """True when `exc` says a write failed for want of room (see says_out_of_space)."""
    return (isinstance(exc, OSError) and exc.errno in _NO_ROOM_ERRNOS) or says_out_of_space(str(exc))


def is_driver_error(exc: BaseException) -> bool:
    """True for an error raised by the DuckDB, psycopg2 or Spark (pyspark, py4j) driver (none is imported to tell)."""
    drivers = {"duckdb", "_duckdb", "psycopg2", "pyspark", "py4j"}
    return any(klass.__module__.split(".")[0] in drivers for klass in type(exc).__mro__)


def describe_failure(exc: BaseException) -> str:
    """One line saying what went wrong in the warehouse, with the driver's own first line in brackets;
    a write that found no room says so first."""
    detail = one_line(first_line(exc))
    cause = NO_ROOM if is_out_of_space(exc) else failure_cause(str(exc))
    return f"{cause} ({detail})" if cause else detail


def as_warehouse_error(exc: BaseException, where: str | None = None) -> WarehouseError | None:
    """A driver error (the warehouse failed mid-operation: disk full, server restarted, ...) as the
    WarehouseError the CLI prints in one line, naming the warehouse `where` if given; None for anything
    else (a bug keeps its traceback)."""
    if isinstance(exc, WarehouseError):
        return exc
    if not is_driver_error(exc) and not (isinstance(exc, OSError) and is_out_of_space(exc)):
        return None
    return WarehouseError(f"warehouse error{f' on {where}' if where else ''}: {describe_failure(exc)}")
