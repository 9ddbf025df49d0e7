"""The one Settings object: each variable read, an empty one unset, a wrong one named in one line (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.settings import SHIPPED_DBT_PROJECT, Settings
from core.warehouse import Warehouse


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert (settings.target, settings.duckdb_path, settings.lock_timeout) == (
        "duckdb",
        Path("warehouse/warehouse.duckdb"),
        600.0,
    )
    assert (settings.pghost, settings.pgport, settings.pguser, settings.pgdatabase) == (
        "127.0.0.1",
        5432,
        "postgres",
        "warehouse",
    )
    assert settings.data_dir == Path("data/sample") and settings.reports_dir == Path("data/reports")
    assert settings.target_root == SHIPPED_DBT_PROJECT / "target"
    assert settings.data_docs_dir == Path("data_docs") and settings.api_key == ""


def test_each_variable_reaches_its_field() -> None:
    environ = {
        "ELT_TARGET": "POSTGRES",
        "ELT_DUCKDB_PATH": "/tmp/x.duckdb",
        "PGHOST": "db",
        "PGPORT": "6543",
        "PGUSER": "u",
        "PGPASSWORD": "p",
        "PGDATABASE": "w",
        "ELT_LOCK_TIMEOUT": "2.5",
        "ELT_DATA_DIR": "/d",
        "ELT_REPORTS_DIR": "/r",
        "ELT_DATA_DOCS_DIR": "/g",
        "ELT_DBT_PROJECT_DIR": "/p",
        "ELT_DBT_TARGET_ROOT": "/t",
        "ELT_API_KEY": "k",
        "ELT_API_SESSION_SECRET": "s",
        "ELT_COSMOS_MODE": "Local",
        "ELT_AIRFLOW_RETRIES": "0",
        "ELT_DUCKDB_MEMORY_LIMIT": "512MB",
    }
    s = Settings.from_env(environ)
    assert (s.target, s.duckdb_path, s.pghost, s.pgport, s.pguser, s.pgpassword, s.pgdatabase) == (
        "postgres",
        Path("/tmp/x.duckdb"),
        "db",
        6543,
        "u",
        "p",
        "w",
    )
    assert (s.lock_timeout, s.data_dir, s.reports_dir, s.data_docs_dir, s.dbt_project_dir, s.target_root) == (
        2.5,
        Path("/d"),
        Path("/r"),
        Path("/g"),
        Path("/p"),
        Path("/t"),
    )
    assert (s.api_key, s.api_session_secret, s.cosmos_mode, s.airflow_retries) == ("k", "s", "local", 0)
    warehouse = Warehouse.from_settings(s)
    assert warehouse.describe() == "postgres://u@db:6543/w" and warehouse.settings is s
    assert warehouse.dbt_env()["PGPORT"] == "6543" and s.duckdb_memory_limit == "512MB"
    assert warehouse.dbt_env()["ELT_DUCKDB_MEMORY_LIMIT"] == "512MB"  # profiles.yml hands it to dbt-duckdb


def test_an_override_wins_and_none_is_no_override() -> None:
    assert Settings.from_env({"ELT_TARGET": "postgres"}, target="duckdb").target == "duckdb"
    assert Settings.from_env({"ELT_TARGET": "postgres"}, target=None).target == "postgres"


@given(st.sampled_from(["ELT_TARGET", "PGPORT", "ELT_LOCK_TIMEOUT", "ELT_COSMOS_MODE", "ELT_AIRFLOW_RETRIES"]))
def test_an_empty_variable_counts_as_unset(name: str) -> None:
    assert Settings.from_env({name: ""}) == Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PGPORT", "54x"),
        ("ELT_TARGET", "oracle"),
        ("ELT_LOCK_TIMEOUT", "soon"),
        ("ELT_COSMOS_MODE", "kubernetes"),
        ("ELT_AIRFLOW_RETRIES", "-1"),
        ("ELT_DUCKDB_MEMORY_LIMIT", "2GB'; drop table x; --"),
    ],
)
def test_a_wrong_value_is_a_config_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} must be ") and message.endswith(f"got {value!r}")
    assert "\n" not in message and caught.value.exit_code == 2


def test_the_process_environment_is_read_by_the_cli(tmp_path: Path) -> None:
    """`elt` reads the process environment once at its start: a wrong value stops it with one line, exit 2."""
    env = {**os.environ, "PGPORT": "54x"}
    done = subprocess.run(
        [sys.executable, "-m", "elt", "load", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2
    assert done.stderr == "error: PGPORT must be a valid integer, unable to parse string as an integer, got '54x'\n"


def test_duckdb_takes_the_memory_limit(tmp_path: Path) -> None:
    """Every connection `elt` opens on DuckDB has the memory limit (the default keeps a scale-100 run in 4 GB)."""
    for value, shown in [(None, "1.8 GiB"), ("512MB", "488.2 MiB")]:
        environ = {"ELT_DUCKDB_PATH": str(tmp_path / "w.duckdb")} | (
            {"ELT_DUCKDB_MEMORY_LIMIT": value} if value else {}
        )
        warehouse = Warehouse.from_env("duckdb", environ=environ)
        for read_only in (False, True):
            conn = warehouse.connect(read_only=read_only)
            try:
                assert conn.execute("select current_setting('memory_limit')") == [(shown,)]
            finally:
                conn.close()
