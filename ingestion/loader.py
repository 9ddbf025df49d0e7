"""Bulk-load the five raw CSV files, as text, into the `raw` schema.

Postgres: `COPY ... FROM STDIN` streams each file into a new table; DuckDB: its native CSV reader; Spark:
its CSV reader (`spark.read.csv`) into a new parquet table. A file whose lines end in CRLF and LF mixed,
which none reads, reaches them with its line breaks made LF (ingestion/line_endings.py); its hash, size,
line numbers and `_source_row`s stay those of the file. All selected files are loaded and swapped in
inside one transaction, so on any failure `raw` stays exactly as it was. Spark has no transactions: there
every file is staged and checked first, then all are swapped in by renames, and a failure drops what was
staged (a failed swap is undone). Every attempt is recorded in `audit.loads`.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from core.audit import ensure_audit_tables, new_id, utc_now
from core.data_docs import DataDocs
from core.errors import (
    ConfigError,
    ContractViolation,
    EltError,
    InputError,
    WarehouseError,
    describe_failure,
    first_line,
)
from core.warehouse import Connection, Warehouse
from ingestion.contract import (
    LOAD_ID_COLUMN,
    SOURCE_ROW_COLUMN,
    SOURCES,
    SOURCES_BY_NAME,
    Source,
    check_header,
    has_data_row,
)
from ingestion.diagnose import LineLengthCheck, find_defect, lone_cr_error, long_line_error
from ingestion.gx_context import import_gx
from ingestion.line_endings import CRLF, LineEndings, Normaliser, detect, normalised_copy
from ingestion.outcomes import SourceValidation
from ingestion.validation import validate_staged

COPY_CHUNK_BYTES = 1 << 20


@dataclass
class FileLoad:
    """What one file's load did."""

    source: Source
    path: Path
    bytes: int = 0
    rows: int = 0
    sha256: str = ""
    seconds: float = 0.0
    validation: SourceValidation | None = None  # the data contract's outcome on the staged rows
    endings: LineEndings = field(default_factory=LineEndings)  # mixed: the warehouse reads the file normalised
    recorded: bool = False  # its audit.validations rows are written for good (Spark: no rollback undoes them)


@dataclass
class LoadResult:
    """What `load` did: one entry per file, all swapped into `raw` in one transaction."""

    load_id: str
    target: str
    files: list[FileLoad]
    seconds: float

    @property
    def rows(self) -> int:
        """Rows loaded over all files."""
        return sum(f.rows for f in self.files)

    @property
    def validation_seconds(self) -> float:
        """Time spent validating the files against their data contract."""
        return sum(f.validation.seconds for f in self.files if f.validation)

    @property
    def warnings(self) -> int:
        """Warning-level expectations that failed, over all files."""
        return sum(len(f.validation.warnings) for f in self.files if f.validation)


def load(
    warehouse: Warehouse,
    data_dir: Path,
    sources: Sequence[str] | None = None,
    out: TextIO | None = None,
    load_id: str | None = None,
) -> LoadResult:
    """Load the selected sources (default: all five) from `data_dir` into `raw`, atomically.

    Progress lines go to `out` (the CLI passes stdout); what takes long (each file's data contract check) is
    also shown through the status hook of `reporting_status`, if one is set. `load_id` lets several loads
    share one id (the Airflow DAG loads each file in its own task); by default each load gets a new one.
    Raises InputError (bad file: names file, line, column), ConfigError (`no such folder: <data_dir>`, exit
    code 2, before anything is touched) or WarehouseError; `raw` is then exactly as it was. GX keeps each
    file's validation result (a refused file's too) in `DataDocs.of(warehouse).results` for the Data Docs
    step (ingestion.data_docs.publish_data_docs) to render; a folder that cannot be written only warns.
    """
    _require_folder(Path(data_dir))
    files = [FileLoad(source, Path(data_dir) / source.file) for source in _select(sources)]
    load_id = load_id or new_id()
    import_gx()  # the Data Docs folder below is GX's first import
    docs = _results_folder(warehouse, out)
    started = time.perf_counter()
    with warehouse.lock(purpose="load"):
        conn = warehouse.connect()
        try:
            _start_audit(conn, load_id, files)
            try:
                _load_files(conn, load_id, files, out, docs)
            except BaseException as exc:
                error = _explain(exc)
                _record_failure(conn, load_id, files, error)
                with contextlib.suppress(Exception):  # a broken connection must not hide the real error
                    _record_validations(conn, load_id, files)  # why a file was refused stays on record
                if error is exc:
                    raise
                raise error from None
        finally:
            conn.close()
    result = LoadResult(load_id, warehouse.target, files, time.perf_counter() - started)
    if out is not None:
        how = "after all were checked" if warehouse.target == "spark" else "in one transaction"
        print(
            f"swapped {len(files)} file(s), {result.rows:,} rows into raw {how} on {warehouse.describe()}"
            f" in {result.seconds:.2f} s, data contract checked in {result.validation_seconds:.2f} s"
            f" (load_id {load_id})",
            file=out,
        )
    return result


