"""Read-only warehouse access for requests.

DuckDB admits one writing process and no reader meanwhile, and opening the file costs tens of ms. So
the API keeps the file open read-only (one cursor per request) while it holds the warehouse's reader
lock, and lets go of both as soon as a load or build announces itself and the requests in flight end,
or after a moment of idleness (so `dbt build` run by hand finds the file free). From the announcement
until the writer is done, requests get WarehouseBusy (503 with Retry-After); the next request after it
opens the file again and sees its result.

Postgres: a pool of read-only sessions with a statement timeout (SQLAlchemy's QueuePool over psycopg2),
which keeps the sessions it opened: a request reuses one instead of connecting anew. Each is checked
with a ping when handed out, so a session the server ended (a restart) is replaced, never handed out;
one lost while in use is discarded and its request gets WarehouseError (503). Route handlers take their
connection through `api.deps.get_connection`, which lets at most `pool_size` requests hold one and makes
the others wait in the event loop, not in a worker thread (threads blocked waiting for a connection would
starve the handlers that hold one). Other callers (health, a run's status) draw on the pool's other
`pool_size` connections and get WarehouseBusy when none is free.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg2
import sqlalchemy.exc
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.pool import QueuePool

from core.errors import CONNECTION_LOST, WarehouseBusy, WarehouseError, first_line
from core.warehouse import Connection, ReaderLock, Warehouse


class WarehouseReader:
    """Hands out read-only connections to the warehouse, one per request."""

    RECYCLE_SECONDS = 3600  # a Postgres session older than this is closed and replaced when next handed out

    def __init__(self, warehouse: Warehouse, pool_size: int = 8, statement_timeout_ms: int = 15_000):
        self.warehouse = warehouse
        self.pool_size = pool_size
        self.statement_timeout_ms = statement_timeout_ms
        self._pool: QueuePool | None = None
        self._pool_lock = threading.Lock()
        self._duckdb = DuckDBReadHandle(warehouse)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read-only connection for the block (raises WarehouseBusy / WarehouseError when none can be had)."""
        if self.warehouse.target == "duckdb":
            with self._duckdb.cursor() as conn:
                yield conn
            return
        pool = self._postgres_pool()
        try:
            pooled = pool.connect()  # pings a kept session first; a dead one is replaced by a new one
        except sqlalchemy.exc.TimeoutError:
            raise WarehouseBusy(f"all {pool.size()} connections to {self.warehouse.describe()} are busy") from None
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to {self.warehouse.describe()}: {str(exc).strip()}") from None
        raw = pooled.dbapi_connection
        try:
            yield Connection("postgres", raw)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if raw.closed:  # the session is gone (the server restarted or ended it)
                raise WarehouseError(f"{CONNECTION_LOST}: {first_line(exc)}") from None
            raise  # e.g. a statement timeout: the session is sound
        finally:
            if raw.closed:
                pooled.invalidate()  # closed, and never handed out again
            pooled.close()  # back to the pool (an invalidated one is replaced when next needed)

    def _postgres_pool(self) -> QueuePool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = QueuePool(
                    self._connect_postgres,
                    pool_size=2 * self.pool_size,  # pool_size for route handlers (see api.deps), as many for the rest
                    max_overflow=0,
                    timeout=0,  # none free: WarehouseBusy at once (a worker thread never blocks waiting)
                    use_lifo=True,  # the most recently used session first: light load keeps few sessions busy
                    recycle=self.RECYCLE_SECONDS,
                    pre_ping=True,
                    dialect=PGDialect_psycopg2(dbapi=psycopg2),  # the ping, and what counts as a lost session
                    reset_on_return=None,  # autocommit: no transaction to end
                )
            return self._pool

    def _connect_postgres(self) -> Any:
        """A new read-only psycopg2 session in autocommit mode that speaks UTF-8 (raises psycopg2.Error)."""
        options = f"-c default_transaction_read_only=on -c statement_timeout={self.statement_timeout_ms}"
        conn = psycopg2.connect(
            **self.warehouse.postgres.connect_kwargs(), application_name="elt-api", options=options, connect_timeout=5
        )
        conn.set_client_encoding("UTF8")
        conn.autocommit = True
        return conn

    def close(self) -> None:
        """Close the pooled connections (at shutdown)."""
        self._duckdb.close()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.dispose()
                self._pool = None


