"""Read-only warehouse access for requests.

DuckDB admits one writing process and no reader meanwhile, and opening the file costs tens of ms. So
the API keeps the file open read-only (one cursor per request) while it holds the warehouse's reader
lock, and lets go of both as soon as a load or build announces itself, or after a moment of idleness
(so `dbt build` run by hand finds the file free). While a writer works, requests get WarehouseBusy
(503 with Retry-After); the next request after it opens the file again and sees its result.

Postgres: a pool of read-only sessions with a statement timeout. Route handlers take their connection
through `api.deps.get_connection`, which lets at most `pool_size` requests hold one and makes the others
wait in the event loop, not in a worker thread (threads blocked waiting for a connection would starve
the handlers that hold one). Other callers (health, CSV streams) draw on the pool's other `pool_size`
connections and get WarehouseBusy when none is free.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg2
from psycopg2.pool import PoolError, ThreadedConnectionPool

from ingestion.errors import WarehouseBusy, WarehouseError
from ingestion.warehouse import Connection, ReaderLock, Warehouse


class WarehouseReader:
    """Hands out read-only connections to the warehouse, one per request."""

    def __init__(self, warehouse: Warehouse, pool_size: int = 8, statement_timeout_ms: int = 15_000):
        self.warehouse = warehouse
        self.pool_size = pool_size
        self.statement_timeout_ms = statement_timeout_ms
        self._pool: AutocommitPool | None = None
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
            raw = pool.getconn()
        except PoolError:
            raise WarehouseBusy(f"all {pool.maxconn} connections to {self.warehouse.describe()} are busy") from None
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to {self.warehouse.describe()}: {str(exc).strip()}") from None
        broken = False
        try:
            yield Connection("postgres", raw)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            pool.putconn(raw, close=broken or bool(raw.closed))

    def _postgres_pool(self) -> AutocommitPool:
        with self._pool_lock:
            if self._pool is None:
                options = f"-c default_transaction_read_only=on -c statement_timeout={self.statement_timeout_ms}"
                self._pool = AutocommitPool(
                    0,
                    2 * self.pool_size,  # pool_size for route handlers (see api.deps), as many for the rest
                    **self.warehouse.postgres.connect_kwargs(),
                    application_name="elt-api",
                    options=options,
                    connect_timeout=5,
                )
            return self._pool

    def close(self) -> None:
        """Close the pooled connections (at shutdown)."""
        self._duckdb.close()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


class DuckDBReadHandle:
    """The DuckDB file kept open read-only between requests, given up whenever a writer wants it."""

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
        """A cursor on the open file (opened first if needed); raises WarehouseBusy while a writer works."""
        with self._cond:
            if self._lock is not None and self._lock.writer_waiting():
                self._close_when_idle()
            if self._db is None:
                self._open()
            self._active += 1
            db, snapshot = self._db, self._opened
        cur = db.cursor()
        try:
            yield Connection("duckdb", cur, snapshot=snapshot)
        finally:
            cur.close()
            with self._cond:
                self._active -= 1
                self._last_used = time.monotonic()
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

    def _close_when_idle(self) -> None:
        """Wait for the requests in flight, then close the file and drop the reader lock (caller holds _cond)."""
        while self._active:
            self._cond.wait()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _watch(self) -> None:
        while not self._stopped.wait(self.poll_seconds):
            with self._cond:
                if self._lock is None:
                    continue
                idle = not self._active and time.monotonic() - self._last_used > self.idle_seconds
                if idle or self._lock.writer_waiting():
                    self._close_when_idle()

    def close(self) -> None:
        """Close the file and stop watching (at shutdown)."""
        self._stopped.set()
        with self._cond:
            self._close_when_idle()


class AutocommitPool(ThreadedConnectionPool):
    """A psycopg2 pool whose new connections are in autocommit mode and speak UTF-8."""

    def _connect(self, key: Any = None) -> Any:
        conn = super()._connect(key)
        conn.set_client_encoding("UTF8")
        conn.autocommit = True
        return conn


def fetch_dicts(conn: Connection, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of one statement (`?` placeholders) as dicts: column name -> value."""
    columns, rows = conn.fetch(statement, params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def stream_rows(conn: Connection, statement: str, params: Sequence[Any] = (), batch: int = 5000) -> Iterator[list]:
    """The rows of one query in batches, without holding them all in memory (Postgres: a server-side cursor)."""
    if conn.target == "duckdb":
        result = conn.raw.execute(statement, list(params))
        while rows := result.fetchmany(batch):
            yield rows
        return
    # A named cursor is server-side; WITH HOLD lets it live outside a transaction (autocommit connections).
    with conn.raw.cursor(name=f"stream_{secrets.token_hex(6)}", withhold=True) as cur:
        cur.itersize = batch
        cur.execute(statement.replace("?", "%s"), tuple(params) or None)
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