StatusHook = Callable[[str], contextlib.AbstractContextManager[object]]
_status_hook: ContextVar[StatusHook | None] = ContextVar("elt_load_status_hook", default=None)


@contextlib.contextmanager
def reporting_status(hook: StatusHook) -> Iterator[None]:
    """While the block runs, the loader shows what takes long through `hook`: called with one short line
    (`checking the data contract of Sales.csv...`), it returns a context manager that shows the line while
    that part runs (orchestration/progress.py: a spinner on a terminal). Without a hook nothing is shown."""
    token = _status_hook.set(hook)
    try:
        yield
    finally:
        _status_hook.reset(token)


def _status(message: str) -> contextlib.AbstractContextManager[object]:
    """The current status hook showing `message` for a block, or a context manager that shows nothing."""
    hook = _status_hook.get()
    return hook(message) if hook is not None else contextlib.nullcontext()


def _require_folder(data_dir: Path) -> None:
    """ConfigError (exit code 2) unless data_dir is a folder: `no such folder: <path>` / `not a folder: <path>`."""
    if data_dir.is_dir():
        return
    raise ConfigError(f"{'not a folder' if data_dir.exists() else 'no such folder'}: {data_dir}")


def _load_files(
    conn: Connection, load_id: str, files: list[FileLoad], out: TextIO | None, docs: DataDocs | None
) -> None:
    """Contract checks, then every file staged and swapped into raw in one transaction (Spark: see
    _load_files_spark)."""
    for f in files:
        _check_contract(f)
    if conn.target == "spark":
        _load_files_spark(conn, load_id, files, out, docs)
        return
    stage = _stage_postgres if conn.target == "postgres" else _stage_duckdb
    with conn.transaction():
        for f in files:
            t0 = time.perf_counter()
            stage(conn, f, load_id, out)
            f.seconds = time.perf_counter() - t0
            _report(out, f)
            _validate(conn, f, out, load_id, docs)
        _record_validations(conn, load_id, files)
        if conn.target == "postgres":
            for f in files:
                _swap_postgres(conn, f.source)
        for f in files:
            conn.execute(
                "update audit.loads set sha256 = ?, bytes = ?, rows = ?, finished_at = ?, status = 'loaded'"
                " where load_id = ? and file = ? and status = 'running'",
                (f.sha256, f.bytes, f.rows, utc_now(), load_id, f.source.file),
            )


def _results_folder(warehouse: Warehouse, out: TextIO | None) -> DataDocs | None:
    """The warehouse's Data Docs folder, where GX keeps the validation results, if it can be written; else
    None with a warning (the results then stay in memory and get no page): the load never fails for its docs."""
    docs = DataDocs.of(warehouse)
    try:
        docs.prepare()
    except OSError as exc:
        if out is not None:
            print(f"warning: data docs not written: {exc}", file=out)
        return None
    return docs


def _validate(conn: Connection, f: FileLoad, out: TextIO | None, load_id: str, docs: DataDocs | None) -> None:
    """Check the staged rows against the source's data contract; ContractViolation if an error-level
    expectation fails (the caller's transaction then rolls back: raw stays as it was)."""
    if conn.target == "spark":
        relation = f"raw.`_loading_{f.source.name}`"
    else:
        relation = f'raw."{f.source.name}"' if conn.target == "duckdb" else f'raw."_loading_{f.source.name}"'
    with _status(f"checking the data contract of {f.source.file}..."):
        f.validation = validate_staged(conn, f.source, relation, load_id, docs)
    if out is not None:
        v = f.validation
        print(
            f"  {'':<20} contract: {len(v.outcomes)} expectations, {len(v.errors)} failed,"
            f" {len(v.warnings)} warning(s) in {v.seconds:.2f} s",
            file=out,
        )
        for outcome in v.warnings:
            print(f"  warning: {f.source.file}: {outcome.describe()}", file=out)
    if f.validation.errors:
        broken = "; ".join(outcome.describe() for outcome in f.validation.errors)
        raise ContractViolation(f.path, f"breaks its data contract, not loaded: {broken}")


def _validation_row(load_id: str, f: FileLoad, o: Any, now: datetime) -> tuple:
    """One audit.validations row of an expectation's outcome `o` for file `f`, in the table's column order."""
    return (
        load_id,
        f.source.file,
        f.source.name,
        o.expectation,
        o.column,
        o.severity,
        o.success,
        o.unexpected_count,
        o.unexpected_percent,
        o.observed,
        json.dumps(o.sample),
        now,
    )


