"""The `audit` schema: what every load, pipeline run and dbt node did, kept across runs.

One place defines the six tables, so the loader, the run recorder (orchestration/run_audit.py), the run
log (orchestration/run_log.py), the dbt sources and the API agree on them:
  audit.loads         one row per file per load attempt (written by ingestion/loader.py)
  audit.runs          one row per `elt run` / `elt build` / Airflow run, with seconds per step
  audit.node_results  one row per dbt node per run, from dbt's run_results.json
  audit.validations   one row per expectation per file per load (the GX raw data contract)
  audit.run_logs      one row per line of a run's log: dbt's log lines and the run's own step lines
  audit.build_inputs  per published build: the sha256 of each raw table's file, the dbt project's, the day
                      (orchestration/changes.py: what a later `elt run` must redo)
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from core.warehouse import Connection

# The steps of a run, in order; audit.runs has a `<step>_seconds` column for each.
STEPS = ("generate", "load", "data_docs", "validate", "build", "export", "docs")

AUDIT_DDL = (
    """
    create table if not exists audit.loads (
        load_id     text      not null,
        file        text      not null,
        source      text      not null,
        sha256      text,
        bytes       bigint,
        rows        bigint,
        started_at  timestamp not null,
        finished_at timestamp,
        status      text      not null,  -- running | loaded | failed | aborted | interrupted
        error       text
    )
    """,
    """
    create table if not exists audit.runs (
        run_id          text      not null,
        trigger         text      not null,  -- cli | airflow | api
        command         text      not null,  -- run | build | dag
        target          text      not null,
        started_at      timestamp not null,
        finished_at     timestamp,
        seconds         double precision,
        status          text      not null,  -- running | success | failed | interrupted
        load_id         text,
        rows_loaded     bigint,
        models_built    integer,
        models_failed   integer,
        tests_passed    integer,
        tests_failed    integer,
        tests_warned    integer,
        generate_seconds double precision,
        load_seconds    double precision,
        validate_seconds double precision,
        build_seconds   double precision,
        export_seconds  double precision,
        docs_seconds    double precision,
        error           text
    )
    """,
    """
    create table if not exists audit.node_results (
        run_id            text      not null,
        invocation_id     text      not null,
        unique_id         text      not null,
        name              text      not null,
        resource_type     text      not null,  -- model | test | unit_test | seed | snapshot
        attached_model    text,                -- for tests: the model the test is about
        status            text      not null,  -- success | error | skipped | pass | fail | warn
        started_at        timestamp,
        completed_at      timestamp,
        execution_seconds double precision,
        rows_affected     bigint,              -- the adapter's figure (DuckDB gives none)
        row_count         bigint,              -- rows in the model's relation after the build
        failures          bigint,              -- failing rows of a test
        message           text
    )
    """,
    """
    create table if not exists audit.validations (
        load_id            text      not null,
        file               text      not null,
        source             text      not null,
        expectation        text      not null,  -- e.g. expect_column_values_to_match_regex
        column_name        text,
        severity           text      not null,  -- critical (stops the load) | warning
        success            boolean   not null,
        unexpected_count   bigint,
        unexpected_percent double precision,
        observed           text,
        sample             text,                -- a few unexpected values, JSON list
        validated_at       timestamp not null
    )
    """,
    """
    create table if not exists audit.run_logs (
        run_id     text      not null,
        line_no    integer   not null,  -- 1, 2, ... in the order the lines were logged, per run
        logged_at  timestamp not null,  -- UTC
        level      text      not null,  -- info | warn | error
        message    text      not null   -- one line (a message of several lines is several rows)
    )
    """,
    """
    create table if not exists audit.build_inputs (
        run_id      text      not null,  -- the run whose build was published
        input       text      not null,  -- a raw table (customers, ...), dbt_project or build_date
        digest      text,                -- sha256 of the table's file / of the project's files; the day; null: unknown
        recorded_at timestamp not null
    )
    """,
    "create index if not exists run_logs_by_run on audit.run_logs (run_id, line_no)",  # a run's lines, in order
)


# Columns added after a table's first release: warehouses built before them gain them on first use.
ADDED_COLUMNS = (
    ("runs", "validate_seconds", "double precision"),
    ("runs", "data_docs_seconds", "double precision"),
)


def spark_ddl(ddl: str) -> str | None:
    """One statement of AUDIT_DDL as Spark takes it (None: none needed): `string` for text, `double` for
    double precision, no index (Spark has none); comments are left as they are."""
    if ddl.lstrip().startswith("create index"):
        return None
    lines = []
    for line in ddl.splitlines():
        code, dashes, comment = line.partition("--")
        code = re.sub(r"\btext\b", "string", code).replace("double precision", "double")
        lines.append(code + dashes + comment)
    return "\n".join(lines)


def ensure_audit_tables(conn: Connection) -> None:
    """Create the audit schema and its tables if they do not exist yet (adding newer columns), in one
    transaction: a reader never sees a table without its newer columns (`conn` must not be in one already).
    Spark has no transactions, and no `add column if not exists`: its tables' columns are compared first."""
    with conn.transaction():
        conn.execute("create schema if not exists audit")
        for ddl in AUDIT_DDL:
            statement = spark_ddl(ddl) if conn.target == "spark" else ddl
            if statement:
                conn.execute(statement)
        for table, column, kind in ADDED_COLUMNS:
            if conn.target != "spark":
                conn.execute(f"alter table audit.{table} add column if not exists {column} {kind}")
            elif column not in conn.fetch(f"select * from audit.{table} limit 0")[0]:
                conn.execute(f"alter table audit.{table} add columns ({column} {kind.replace(' precision', '')})")


def new_id() -> str:
    """A unique id that sorts by start time: `20261125T012233.041522Z-3f9a1c` (load ids and run ids)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}"


def utc_now() -> datetime:
    """Now in UTC, as the naive timestamp the audit tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


def format_log_line(logged_at: datetime, level: str, message: str) -> str:
    """One line of a run's log as dbt writes its log file: `2026-11-25 01:22:33.041522 [info ] message`
    (the time in UTC, the level padded to five characters)."""
    return f"{logged_at:%Y-%m-%d %H:%M:%S.%f} [{level:<5}] {message}"