class DuckDBReadHandle:
    """The DuckDB file kept open read-only between requests, given up whenever a writer wants it.

    Once a writer has announced itself, no new cursor is handed out (WarehouseBusy): the requests in flight
    finish, and the last of them closes the file and drops the reader lock, or the watcher does within
    `poll_seconds` if none is in flight. So the writer waits at most for the requests already running, and
    no client can stretch those: a route holds its cursor while it computes its answer, never while the
    client reads it (see api.routes.reports.report_csv).
    """

    def __init__(self, warehouse: Warehouse, idle_seconds: float = 2.0, poll_seconds: float = 0.05):
        self.warehouse = warehouse
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self._cond = threading.Condition()
        self._db: Any = None
        self._lock: ReaderLock | None = None
        self._active = 0
        self._opened = 0  # times the file was opened: each opening is one unchanging snapshot
        self._last_used = 0.0
        self._watcher: threading.Thread | None = None
        self._stopped = threading.Event()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Connection]:
        """A cursor on the open file (opened first if needed).

        Raises WarehouseBusy, without waiting, while a writer works or has asked for the file.
        """
        with self._cond:
            if self._lock is not None and self._lock.writer_waiting():
                self._release_if_idle()
                raise WarehouseBusy(
                    f"a load or build is about to start writing to {self.warehouse.describe()}; try again shortly"
                )
            if self._db is None:
                self._open()
            self._active += 1
            db, snapshot = self._db, self._opened
        try:
            cur = db.cursor()
            try:
                yield Connection("duckdb", cur, snapshot=snapshot)
            finally:
                cur.close()
        finally:
            with self._cond:
                self._active -= 1
                self._last_used = time.monotonic()
                if not self._active and self._lock is not None and self._lock.writer_waiting():
                    self._release_if_idle()  # the last request in flight hands the file to the writer
                self._cond.notify_all()

    def _open(self) -> None:
        lock = ReaderLock(self.warehouse)
        lock.acquire()  # raises WarehouseBusy while a writer holds or awaits the file
        try:
            self._db = self.warehouse.connect(read_only=True).raw
            self._opened += 1  # a new snapshot: the file may have changed while it was closed
        except WarehouseError as exc:
            lock.release()
            if "lock" in str(exc).lower():  # a writer outside our lock (e.g. `dbt build` by hand) has the file
                raise WarehouseBusy(f"another process is writing to {self.warehouse.describe()}") from None
            raise
        self._lock = lock
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="duckdb-read-handle", daemon=True)
            self._watcher.start()

    def _release_if_idle(self) -> None:
        """Close the file and drop the reader lock unless a request is in flight (caller holds _cond)."""
        if self._active:
            return
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _watch(self) -> None:
        """Every `poll_seconds`: give the file up once no request is in flight and it idled or a writer waits."""
        while not self._stopped.wait(self.poll_seconds):
            with self._cond:
                if self._lock is None or self._active:
                    continue
                if time.monotonic() - self._last_used > self.idle_seconds or self._lock.writer_waiting():
                    self._release_if_idle()

    def close(self) -> None:
        """Wait for the requests in flight, close the file and stop watching (at shutdown)."""
        self._stopped.set()
        with self._cond:
            while self._active:
                self._cond.wait()
            self._release_if_idle()


def fetch_dicts(conn: Connection, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of one statement (`?` placeholders, see Connection.bind) as dicts: column name -> value.

    Raises the driver's error when the statement fails.
    """
    columns, rows = conn.fetch(statement, params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def stream_rows(conn: Connection, statement: str, params: Sequence[Any] = (), batch: int = 5000) -> Iterator[list]:
    """The rows of one query (`?` placeholders) in lists of up to `batch` tuples, without holding them all in
    memory (Postgres: a server-side cursor). Raises the driver's error when the query fails."""
    statement, bound = conn.bind(statement, params)
    if conn.target == "duckdb":
        result = conn.raw.execute(statement, bound)
        while rows := result.fetchmany(batch):
            yield rows
        return
    # A named cursor is server-side; WITH HOLD lets it live outside a transaction (autocommit connections).
    with conn.raw.cursor(name=f"stream_{secrets.token_hex(6)}", withhold=True) as cur:
        cur.itersize = batch
        cur.execute(statement, bound)
        while rows := cur.fetchmany(batch):
            yield rows


def where_equal(**columns: Any) -> tuple[str, list[Any]]:
    """` where a = ? and b = ?` for the columns given a value (None: not filtered), and the values in order.

    Column names come from the caller's code, never from the client; the values are bound parameters.
    """
    given = {column: value for column, value in columns.items() if value is not None}
    if not given:
        return "", []
    return " where " + " and ".join(f"{column} = ?" for column in given), list(given.values())