def _record_validations(conn: Connection, load_id: str, files: list[FileLoad]) -> None:
    """One audit.validations row per expectation of every file validated in this load (and not recorded yet).

    Spark: one INSERT for them all (each statement writes files of its own), and a file's rows count as
    recorded for good, since no rollback undoes them."""
    now = utc_now()
    if conn.target == "spark":
        rows = [
            _validation_row(load_id, f, o, now)
            for f in files
            if f.validation and not f.recorded
            for o in f.validation.outcomes
        ]
        if rows:
            conn.execute(
                "insert into audit.validations (load_id, file, source, expectation, column_name, severity, success,"
                " unexpected_count, unexpected_percent, observed, sample, validated_at) values "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)),
                [value for row in rows for value in row],
            )
        for f in files:
            f.recorded = f.recorded or f.validation is not None
        return
    for f in files:
        for o in f.validation.outcomes if f.validation else []:
            conn.execute(
                "insert into audit.validations (load_id, file, source, expectation, column_name, severity, success,"
                " unexpected_count, unexpected_percent, observed, sample, validated_at)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _validation_row(load_id, f, o, now),
            )


def _select(sources: Sequence[str] | None) -> list[Source]:
    if not sources:
        return list(SOURCES)
    unknown = [s for s in sources if s not in SOURCES_BY_NAME]
    if unknown:
        raise EltError(f"unknown source {unknown[0]!r}: use one of {', '.join(SOURCES_BY_NAME)}")
    return [s for s in SOURCES if s.name in sources]


def _check_contract(f: FileLoad) -> None:
    """Cheap checks before any data moves: file exists, has line breaks we can read (LF, CRLF, or both: see
    `_readable`), the contract's header and a data row."""
    if not f.path.is_file():
        raise InputError(f.path, "missing file")
    with f.path.open("rb") as fh:
        f.endings = detect(fh)  # one fast pass (memchr) for a file whose lines all end alike
    if f.endings.lone_cr_at is not None:
        raise lone_cr_error(f.path, f.endings.lone_cr_at)
    check_header(f.path, f.source)
    if not has_data_row(f.path):
        raise InputError(f.path, "no data rows after the header", line=2)
    f.bytes = f.path.stat().st_size


def _start_audit(conn: Connection, load_id: str, files: list[FileLoad]) -> None:
    """Create audit.loads if needed, close out dead loads, and record this one as running."""
    ensure_audit_tables(conn)
    # We hold the warehouse lock, so a row still 'running' belongs to a load whose process died.
    conn.execute(
        "update audit.loads set status = 'interrupted', finished_at = ?,"
        " error = 'the load process ended before it finished' where status = 'running'",
        (utc_now(),),
    )
    if conn.target == "spark":  # one INSERT: each statement writes files of its own
        conn.execute(
            "insert into audit.loads (load_id, file, source, started_at, status) values "
            + ", ".join(["(?, ?, ?, ?, 'running')"] * len(files)),
            [value for f in files for value in (load_id, f.source.file, f.source.name, utc_now())],
        )
        return
    for f in files:
        conn.execute(
            "insert into audit.loads (load_id, file, source, started_at, status) values (?, ?, ?, ?, 'running')",
            (load_id, f.source.file, f.source.name, utc_now()),
        )


def _record_failure(conn: Connection, load_id: str, files: list[FileLoad], error: BaseException) -> None:
    failed_file = getattr(error, "file", None)
    if conn.target == "spark":
        _record_failure_spark(conn, load_id, files, error, failed_file)
        return
    for f in files:
        mine = failed_file is not None and Path(failed_file) == f.path
        status, message = ("failed", str(error)) if mine or failed_file is None else ("aborted", None)
        if status == "aborted":
            message = f"not loaded: {Path(failed_file).name} failed"
        try:
            conn.execute(
                "update audit.loads set status = ?, error = ?, finished_at = ?"
                " where load_id = ? and file = ? and status = 'running'",
                (status, message, utc_now(), load_id, f.source.file),
            )
        except Exception:  # the connection itself may be what failed; the error below says why
            return


class _FileRejected(Exception):
    """The warehouse failed while reading one file (from `read`: the file itself or its normalised copy);
    `cause` is its own error."""

    def __init__(self, file: FileLoad, cause: Exception, read: Path):
        super().__init__(str(cause))
        self.file = file
        self.cause = cause
        self.read = read


