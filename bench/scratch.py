"""Throw-away warehouses for the benchmarks: the environment of a fresh one in a temp folder (a DuckDB file,
a Spark folder, or a Postgres database `elt_bench_<pid>_<random>`), and dropping that database afterwards."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.warehouse import Warehouse


def scratch_env(target: str, workdir: Path) -> tuple[dict[str, str], str | None]:
    """The environment (os.environ plus) of a new empty warehouse of `target` with its dbt artifacts, logs,
    reports, Data Docs and lineage events in `workdir`; and the Postgres database's name (None on DuckDB and
    Spark), for drop_database."""
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "ELT_TARGET": target,
        "ELT_DUCKDB_PATH": str(workdir / f"{target}.duckdb"),
        "ELT_SPARK_DIR": str(workdir / "spark"),
        "ELT_DBT_TARGET_ROOT": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "ELT_REPORTS_DIR": str(workdir / f"reports-{target}"),
        "ELT_DATA_DOCS_DIR": str(workdir / "data_docs"),  # the Data Docs and lineage events of its runs too
        "ELT_LINEAGE_DIR": str(workdir / "lineage"),
    }
    if target in ("duckdb", "spark"):
        return env, None
    env["PGDATABASE"] = f"elt_bench_{os.getpid()}_{secrets.token_hex(4)}"
    return env, env["PGDATABASE"]


def drop_database(env: dict[str, str]) -> None:
    """Drop the Postgres database of a scratch_env (connected to the server's `postgres` database)."""
    import psycopg2

    params = Warehouse.from_env("postgres", environ=env).postgres
    con = psycopg2.connect(**params.connect_kwargs(dbname="postgres"))
    con.autocommit = True
    con.cursor().execute(f'drop database if exists "{params.dbname}" with (force)')
    con.close()
