"""Where the warehouse is (DuckDB file, Postgres database or Spark folder), how to connect, and its lock.

Configuration comes from `core.settings.Settings`: ELT_TARGET, ELT_DUCKDB_PATH, ELT_SPARK_DIR,
ELT_SPARK_MEMORY, ELT_LOCK_TIMEOUT and the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import LockTimeout, WarehouseBusy, WarehouseError
from core.settings import TARGETS, Settings, Target

__all__ = ["TARGETS", "Connection", "PostgresParams", "ReaderLock", "Target", "Warehouse"]
# Key of the Postgres advisory lock that serialises loads and builds on one database.
ADVISORY_LOCK_KEY = 0x454C54  # "ELT"
# Postgres databases already known to exist in this process (saves a round trip per connection).
_databases_seen: set[PostgresParams] = set()


@dataclass(frozen=True)
class PostgresParams:
    """libpq connection parameters."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "warehouse"

    def connect_kwargs(self, dbname: str | None = None) -> dict[str, Any]:
        """Keyword arguments for psycopg2.connect."""
        kwargs: dict[str, Any] = dict(host=self.host, port=self.port, user=self.user, dbname=dbname or self.dbname)
        if self.password:
            kwargs["password"] = self.password
        return kwargs


@dataclass(frozen=True)
class Warehouse:
    """One warehouse: the target type and where it lives."""

    target: Target
    duckdb_path: Path
    postgres: PostgresParams
    spark_dir: Path = Path("warehouse/spark")

    settings: Settings = field(default_factory=Settings, compare=False, repr=False)  # what it was made from

    @classmethod
    def from_settings(cls, settings: Settings) -> Warehouse:
        """The warehouse the settings describe."""
        return cls(
            target=settings.target,
            duckdb_path=settings.duckdb_path.resolve(),
            postgres=PostgresParams(
                host=settings.pghost,
                port=settings.pgport,
                user=settings.pguser,
                password=settings.pgpassword,
                dbname=settings.pgdatabase,
            ),
            spark_dir=settings.spark_dir.resolve(),
            settings=settings,
        )

    @classmethod
    def from_env(cls, target: str | None = None, environ: Mapping[str, str] | None = None) -> Warehouse:
        """The warehouse of `Settings.from_env(environ)`; `target` (the CLI's --target) overrides ELT_TARGET.

        Raises ConfigError (exit code 2) for a setting of the wrong kind (an unknown target, PGPORT=x)."""
        return cls.from_settings(Settings.from_env(environ, target=target))

    def describe(self) -> str:
        """Human-readable location, for messages."""
        if self.target == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        if self.target == "spark":
            return f"spark:{self.spark_dir}"
        pg = self.postgres
        return f"postgres://{pg.user}@{pg.host}:{pg.port}/{pg.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """Environment variables that point the project's profiles.yml at this warehouse."""
        pg = self.postgres
        return {
            "ELT_TARGET": self.target,
            "ELT_DUCKDB_PATH": str(self.duckdb_path),
            "ELT_DUCKDB_MEMORY_LIMIT": self.settings.duckdb_memory_limit,
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "PGUSER": pg.user,
            "PGPASSWORD": pg.password,
            "PGDATABASE": pg.dbname,
            "ELT_SPARK_DIR": str(self.spark_dir),
            "ELT_SPARK_MEMORY": self.settings.spark_memory,
        }

    def connect(self, read_only: bool = False) -> Connection:
        """Open a connection in autocommit mode (transactions are explicit: `with conn.transaction()`)."""
        if self.target == "duckdb":
            import duckdb

            if not read_only:
                self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                raw = duckdb.connect(str(self.duckdb_path), read_only=read_only)
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot open {self.describe()}: {exc}") from None
            raw.execute(f"set memory_limit = '{self.settings.duckdb_memory_limit}'")  # a checked setting
            return Connection("duckdb", raw)
        if self.target == "spark":
            from core import spark

            _hold_spark_lock(self, self.settings.lock_timeout, "connect")
            return Connection("spark", spark.session(self.spark_dir, self.settings.spark_memory))
        import psycopg2

        self.ensure_postgres_database()
        try:
            raw = psycopg2.connect(**self.postgres.connect_kwargs(), application_name="elt")
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to {self.describe()}: {str(exc).strip()}") from None
        raw.set_client_encoding("UTF8")
        raw.autocommit = True
        if read_only:
            raw.set_session(readonly=True, autocommit=True)
        return Connection("postgres", raw)

    def ensure_postgres_database(self) -> None:
        """Create the Postgres database if it does not exist yet (created if missing); once per process."""
        import psycopg2
        from psycopg2 import errorcodes, sql

        pg = self.postgres
        if pg in _databases_seen:
            return
        try:
            conn = psycopg2.connect(**pg.connect_kwargs(dbname="postgres"), application_name="elt")
        except psycopg2.Error as exc:
            raise WarehouseError(f"cannot connect to {self.describe()}: {str(exc).strip()}") from None
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", (pg.dbname,))
                if cur.fetchone() is None:
                    try:
                        cur.execute(sql.SQL("create database {}").format(sql.Identifier(pg.dbname)))
                    except psycopg2.Error as exc:
                        if exc.pgcode != errorcodes.DUPLICATE_DATABASE:  # created meanwhile by someone else
                            raise WarehouseError(f"cannot create database {pg.dbname}: {exc}") from None
        finally:
            conn.close()
        _databases_seen.add(pg)

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None, purpose: str = "load") -> Iterator[None]:
        """Hold the warehouse lock: one load or build at a time per warehouse; others wait up to `timeout` s.

        DuckDB: an exclusive flock on `<file>.lock.intent`, then on `<file>.lock` once the readers holding
        it shared (`ReaderLock`) are done; Postgres: a session advisory lock. Both are released by the
        operating system or the server if the process dies. Spark: the flock on `<spark dir>/warehouse.lock`
        that the process takes when it first opens the warehouse and keeps until it exits (its JVM keeps the
        Derby catalog open until then, which no other process may open meanwhile).
        """
        held = _locks_held.__dict__.setdefault("names", set())
        name = self.describe()
        if name in held:  # re-entrant within a thread: `elt run` holds it while load and build take it again
            yield
            return
        wait = self.settings.lock_timeout if timeout is None else timeout
        if self.target == "spark":
            _hold_spark_lock(self, wait, purpose)
            lock = contextlib.nullcontext()
        elif self.target == "duckdb":
            lock = _writer_file_lock(self, wait, purpose)
        else:
            lock = _advisory_lock(self, wait, purpose)
        with lock:
            held.add(name)
            try:
                yield
            finally:
                held.discard(name)

    def writer_active(self) -> bool:
        """True while a load or build holds (or waits for) the warehouse lock; never waits itself.
        Spark: while any process, this one included, has the warehouse open."""
        if self.target == "spark":
            self.spark_dir.mkdir(parents=True, exist_ok=True)
            with (self.spark_dir / "warehouse.lock").open("a+") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(fh, fcntl.LOCK_UN)
            return False
        if self.target == "duckdb":
            probe = ReaderLock(self)
            try:
                probe.acquire()
            except WarehouseBusy:
                return True
            probe.release()
            return False
        conn = self.connect()
        try:
            if conn.scalar("select pg_try_advisory_lock_shared(?)", (ADVISORY_LOCK_KEY,)):
                conn.execute("select pg_advisory_unlock_shared(?)", (ADVISORY_LOCK_KEY,))
                return False
            return True
        finally:
            conn.close()