def _explain(exc: BaseException) -> BaseException:
    """Turn a warehouse's complaint about a file into an InputError naming its line and column."""
    if isinstance(exc, EltError) or not isinstance(exc, Exception):
        return exc
    if isinstance(exc, _FileRejected):
        if _is_data_error(exc.cause):
            said = _spark_said(exc.cause) or first_line(exc.cause)
            said = said.replace(str(exc.read), str(exc.file.path))  # name the file, not its copy
            return find_defect(exc.file.path, exc.file.source) or InputError(exc.file.path, said)
        exc = exc.cause
    return WarehouseError(f"load failed: {describe_failure(exc)}")


def _is_data_error(exc: BaseException) -> bool:
    pgcode = getattr(exc, "pgcode", None)
    if pgcode is not None:
        return pgcode.startswith("22")  # class 22: data exception (bad CSV format, bad encoding, ...)
    if _SPARK_MALFORMED.search(str(exc)):  # Spark's FAILFAST CSV reader: a record it could not parse
        return True
    return type(exc).__name__ in {"InvalidInputException", "ConversionException"}


@contextlib.contextmanager
def _readable(f: FileLoad, out: TextIO | None, crlf: bool = False) -> Iterator[Path]:
    """The path DuckDB (or Spark) reads for `f`: the file itself, or when its lines end in CRLF and LF mixed
    (which no warehouse reads), a temporary copy with every line break outside quoted fields made LF, removed
    when the block exits, however it exits. With `crlf` (Spark), a file whose lines end in CRLF is read
    through such a copy too. Hash, size and error messages stay those of the file itself: same lines, same
    records, so the same line numbers and `_source_row`s."""
    if not (f.endings.mixed or (crlf and CRLF in f.endings.styles)):
        yield f.path
        return
    with normalised_copy(f.path) as copy:
        _report_normalised(out, f)
        yield copy


def _report_normalised(out: TextIO | None, f: FileLoad) -> None:
    if out is not None and f.endings.mixed:
        print(f"  {f.source.file:<20} line endings normalised ({f.endings.describe()} mixed)", file=out)


def _report(out: TextIO | None, f: FileLoad) -> None:
    if out is None:
        return
    mb = f.bytes / 1e6
    rate = mb / f.seconds if f.seconds > 0 else 0.0
    print(
        f"  {f.source.file:<20} {f.rows:>10,} rows {mb:>8.1f} MB {f.seconds:>6.2f} s {rate:>7.1f} MB/s"
        f"  staged for raw.{f.source.name}",
        file=out,
    )


# ---------------------------------------------------------------- DuckDB


# A quote between two bytes that are neither a delimiter nor a quote: a stray quote in an unquoted field
# (which every target reads as it is) or a closing quote followed by more text (`"ab"c`, which DuckDB and
# Postgres refuse and Spark reads as it is).
_STRAY_QUOTE = re.compile(rb'[^,\n"]"[^,"\r\n]')


def _scan(path: Path, strict: bool = False) -> tuple[str, bool, int | None]:
    """The file's sha256, whether it is suspicious (may hold a blank line: an empty line, unless inside
    quotes), and where the first line longer than MAX_LINE_BYTES starts (None if there is none).

    Postgres COPY rejects blank lines while DuckDB skips them; this cheap pass lets DuckDB reject them too.
    `strict` (Spark, whose reader also reads bad UTF-8 as U+FFFD and lets an unterminated quote swallow the
    rest of the file) also makes suspicious: bytes that are not UTF-8 (an incremental strict decoder), an
    odd number of `"`, and a quote that may close a field followed by more text (_STRAY_QUOTE).
    """
    digest = hashlib.sha256()
    lengths = LineLengthCheck()
    suspicious = False
    previous = b""
    decoder = codecs.getincrementaldecoder("utf-8")() if strict else None
    quotes = 0
    with path.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
            lengths.feed(chunk)
            if not suspicious:
                window = previous + chunk[:2]
                suspicious = b"\n\n" in chunk or b"\n\r\n" in chunk or b"\n\n" in window or b"\n\r\n" in window
            if decoder is not None and not suspicious:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    suspicious = True
                count = chunk.count(b'"')
                quotes += count
                if (count or b'"' in previous) and _STRAY_QUOTE.search(previous + chunk):
                    suspicious = True
            previous = chunk[-2:]
    if decoder is not None and not suspicious:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            suspicious = True
        suspicious = suspicious or quotes % 2 == 1
    return digest.hexdigest(), suspicious, lengths.finish()


