"""The Spark warehouse's connection (core/spark.py, core/warehouse.py): `?` parameters, timestamps, the UPDATE and
DELETE rewrites the audit tables need, the audit tables themselves, the process lock, and the session settings
that dbt's profile must share."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
import yaml

from core import spark
from core.audit import ensure_audit_tables
from core.settings import SHIPPED_DBT_PROJECT
from core.warehouse import Connection, Warehouse
from tests.spark.conftest import spark_warehouse

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return spark_warehouse(tmp_path_factory.mktemp("spark") / "warehouse")


@pytest.fixture(scope="module")
def conn(warehouse: Warehouse) -> Iterator[Connection]:
    connection = warehouse.connect()
    connection.execute("create schema if not exists t")
    yield connection
    connection.execute("drop schema t cascade")


def test_parameters_bind_in_order_and_question_marks_in_text_stay_text(conn: Connection) -> None:
    columns, rows = conn.fetch(
        "select ? as a, '?' as q, 'it\\'s ?' as esc, \"?\" as dq, ? + 1 as `n?`,"
        " /* ? */ concat(?, '%') as pct -- a ?\n",
        ("x", 41, "100"),
    )
    assert columns == ["a", "q", "esc", "dq", "n?", "pct"]
    assert rows == [("x", "?", "it's ?", "?", 42, "100%")]
    with pytest.raises(ValueError, match="2 parameters for 1"):
        conn.fetch("select ?", (1, 2))
    with pytest.raises(ValueError, match="more \\? than"):
        conn.fetch("select ?, ?", (1,))


def test_values_round_trip_with_their_types(conn: Connection) -> None:
    conn.execute("create table t.kinds (ts timestamp, d date, amount decimal(18,2), n bigint, s string, f double)")
    row = (datetime(2026, 12, 3, 1, 2, 3, 456789), date(2024, 2, 29), Decimal("12.30"), 2**40, "Möller", 0.5)
    conn.execute("insert into t.kinds values (?, ?, ?, ?, ?, ?)", row)
    conn.execute("insert into t.kinds values (?, ?, ?, ?, ?, ?)", (None,) * 6)
    assert conn.execute("select * from t.kinds order by n nulls last") == [row, (None,) * 6]
    # Naive timestamps are the wall-clock time, whatever the machine's zone (TIMESTAMP_NTZ, UTC session).
    assert conn.scalar("select cast(ts as string) from t.kinds where n is not null") == "2026-12-03 01:02:03.456789"


def test_update_rewrites_only_the_matching_rows(conn: Connection) -> None:
    conn.execute("create table t.jobs (id string, status string, error string, seconds double)")
    for job in ("a", "b", "c"):
        conn.execute("insert into t.jobs values (?, 'running', null, null)", (job,))
    # Literals holding a comma, a `where` and a `?`; parameters in the assignments and in the condition.
    conn.execute(
        "update t.jobs set status = 'failed', error = ?, seconds = ?"
        " where id = ? or (id = ? and status = 'x, where ?')",
        ("boom, where?", 1.5, "b", "c"),
    )
    assert conn.execute("select * from t.jobs order by id") == [
        ("a", "running", None, None),
        ("b", "failed", "boom, where?", 1.5),
        ("c", "running", None, None),
    ]
    # A condition that matches nothing changes nothing (and writes nothing).
    files = sorted(conn.execute("select distinct input_file_name() from t.jobs"))
    conn.execute("update t.jobs set status = ? where id = ?", ("gone", "zzz"))
    assert sorted(conn.execute("select distinct input_file_name() from t.jobs")) == files
    assert conn.execute("select status from t.jobs order by id") == [("running",), ("failed",), ("running",)]


def test_delete_rewrites_keep_rows_whose_condition_is_null(conn: Connection) -> None:
    conn.execute("create table t.logs (run_id string, line_no int)")
    conn.execute("insert into t.logs values ('r1', 1), ('r1', 2), ('r2', 1), (null, 3)")
    conn.execute("delete from t.logs where run_id = ?", ("r1",))
    assert conn.execute("select * from t.logs order by line_no, run_id") == [("r2", 1), (None, 3)]


def test_update_and_delete_of_other_shapes_are_refused(conn: Connection) -> None:
    conn.execute("create table t.plain (id string)")
    with pytest.raises(ValueError, match="UPDATE without WHERE"):
        conn.execute("update t.plain set id = 'x'")
    with pytest.raises(ValueError, match="DELETE without WHERE"):
        conn.execute("delete from t.plain")
    with pytest.raises(ValueError, match="no column"):
        conn.execute("update t.plain set nope = 1 where id = 'x'")


def test_audit_tables_are_made_once_and_gain_newer_columns(conn: Connection) -> None:
    ensure_audit_tables(conn)
    ensure_audit_tables(conn)  # a second time: nothing to do, no error
    runs = conn.fetch("select * from audit.runs limit 0")[0]
    assert {"validate_seconds", "data_docs_seconds", "seconds"} <= set(runs)
    # A warehouse made before data_docs_seconds existed gains it.
    conn.execute("drop table audit.runs")
    conn.execute(
        "create table audit.runs (run_id string, trigger string, command string, target string,"
        " started_at timestamp, status string)"
    )
    ensure_audit_tables(conn)
    assert {"validate_seconds", "data_docs_seconds"} <= set(conn.fetch("select * from audit.runs limit 0")[0])
    kinds = {row[0]: row[1] for row in conn.execute("describe audit.loads")}
    assert kinds["load_id"] == "string" and kinds["started_at"] == "timestamp_ntz" and kinds["bytes"] == "bigint"


def test_a_second_process_is_refused_with_the_lock_message(warehouse: Warehouse, conn: Connection) -> None:
    """This process has the warehouse open (Derby's catalog with it): another `elt`, allowed no wait, stops at
    once with the lock's one line, before it starts a JVM (Derby's own error would come half a minute later)."""
    env = {**os.environ, "ELT_TARGET": "spark", "ELT_SPARK_DIR": str(warehouse.spark_dir), "ELT_LOCK_TIMEOUT": "0"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("elt")), "load", "--data-dir", str(warehouse.spark_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: another run holds the warehouse lock on spark:{warehouse.spark_dir} (waited 0 s)"
    )
    assert warehouse.writer_active()


def test_dbt_profile_makes_the_same_session_as_elt(warehouse: Warehouse) -> None:
    """`dbt build --target spark` from a terminal makes its own session from the profile: same settings."""
    text = (SHIPPED_DBT_PROJECT / "profiles.yml").read_text()
    folder = warehouse.spark_dir
    env = {"ELT_SPARK_DIR": str(folder), "ELT_SPARK_MEMORY": "3g"}
    jinja = jinja2.Environment()
    jinja.filters["as_number"] = int
    rendered = jinja.from_string(text).render(env_var=lambda name, default="": env.get(name, default))
    output = yaml.safe_load(rendered)["retail_elt"]["outputs"]["spark"]
    assert (output["type"], output["method"]) == ("spark", "session")
    profile = output["server_side_parameters"]
    ours = spark.session_conf(folder, "3g")
    for key in spark.SESSION_CONF:
        assert profile[key] == ours[key], key
    assert profile["spark.sql.warehouse.dir"] == ours["spark.sql.warehouse.dir"]
    assert profile["spark.driver.memory"] == "3g"
    assert f"-Dderby.system.home={folder}" in profile["spark.driver.extraJavaOptions"]
    # Derby resolves the profile's relative database name against its home: the same catalog.
    assert "databaseName=metastore_db;" in profile["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert f"databaseName={folder / 'metastore_db'};" in ours["spark.hadoop.javax.jdo.option.ConnectionURL"]


def test_the_api_refuses_a_spark_warehouse_in_one_line() -> None:
    """The API would open the catalog beside every run (Derby: one process): `elt serve` says so, exit 2."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("elt")), "serve", "--target", "spark", "--dev"],
        env={**os.environ, "ELT_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the API serves DuckDB and Postgres warehouses; a local Spark warehouse's catalog admits one process"
        " at a time (docs/scaling-out.md)"
    ]