class ReaderLock:
    """The reader side of a DuckDB warehouse's lock (DuckDB lets one process write and no one read meanwhile).

    Writers (`Warehouse.lock`) first announce themselves with an exclusive flock on `<file>.lock.intent`,
    then wait for the exclusive flock on `<file>.lock`. Readers hold `<file>.lock` shared while they read
    and refuse to start once a writer has announced itself, so a stream of readers never starves a writer.
    """

    def __init__(self, warehouse: Warehouse):
        self.path = Path(f"{warehouse.duckdb_path}.lock")
        self.where = warehouse.describe()
        self._fh: Any = None

    def acquire(self) -> None:
        """Take the lock shared without waiting; raise WarehouseBusy if a writer holds or awaits it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            with Path(f"{self.path}.intent").open("a+") as intent:
                fcntl.flock(intent, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise WarehouseBusy(f"a load or build is writing to {self.where}; try again shortly") from None
        self._fh = fh

    def writer_waiting(self) -> bool:
        """True when a writer has announced itself (a reader holding the lock should let go soon)."""
        with Path(f"{self.path}.intent").open("a+") as intent:
            try:
                fcntl.flock(intent, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
        return False

    def release(self) -> None:
        """Let go of the lock (closing the file releases the flock)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# The warehouses whose lock this thread holds (see Warehouse.lock).