def _stage_duckdb(conn: Connection, f: FileLoad, load_id: str, out: TextIO | None) -> None:
    """Replace raw.<source> with the file's rows (all text), inside the caller's transaction."""
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in f.source.columns)
    select_list = ", ".join(f'"{c}"' for c in f.source.columns)
    statement = f"""
        create or replace table raw."{f.source.name}" as
        select {select_list}, ordinality::bigint as {SOURCE_ROW_COLUMN}, $load_id::varchar as {LOAD_ID_COLUMN}
        from read_csv($path, auto_detect = false, header = true, delim = ',', quote = '"', escape = '"',
                      strict_mode = true, null_padding = false, allow_quoted_nulls = false,
                      encoding = 'utf-8', columns = {{{columns}}}) with ordinality
    """
    conn.execute("create schema if not exists raw")
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash the file while DuckDB reads it
        scan = pool.submit(_scan, f.path)  # the file itself, also when DuckDB reads a normalised copy
        with _readable(f, out) as readable:
            try:
                f.rows = conn.raw.execute(statement, {"path": str(readable), "load_id": load_id}).fetchone()[0]
            except Exception as exc:
                # DuckDB's reader fails on a huge line in ways that do not say so ("The Parallel CSV Reader
                # currently does not support a full read on this file"): a line over the limit is the error.
                if (too_long_at := scan.result()[2]) is not None:
                    raise find_defect(f.path, f.source) or long_line_error(f.path, too_long_at) from None
                raise _FileRejected(f, exc, readable) from exc
        f.sha256, maybe_blank, too_long_at = scan.result()
    if (maybe_blank or too_long_at is not None) and (defect := find_defect(f.path, f.source)) is not None:
        raise defect
    if too_long_at is not None:  # find_defect finds it too; this only guards against the two disagreeing
        raise long_line_error(f.path, too_long_at)


# ---------------------------------------------------------------- Postgres


class _StreamingReader:
    """File wrapper for COPY: hashes and counts bytes as psycopg2 reads and checks line lengths, ending the
    COPY early at a line longer than MAX_LINE_BYTES; live progress on a terminal. A file whose lines end in
    CRLF and LF mixed (COPY takes the newline style of the first line) reaches COPY with every line break
    outside quoted fields made LF, in the same pass: no copy of the file is made."""

    def __init__(self, fh, f: FileLoad, out: TextIO | None):
        self.fh = fh
        self.f = f
        self.normaliser = Normaliser() if f.endings.mixed else None
        self.digest = hashlib.sha256()
        self.lengths = LineLengthCheck()
        self.read_bytes = 0
        self.live = out is not None and out.isatty()
        self.out = out
        self.shown = 0.0

    def read(self, size: int = -1) -> bytes:
        """The next chunk of the file (psycopg2's COPY calls only this), normalised if need be; empty at the end."""
        while True:
            if self.lengths.too_long_at is not None:
                return b""  # end of data for COPY: the load fails on that line (see _stage_postgres)
            chunk = self.fh.read(size)
            self.digest.update(chunk)
            self.lengths.feed(chunk)
            self.read_bytes += len(chunk)
            if self.live and time.monotonic() - self.shown > 0.25:
                self.shown = time.monotonic()
                share = self.read_bytes / self.f.bytes if self.f.bytes else 1.0
                print(f"\r  {self.f.source.file:<20} {share:>6.0%} ...", end="", file=self.out, flush=True)
            if self.normaliser is None:
                return chunk
            data = self.normaliser.feed(chunk) if chunk else self.normaliser.finish()
            if data or not chunk:  # empty only while a CR that ends the chunk waits for the next one
                return data


def _stage_postgres(conn: Connection, f: FileLoad, load_id: str, out: TextIO | None) -> None:
    """COPY the file into a new table raw._loading_<source>, inside the caller's transaction."""
    from psycopg2 import sql

    staging = sql.Identifier("raw", f"_loading_{f.source.name}")
    data_columns = sql.SQL(", ").join(sql.Identifier(c) for c in f.source.columns)
    conn.execute("create schema if not exists raw")
    with conn.raw.cursor() as cur:
        cur.execute(sql.SQL("drop table if exists {}").format(staging))
        cur.execute(
            sql.SQL(
                "create table {t} ({cols}, {row} bigint generated always as identity (cache 100000),"
                " {lid} text not null default {load_id})"
            ).format(
                t=staging,
                cols=sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in f.source.columns),
                row=sql.Identifier(SOURCE_ROW_COLUMN),
                lid=sql.Identifier(LOAD_ID_COLUMN),
                load_id=sql.Literal(load_id),
            )
        )
        copy = sql.SQL("copy {t} ({cols}) from stdin (format csv, header true, encoding 'UTF8')").format(
            t=staging, cols=data_columns
        )
        _report_normalised(out, f)
        with f.path.open("rb") as fh:
            reader = _StreamingReader(fh, f, out)
            try:
                cur.copy_expert(copy.as_string(conn.raw), reader, size=COPY_CHUNK_BYTES)
            except Exception as exc:
                if reader.lengths.too_long_at is None:  # else COPY choked on the cut: the long line is the error
                    raise _FileRejected(f, exc, f.path) from exc
            finally:
                if reader.live:
                    print("\r", end="", file=out)
        if (too_long_at := reader.lengths.finish()) is not None:
            raise find_defect(f.path, f.source) or long_line_error(f.path, too_long_at)
        f.rows = cur.rowcount
        f.sha256 = reader.digest.hexdigest()
        cur.execute(
            sql.SQL("alter table {t} alter column {row} drop identity, alter column {lid} drop default").format(
                t=staging, row=sql.Identifier(SOURCE_ROW_COLUMN), lid=sql.Identifier(LOAD_ID_COLUMN)
            )
        )


