"""The Spark warehouse: this process's local SparkSession, and SQL on it with the project's `?` parameters.

Spark runs as dbt-spark's `session` method does (dbt_project/profiles.yml, output `spark`): a local
SparkSession with Hive support, whose catalog is an embedded Derby database. Everything of one warehouse
lives in one folder (ELT_SPARK_DIR):
  warehouse/      the tables' parquet files (`spark.sql.warehouse.dir`; schema `raw` is warehouse/raw.db)
  metastore_db/   the Hive catalog (Derby), which one process at a time may open
  derby.log       Derby's log
  warehouse.lock  the flock core.warehouse takes before this process first opens the catalog

`elt` runs dbt in elt's own process (orchestration/dbt.py, dbtRunner), and dbt-spark's session method calls
`SparkSession.builder...getOrCreate()`, so dbt's SQL runs on the session made here: the settings below and
the profile's `server_side_parameters` must agree (they do; tests/spark check the profile's).

pyspark is imported only when a Spark warehouse is first connected: the API, Airflow and `elt --help`
never load it.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SESSION_CONF", "drop_temporary_views", "run", "session", "session_conf", "tables", "views"]

# Settings every Spark warehouse session has (the profile's `server_side_parameters` say the same):
# - ANSI mode off: a cast of text that is no number gives null instead of an error, as the models expect
#   (each cast stands behind a regex guard, and dbt-fabricspark pins it off for the same reason);
# - timestamps without time zone, in UTC, as DuckDB's `timestamp` and Postgres' `timestamp` are;
# - 4 shuffle partitions (Spark's 200 make each small join 200 tasks); no web UI (no port taken).
SESSION_CONF: dict[str, str] = {
    "spark.master": "local[2]",
    "spark.driver.host": "127.0.0.1",  # local: no lookup of the machine's name (nor its warning)
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
}

# Spark's log settings: errors only (core/spark-log4j2.properties).
_LOG_CONF = Path(__file__).with_name("spark-log4j2.properties")
# The session of this process and the warehouse folder it was made for.
_current: tuple[Any, Path] | None = None


def session_conf(spark_dir: Path, memory: str) -> dict[str, str]:
    """The settings of a session on the warehouse in `spark_dir` (absolute) with `memory` for the driver
    (a JVM size, e.g. `2g`): SESSION_CONF plus where its tables, catalog and Derby log go."""
    return {
        **SESSION_CONF,
        "spark.driver.memory": memory,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir} -Dlog4j2.configurationFile=file:{_LOG_CONF}",
        "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"
        ),
    }


def session(spark_dir: Path, memory: str) -> Any:
    """This process's SparkSession on the warehouse in `spark_dir`, made on first use (7-10 s: the JVM).

    A session on another folder is stopped first (tests switch warehouses; ~4 s). The caller holds the
    warehouse's lock (core.warehouse): Derby lets one process open a catalog, and a second one fails only
    after half a minute with `XSDB6: Another instance of Derby may have already booted the database`.
    The JVM's memory and Derby's home are fixed when the first session starts.
    """
    global _current
    spark_dir = spark_dir.resolve()
    if _current is not None and _current[1] == spark_dir:
        return _current[0]
    from pyspark.sql import SparkSession

    if _current is not None:
        _current[0].stop()
        _current = None
    spark_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds locally (no host-name lookup)
    builder = SparkSession.builder.appName("elt").enableHiveSupport()
    for key, value in session_conf(spark_dir, memory).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():  # pyspark 4.3 warns of pandas 3; the project never uses its pandas API
        warnings.simplefilter("ignore", FutureWarning)
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")  # Hive's warnings of Spark-only column types, stack traces included
    # pyspark logs every failed statement as a long JSON line on stderr, even one the caller handles (the error
    # itself is raised); py4j logs its connections, the last ones at exit into streams already closed.
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)  # pyspark's logger class: it logs with extras
    logging.getLogger("py4j").setLevel(logging.CRITICAL)
    for key, value in SESSION_CONF.items():  # a session dbt made first (same JVM) gets the runtime settings too
        if key.startswith("spark.sql."):
            spark.conf.set(key, value)
    _current = (spark, spark_dir)
    return spark


def drop_temporary_views() -> list[str]:
    """Drop the temporary views of this process's session, if it has one; return their names.

    dbt-spark builds an incremental model through a temporary view `<model>__dbt_tmp` and leaves it: harmless
    in a `dbt` process, which ends, but in `elt`'s session it outlives the build, and a later `dbt docs
    generate` there lists it with the catalog's tables and fails on its missing schema."""
    if _current is None:
        return []
    spark = _current[0]
    names = [row.tableName for row in spark.sql("show tables").collect() if row.isTemporary]
    for name in names:
        spark.catalog.dropTempView(name)
    return names


def tables(spark: Any, schema: str) -> set[str]:
    """The names of the tables and views of `schema` in the catalog (lower case, as Spark keeps them), without
    this session's temporary views; empty when the schema does not exist."""
    if schema.lower() not in {row[0] for row in spark.sql("show databases").collect()}:
        return set()
    return {row.tableName for row in spark.sql(f"show tables in `{schema}`").collect() if not row.isTemporary}


def views(spark: Any, schema: str) -> set[str]:
    """The names of the views of `schema` (see `tables`)."""
    if schema.lower() not in {row[0] for row in spark.sql("show databases").collect()}:
        return set()
    return {row.viewName for row in spark.sql(f"show views in `{schema}`").collect() if not row.isTemporary}


# --- SQL with `?` parameters -------------------------------------------------------------------------------

# Lexemes of Spark SQL: string literals ('..' and "..", backslash escapes), backtick identifiers, comments,
# `?`, parentheses, commas, words, anything else. An unterminated one runs to the end (Spark reports it).
_LEXEME = re.compile(
    r"""'(?:\\.|[^'\\])*'?|"(?:\\.|[^"\\])*"?|`(?:``|[^`])*`?|--[^\n]*|/\*.*?(?:\*/|\Z)|\?|[(),]|\w+|\s+|.""", re.S
)
_UPDATE = re.compile(r"\s*update\s+(?P<table>[\w.`]+)\s+set\s", re.I)
_DELETE = re.compile(r"\s*delete\s+from\s+(?P<table>[\w.`]+)\s*", re.I)


def _lexemes(sql: str) -> list[str]:
    return _LEXEME.findall(sql)


def _named(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`sql` with its i-th `?` as `:elt_p<i>`, and the parameters by those names (so a rewrite may repeat
    or reorder the parts of a statement). Raises ValueError when the counts differ."""
    parts, args = [], {}
    for lexeme in _lexemes(sql):
        if lexeme == "?":
            name = f"elt_p{len(args)}"
            if len(args) >= len(params):
                raise ValueError(f"more ? than the {len(params)} parameters given: {sql.strip()[:200]}")
            args[name] = params[len(args)]
            parts.append(f":{name}")
        else:
            parts.append(lexeme)
    if len(args) != len(params):
        raise ValueError(f"{len(params)} parameters for {len(args)} ?: {sql.strip()[:200]}")
    return "".join(parts), args


def _split_top(text: str, word: str | None = None) -> list[str]:
    """Split `text` at top-level commas (word None) or at its first top-level keyword `word` (into 2)."""
    depth, parts, current = 0, [], []
    for lexeme in _lexemes(text):
        if lexeme == "(":
            depth += 1
        elif lexeme == ")":
            depth -= 1
        if depth == 0 and word is None and lexeme == ",":
            parts.append("".join(current))
            current = []
            continue
        if depth == 0 and word is not None and lexeme.lower() == word and len(parts) == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(lexeme)
    parts.append("".join(current))
    return parts


def _rewrite(spark: Any, sql: str) -> tuple[str, str, str] | None:
    """An UPDATE or DELETE (which Spark's parquet tables do not support) as (table, condition, select of
    the table's new contents); None for any other statement.

    `update T set a = x, b = y where C` -> `select case when hit then x else a end as a, ... from
    (select *, coalesce(C, false) as hit from T)`; `delete from T where C` -> `select * from T where not
    coalesce(C, false)`. Raises ValueError for an UPDATE or DELETE of another shape (no WHERE, a join).
    """
    if match := _UPDATE.match(sql):
        table = match["table"]
        assignments, *rest = _split_top(sql[match.end() :], "where")
        if not rest:
            raise ValueError(f"an UPDATE without WHERE is not supported on Spark: {sql.strip()[:200]}")
        condition = rest[0].strip().rstrip(";")
        new = {}
        for assignment in _split_top(assignments):
            column, _, expression = assignment.partition("=")
            new[column.strip().strip("`").lower()] = expression.strip()
        columns = spark.table(table).columns
        unknown = set(new) - {c.lower() for c in columns}
        if unknown:
            raise ValueError(f"no column {sorted(unknown)} in {table}")
        select = ", ".join(
            f"case when elt_hit then ({new[c.lower()]}) else `{c}` end as `{c}`" if c.lower() in new else f"`{c}`"
            for c in columns
        )
        return (
            table,
            condition,
            f"select {select} from (select *, coalesce(({condition}), false) as elt_hit from {table})",
        )
    if match := _DELETE.match(sql):
        table = match["table"]
        rest = sql[match.end() :]
        if not rest.lower().startswith("where"):
            raise ValueError(f"a DELETE without WHERE is not supported on Spark: {sql.strip()[:200]}")
        condition = rest[5:].strip().rstrip(";")
        return table, condition, f"select * from {table} where not coalesce(({condition}), false)"
    return None


def run(spark: Any, statement: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
    """Run one statement on `spark` with `?` parameters; return its column names and rows as tuples
    (both empty for a statement that returns none).

    UPDATE and DELETE (the audit tables' bookkeeping) run as a rewrite of the whole table: the new contents
    selected (see _rewrite), held apart from the files they were read from (`localCheckpoint`), then
    written over the table (`insertInto(overwrite=True)`); nothing is written when no row matches.
    Raises pyspark's errors (AnalysisException, ParseException, ...) and ValueError for a malformed call.
    """
    sql, args = _named(statement, params)
    rewrite = _rewrite(spark, sql)
    if rewrite is not None:
        table, condition, select = rewrite
        used = {k: v for k, v in args.items() if re.search(rf":{k}\b", condition)}
        if spark.sql(f"select count(*) from {table} where {condition}", args=used or None).collect()[0][0]:
            spark.sql(select, args=args or None).localCheckpoint().write.insertInto(table, overwrite=True)
        return [], []
    frame = spark.sql(sql, args=args or None)
    columns = list(frame.columns)
    if not columns:
        return [], []
    return columns, [tuple(row) for row in frame.collect()]