_locks_held = threading.local()


def _wait_message(where: str, purpose: str) -> None:
    print(f"waiting: another run holds the warehouse lock on {where} ({purpose} queued)", file=sys.stderr)


@contextlib.contextmanager
def _file_lock(path: Path, wait: float, where: str, purpose: str, announce: bool = True) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        deadline = time.monotonic() + wait
        announced = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"another run holds the warehouse lock on {where} (waited {wait:g} s)") from None
                if not announced and announce:
                    _wait_message(where, purpose)
                    announced = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# The Spark warehouse locks this process holds until it exits (see Warehouse.lock), by folder.
_spark_locks = contextlib.ExitStack()
_spark_locked: set[Path] = set()
_spark_lock_guard = threading.Lock()


def _hold_spark_lock(warehouse: Warehouse, wait: float, purpose: str) -> None:
    """Take `<spark dir>/warehouse.lock` for the rest of this process, waiting up to `wait` s (LockTimeout)."""
    with _spark_lock_guard:
        if warehouse.spark_dir in _spark_locked:
            return
        path = warehouse.spark_dir / "warehouse.lock"
        _spark_locks.enter_context(_file_lock(path, wait, warehouse.describe(), purpose))
        _spark_locked.add(warehouse.spark_dir)


@contextlib.contextmanager
def _writer_file_lock(warehouse: Warehouse, wait: float, purpose: str) -> Iterator[None]:
    """Announce the writer on `<file>.lock.intent` (new readers back off), then wait for `<file>.lock`."""
    main = Path(f"{warehouse.duckdb_path}.lock")
    started = time.monotonic()
    where = warehouse.describe()
    # The second lock's wait is computed once the first is held: what is left of the same deadline.
    # Readers let go within moments of the announcement, so that wait is not announced.
    with (
        _file_lock(Path(f"{main}.intent"), wait, where, purpose),
        _file_lock(main, max(0.0, wait - (time.monotonic() - started)), where, purpose, announce=False),
    ):
        yield


@contextlib.contextmanager
def _advisory_lock(warehouse: Warehouse, wait: float, purpose: str) -> Iterator[None]:
    conn = warehouse.connect()
    try:
        deadline = time.monotonic() + wait
        announced = False
        while not conn.scalar("select pg_try_advisory_lock(?)", (ADVISORY_LOCK_KEY,)):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"another run holds the warehouse lock on {warehouse.describe()} (waited {wait:g} s)")
            if not announced:
                _wait_message(warehouse.describe(), purpose)
                announced = True
            time.sleep(0.1)
        try:
            yield
        finally:
            # Unlock explicitly: closing alone releases it only once the server has ended the session,
            # which a run started right after this one could otherwise beat.
            with contextlib.suppress(Exception):  # a broken connection must not mask the real error
                conn.execute("select pg_advisory_unlock(?)", (ADVISORY_LOCK_KEY,))
    finally:
        conn.close()  # were the process to die instead, the session's end releases the lock


# Lexemes of Postgres SQL inside which a `?` or `%` is text: string constants (standard, E'' with backslash
# escapes, dollar-quoted), quoted identifiers, line comments. Block comments nest, so `/*` is only spotted
# here (see _comment_end); a bare word is one lexeme so that a `$` inside one (`a$b$`) opens no dollar quote.
# An unterminated string, identifier or comment runs to the end of the statement (the server reports it).
_LEXEME = re.compile(
    r"""
      [Ee]'(?:\\.|''|[^'\\])*(?:'|\Z)
    | '(?:''|[^'])*(?:'|\Z)
    | "(?:""|[^"])*(?:"|\Z)
    | (\$(?:[^\W\d]\w*)?\$).*?(?:\1|\Z)
    | --[^\n]*
    | /\*
    | [^\W\d][\w$]*
    | [^'"$\-/\w?%]+
    | .
    """,
    re.S | re.X,
)
_COMMENT_MARK = re.compile(r"/\*|\*/")