def _swap_postgres(conn: Connection, source: Source) -> None:
    """Put raw._loading_<source> in place of raw.<source>; views reading the old table follow the new one.

    Postgres binds views to tables by oid, so views (dbt's staging models) are re-created from their own
    definitions after the rename: same SQL, now resolved against the new table.
    """
    from psycopg2 import sql

    name = source.name
    conn.execute("set local search_path = pg_catalog")  # view definitions come back fully qualified
    exists = conn.scalar("select to_regclass(?) is not null", (f"raw.{name}",))
    views: list[tuple] = []
    if exists:
        views = conn.execute(
            """
            select distinct v.oid::regclass::text, pg_get_viewdef(v.oid)
            from pg_depend d
            join pg_rewrite r on r.oid = d.objid
            join pg_class v on v.oid = r.ev_class
            where d.classid = 'pg_rewrite'::regclass and d.refobjid = ?::regclass
              and v.relkind = 'v' and v.oid <> d.refobjid
            """,
            (f"raw.{name}",),
        )
        conn.execute(
            sql.SQL("alter table {} rename to {}")
            .format(sql.Identifier("raw", name), sql.Identifier(f"_replaced_{name}"))
            .as_string(conn.raw)
        )
    conn.execute(
        sql.SQL("alter table {} rename to {}")
        .format(sql.Identifier("raw", f"_loading_{name}"), sql.Identifier(name))
        .as_string(conn.raw)
    )
    for view_name, definition in views:
        conn.execute(f"create or replace view {view_name} as {definition}")
    if exists:
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier("raw", f"_replaced_{name}")).as_string(conn.raw))
    conn.execute("set local search_path = default")


# ---------------------------------------------------------------- Spark

# Spark's FAILFAST CSV reader on a record it cannot parse (a short or long row, ...): the conditions it raises.
_SPARK_MALFORMED = re.compile(r"\[(MALFORMED_RECORD_IN_PARSING|MALFORMED_CSV_RECORD)[\].]")
# A Spark error condition and its message, e.g. `[FAILED_READ_FILE.NO_HINT] Encountered error while ...`.
_SPARK_CONDITION = re.compile(r"\[(?:FAILED_READ_FILE|MALFORMED_RECORD_IN_PARSING)[\w.]*\] [^\n]*")
# What Spark's reader takes as NULL: an unquoted empty field is NULL anyway, and with a value no file holds
# here, a quoted `""` stays '' (Spark's default, "", would make it NULL) and a lone U+0001 stays itself.
SPARK_NULL_VALUE = "\u0001elt:null\u0001"


def _spark_said(exc: BaseException) -> str | None:
    """The line of a Spark read error that says what failed (Py4J's first line only names the Java call)."""
    match = _SPARK_CONDITION.search(str(exc))
    return match.group(0).strip() if match else None


def _load_files_spark(
    conn: Connection, load_id: str, files: list[FileLoad], out: TextIO | None, docs: DataDocs | None
) -> None:
    """Every file staged into raw._loading_<source> and checked against its contract, then all swapped in.

    Spark has no transactions: nothing in raw changes until every file is staged and validated; then each
    raw.<source> is renamed to raw._replaced_<source> and the staged table renamed to raw.<source>, and only
    when all are swapped are the replaced tables dropped (a failing rename undoes the swaps made). On any
    failure the staged tables are dropped, so raw is as it was. Leftovers of a process killed mid-load are
    repaired first (_repair_spark).
    """
    for f in files:  # before anything is staged: a bad file fails the load at once
        _scan_spark(f)
    conn.execute("create schema if not exists raw")
    _repair_spark(conn, [f.source for f in files])
    try:
        for f in files:
            t0 = time.perf_counter()
            _stage_spark(conn, f, load_id, out)
            f.seconds = time.perf_counter() - t0
            _report(out, f)
            _validate(conn, f, out, load_id, docs)
        _record_validations(conn, load_id, files)
        _swap_spark(conn, [f.source for f in files])
    except BaseException:
        with contextlib.suppress(Exception):  # the error that got us here is the one to report
            for f in files:
                conn.execute(f"drop table if exists raw.`_loading_{f.source.name}`")
        raise
    cases = " ".join("when ? then ?" for _ in files)
    conn.execute(  # one rewrite of audit.loads, not one per file
        f"update audit.loads set sha256 = case file {cases} end, bytes = case file {cases} end,"
        f" rows = case file {cases} end, finished_at = ?, status = 'loaded'"
        f" where load_id = ? and status = 'running' and file in ({', '.join('?' for _ in files)})",
        [
            *(v for f in files for v in (f.source.file, f.sha256)),
            *(v for f in files for v in (f.source.file, f.bytes)),
            *(v for f in files for v in (f.source.file, f.rows)),
            utc_now(),
            load_id,
            *(f.source.file for f in files),
        ],
    )


