"""What a command needs the warehouse to hold before it starts, checked first so that it stops with one line
saying which command to run (exit code 2) instead of a catalog error from the middle of dbt or a query:
`elt build` needs the five raw tables loaded, `elt export` a published build (its manifest and its report
tables).
"""

from __future__ import annotations

from pathlib import Path

from core.dbt_project import manifest_path
from core.errors import EltError
from core.warehouse import Connection, Warehouse
from ingestion.contract import SOURCES

RUN_A_BUILD = "run a build first (`elt run`, or `elt load` then `elt build`)"
RUN_A_LOAD = "run a load first (`elt run`, or `elt load`)"


class NotReady(EltError):
    """The warehouse does not hold yet what the command reads (nothing loaded, nothing built): exit code 2."""

    exit_code = 2


def tables_in(conn: Connection, schema: str) -> set[str]:
    """The names of the tables and views in `schema` (empty when the schema does not exist)."""
    if conn.target == "spark":  # no information_schema: the catalog's listing
        from core import spark

        return spark.tables(conn.raw, schema)
    found = conn.execute("select table_name from information_schema.tables where table_schema = ?", (schema,))
    return {name for (name,) in found}


def _exists(warehouse: Warehouse) -> bool:
    """False when the warehouse was never written: no DuckDB file, no Spark catalog (`metastore_db`) in its
    folder; Postgres: True (its database is made on connect). Checked without opening it (opening a
    Spark folder that has no catalog would make one, which takes half a minute)."""
    if warehouse.target == "duckdb":
        return Path(warehouse.duckdb_path).is_file()
    if warehouse.target == "spark":
        return (warehouse.spark_dir / "metastore_db").is_dir()
    return True


def require_loaded(warehouse: Warehouse) -> None:
    """NotReady unless the five raw tables exist (`nothing loaded yet on <warehouse>: run a load first ...`,
    or `raw.<table> not loaded yet on ...`). Take the warehouse lock first when a load may be running."""
    if not _exists(warehouse):
        raise NotReady(f"nothing loaded yet on {warehouse.describe()}: {RUN_A_LOAD}")
    conn = warehouse.connect(read_only=True)
    try:
        present = tables_in(conn, "raw")
    finally:
        conn.close()
    missing = [f"raw.{source.name}" for source in SOURCES if source.name not in present]
    if len(missing) == len(SOURCES):
        raise NotReady(f"nothing loaded yet on {warehouse.describe()}: {RUN_A_LOAD}")
    if missing:
        raise NotReady(f"{', '.join(missing)} not loaded yet on {warehouse.describe()}: {RUN_A_LOAD}")


def require_manifest(warehouse: Warehouse) -> Path:
    """The target's manifest.json; NotReady (`nothing built yet ...`) when no build wrote one yet."""
    path = manifest_path(warehouse)
    if not path.is_file():
        raise NotReady(f"nothing built yet on {warehouse.describe()} (no dbt manifest at {path}): {RUN_A_BUILD}")
    if not _exists(warehouse):
        raise NotReady(f"nothing built yet on {warehouse.describe()}: {RUN_A_BUILD}")
    return path


def require_tables(conn: Connection, warehouse: Warehouse, schema: str, names: list[str]) -> None:
    """NotReady unless every table `names` exists in `schema` (read on `conn`): `nothing built yet on ...`
    when none does, else `reports.x, reports.y not built yet on ...`."""
    present = tables_in(conn, schema)
    missing = [f"{schema}.{name}" for name in names if name not in present]
    if missing and len(missing) == len(names):
        raise NotReady(f"nothing built yet on {warehouse.describe()}: {RUN_A_BUILD}")
    if missing:
        raise NotReady(f"{', '.join(missing)} not built yet on {warehouse.describe()}: {RUN_A_BUILD}")