def _comment_end(statement: str, start: int) -> int:
    """Where the block comment opening at `start` ends (comments nest in Postgres), or the end of the text."""
    depth = 0
    for mark in _COMMENT_MARK.finditer(statement, start):
        depth += 1 if mark.group() == "/*" else -1
        if not depth:
            return mark.end()
    return len(statement)


@functools.lru_cache(maxsize=1024)
def format_placeholders(statement: str) -> str:
    """`statement` in psycopg2's parameter style: each `?` outside string constants, quoted identifiers and
    comments becomes `%s`, and every other `%` (wherever it is: psycopg2 scans the whole text) becomes `%%`.

    A `?` outside those is always a parameter, as it is for DuckDB (so Postgres' jsonb `?` operators are
    written as their functions, e.g. jsonb_exists). Never raises: malformed SQL is left for the server.
    """
    parts = []
    pos = 0
    while pos < len(statement):
        end = _LEXEME.match(statement, pos).end()  # type: ignore[union-attr] # `.` matches any character
        if end - pos == 2 and statement.startswith("/*", pos):
            end = _comment_end(statement, pos)
        lexeme = statement[pos:end]
        parts.append("%s" if lexeme == "?" else lexeme.replace("%", "%%"))
        pos = end
    return "".join(parts)


class Connection:
    """A DuckDB, psycopg2 or Spark connection behind one small interface: `?` placeholders on all three.

    DuckDB binds `?` itself. psycopg2 takes `%s` and reads every `%` as the start of one, so for Postgres
    each statement that has parameters is translated by format_placeholders, which tells a placeholder from
    a `?` or `%` inside a literal, a quoted identifier or a comment; a statement without parameters is sent
    as written. Spark (`raw` is the process's SparkSession) binds them as named parameters and runs UPDATE
    and DELETE as rewrites of the table (core.spark.run); it has no transactions.
    """

    def __init__(self, target: Target, raw: Any, snapshot: Any = None):
        self.target = target
        self.raw = raw
        # Names the unchanging state of the data this connection sees, where there is one (None: unknown).
        self.snapshot = snapshot

    def bind(self, statement: str, params: Sequence[Any] = ()) -> tuple[str, Any]:
        """The statement (`?` placeholders) and its parameters as this connection's driver takes them:
        (statement, list) for DuckDB; for psycopg2 (translated statement, tuple), or (statement, None) when
        there are no parameters (psycopg2 then leaves `%` alone)."""
        if self.target == "duckdb":
            return statement, list(params)
        if not params:
            return statement, None
        return format_placeholders(statement), tuple(params)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement; return its rows (empty list when it returns none)."""
        return self.fetch(statement, params)[1]

    def fetch(self, statement: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run one statement; return its column names and rows (both empty when it returns none).

        Raises the driver's error (duckdb.Error, psycopg2.Error) when the statement fails.
        """
        if self.target == "spark":
            from core import spark

            return spark.run(self.raw, statement, params)
        statement, bound = self.bind(statement, params)
        if self.target == "duckdb":
            result = self.raw.execute(statement, bound)
            return [d[0] for d in result.description or []], result.fetchall() if result.description else []
        with self.raw.cursor() as cur:
            cur.execute(statement, bound)
            return [d[0] for d in cur.description or []], cur.fetchall() if cur.description else []

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.execute(statement, params)
        return rows[0][0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN ... COMMIT, or ROLLBACK if the block raises. Spark has no transactions: the block's
        statements take effect one by one (its one process at a time sees no partial state but its own)."""
        if self.target == "spark":
            yield self
            return
        self.execute("begin")
        try:
            yield self
        except BaseException:
            with contextlib.suppress(Exception):
                self.execute("rollback")
            raise
        self.execute("commit")

    def close(self) -> None:
        """Close the connection (never raises). Spark's session stays, for the rest of the process."""
        if self.target == "spark":
            return
        with contextlib.suppress(Exception):
            self.raw.close()