def _record_failure_spark(
    conn: Connection, load_id: str, files: list[FileLoad], error: BaseException, failed_file: object
) -> None:
    """_record_failure in at most two rewrites of audit.loads (Spark rewrites the whole table per UPDATE):
    the failed file (all of them when the error names none), then the others as aborted."""
    running = "where load_id = ? and status = 'running' and file in ({})"
    failed = [f for f in files if failed_file is None or Path(str(failed_file)) == f.path]
    others = [f for f in files if f not in failed]
    try:
        if failed:
            conn.execute(
                "update audit.loads set status = 'failed', error = ?, finished_at = ? "
                + running.format(", ".join("?" for _ in failed)),
                [str(error), utc_now(), load_id, *(f.source.file for f in failed)],
            )
        if others:
            conn.execute(
                "update audit.loads set status = 'aborted', error = ?, finished_at = ? "
                + running.format(", ".join("?" for _ in others)),
                [
                    f"not loaded: {Path(str(failed_file)).name} failed",
                    utc_now(),
                    load_id,
                    *(f.source.file for f in others),
                ],
            )
    except Exception:  # the connection itself may be what failed; the error of the load says why
        return


def _raw_tables(conn: Connection) -> set[str]:
    """The names of the tables in Spark's schema raw (lower case, as Spark's catalog keeps them)."""
    from core import spark

    return spark.tables(conn.raw, "raw")


def _repair_spark(conn: Connection, sources: list[Source]) -> None:
    """Undo what a Spark load killed mid-way left in raw: staged tables are dropped, and a replaced table is
    renamed back where its successor is missing (killed between the two renames of a swap), else dropped
    (killed after the swap). A staged table's folder left without its catalog entry (killed during the
    write) is removed too: Spark would refuse to write the table there."""
    tables = _raw_tables(conn)
    location = _raw_location(conn)
    for source in sources:
        name = source.name
        if f"_loading_{name}" in tables:
            conn.execute(f"drop table raw.`_loading_{name}`")
        if location is not None and (leftover := location / f"_loading_{name}").is_dir():
            shutil.rmtree(leftover)
        if f"_replaced_{name}" in tables:
            if name in tables:
                conn.execute(f"drop table raw.`_replaced_{name}`")
            else:
                conn.execute(f"alter table raw.`_replaced_{name}` rename to raw.`{name}`")


def _raw_location(conn: Connection) -> Path | None:
    """The local folder of Spark's schema raw (None if it is not on the local file system)."""
    columns, rows = conn.fetch("describe database raw")
    for key, value in rows:
        if key.lower() == "location" and str(value).startswith("file:"):
            return Path(re.sub(r"^file:(//)?", "", str(value)))
    return None


def _swap_spark(conn: Connection, sources: list[Source]) -> None:
    """Put every raw._loading_<source> in place of raw.<source> by renames, then drop the replaced tables.

    Views reading raw (dbt's staging views) resolve their tables by name when queried, so they read the new
    tables. If a rename fails, the swaps made so far are undone before the error is raised.
    """
    tables = _raw_tables(conn)
    done: list[tuple[str, bool]] = []
    try:
        for source in sources:
            name = source.name
            exists = name in tables
            if exists:
                conn.execute(f"alter table raw.`{name}` rename to raw.`_replaced_{name}`")
            done.append((name, exists))
            conn.execute(f"alter table raw.`_loading_{name}` rename to raw.`{name}`")
    except BaseException:
        with contextlib.suppress(Exception):
            tables = _raw_tables(conn)
            for name, existed in reversed(done):
                if name in tables and f"_loading_{name}" not in tables:
                    conn.execute(f"alter table raw.`{name}` rename to raw.`_loading_{name}`")
                if existed:
                    conn.execute(f"alter table raw.`_replaced_{name}` rename to raw.`{name}`")
        raise
    for name, existed in done:
        if existed:
            conn.execute(f"drop table raw.`_replaced_{name}`")


@contextlib.contextmanager
def _spark_quiet(spark: object) -> Iterator[None]:
    """Spark's log off while the block runs: a file Spark cannot parse fails the read with our one-line error,
    which its executor's ERROR log (stack traces on stderr) must not bury. Back to ERROR (core/spark.py's
    level) afterwards."""
    context = spark.sparkContext  # type: ignore[attr-defined]
    context.setLogLevel("OFF")
    try:
        yield
    finally:
        context.setLogLevel("ERROR")


def _scan_spark(f: FileLoad) -> None:
    """Hash the file (`f.sha256`) and check what Spark's reader lets pass (strict `_scan`): if the file is
    suspicious, find_defect names the defect's line and column (InputError); a line too long is refused."""
    f.sha256, suspicious, too_long_at = _scan(f.path, strict=True)
    if (suspicious or too_long_at is not None) and (defect := find_defect(f.path, f.source)) is not None:
        raise defect
    if too_long_at is not None:  # find_defect finds it too; this only guards against the two disagreeing
        raise long_line_error(f.path, too_long_at)


def _has_stray_quote(path: Path) -> bool:
    """Whether `path` holds a quote that _STRAY_QUOTE matches (read in chunks, only where there are quotes)."""
    previous = b""
    with path.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK_BYTES):
            if (b'"' in chunk or b'"' in previous) and _STRAY_QUOTE.search(previous + chunk):
                return True
            previous = chunk[-2:]
    return False


def _spark_path(path: Path) -> str:
    """`path` as Spark's reader takes it: a local file URI with Hadoop's glob characters escaped."""
    return "file://" + re.sub(r"([\\*?\[\]{}])", r"\\\1", str(path.resolve()))


def _stage_spark(conn: Connection, f: FileLoad, load_id: str, out: TextIO | None) -> None:
    """Read the file with Spark's CSV reader (all text) into a new parquet table raw._loading_<source>.

    The reader is strict where it can be (FAILFAST: a short or long row fails the read, but names no line:
    find_defect then does), takes `""` as '' and an empty field as NULL (SPARK_NULL_VALUE) as the other
    targets do, and reads a file whose lines end in CRLF through an LF copy (its reader would turn a CRLF
    inside a quoted field into LF). What it reads without complaint (bad UTF-8, blank lines, an unterminated
    quote) `_scan_spark` has refused before. `_source_row` is the record's number in the file: a file is
    read as one partition (multiLine), so monotonically_increasing_id counts its records from 0 in file
    order (checked: the largest equals the row count, else WarehouseError).
    """
    from pyspark.sql import functions as func
    from pyspark.sql.types import StringType, StructField, StructType

    spark = conn.raw
    staging = f"raw.`_loading_{f.source.name}`"
    schema = StructType([StructField(c, StringType()) for c in f.source.columns])
    # The LF copy tells quoted fields by counting quotes, which a stray quote in an unquoted field upsets:
    # such a file whose lines all end in CRLF is read as it is (a CRLF inside its quoted fields reads as LF).
    crlf = CRLF in f.endings.styles and not f.endings.mixed and not _has_stray_quote(f.path)
    with _readable(f, out, crlf=crlf) as readable:
        frame = (
            spark.read.schema(schema)
            .options(
                header="true",
                mode="FAILFAST",
                multiLine="true",
                quote='"',
                escape='"',
                encoding="UTF-8",
                nullValue=SPARK_NULL_VALUE,
                enforceSchema="true",
            )
            .csv(_spark_path(readable))
        )
        frame = frame.select(
            *(func.col(f"`{c}`") for c in f.source.columns),
            (func.monotonically_increasing_id() + 1).alias(SOURCE_ROW_COLUMN),
            func.lit(load_id).alias(LOAD_ID_COLUMN),
        )
        try:
            with _spark_quiet(spark):
                frame.write.saveAsTable(f"raw._loading_{f.source.name}", format="parquet", mode="error")
        except Exception as exc:
            # Spark's own error names no line: whatever find_defect finds is the error, else _explain tells
            # what it was (a data error: Spark's words; anything else: a WarehouseError).
            if (defect := find_defect(f.path, f.source)) is not None:
                raise defect from None
            raise _FileRejected(f, exc, readable) from exc
    rows, last = conn.fetch(f"select count(*), coalesce(max({SOURCE_ROW_COLUMN}), 0) from {staging}")[1][0]
    if rows != last:
        raise WarehouseError(f"load failed: {f.path} was read in parts, so its rows lost their file order")
    f.rows = rows
