"""`elt export`: the reports as CSV files (header + rows in key order), written by the warehouse itself.

The reports and their keys are those of the target's manifest (core.dbt_project.reports): every model in
dbt_project/models/reports/.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.dbt_project import read_manifest, report_query, reports
from core.errors import ConfigError
from core.warehouse import Warehouse
from orchestration.readiness import require_manifest, require_tables

if TYPE_CHECKING:
    import pyarrow


def export_reports(warehouse: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write `<report>.csv` for each report of the target's manifest into out_dir; return the rows written
    per report name.

    Raises ConfigError (exit code 2) when out_dir is not a folder that can be made or written (`not a
    folder: <path>`: it or a folder above it is a file), and NotReady (exit code 2, `nothing built yet on
    <warehouse>: run a build first ...`) before writing anything when no build was published yet (no
    manifest, or report tables missing). DuckDB writes with `COPY ... TO`, Postgres streams
    `COPY ... TO STDOUT`, Spark's rows go through Arrow to DuckDB's CSV writer (write_arrow_csv: the same
    text as a DuckDB export of the same values); each file is written next to its final name and renamed,
    so a reader never sees half a file.
    """
    out_dir = Path(out_dir).resolve()
    check_folder(out_dir)
    keys = reports(read_manifest(require_manifest(warehouse)))
    rows: dict[str, int] = {}
    conn = warehouse.connect(read_only=True)
    try:
        require_tables(conn, warehouse, "reports", list(keys))
        _make_folder(out_dir)
        for name, key in keys.items():
            final = out_dir / f"{name}.csv"
            partial = out_dir / f".{name}.csv.partial"
            query = report_query(name, key)
            if warehouse.target == "duckdb":
                target = str(partial).replace("'", "''")
                conn.raw.execute(f"copy ({query}) to '{target}' (format csv, header)")
            elif warehouse.target == "spark":
                write_arrow_csv(conn.raw.sql(query).toArrow(), partial)
            else:
                with partial.open("w", encoding="utf-8", newline="") as fh, conn.raw.cursor() as cur:
                    cur.copy_expert(f"copy ({query}) to stdout with (format csv, header)", fh)
            partial.replace(final)
            rows[name] = conn.scalar(f"select count(*) from reports.{name}")
    finally:
        conn.close()
    return rows


def write_arrow_csv(table: pyarrow.Table, path: Path) -> None:
    """Write an Arrow table to `path` as DuckDB's `COPY ... TO (format csv, header)` writes it: header, then
    the rows in order; a field quoted only when it holds a comma, a quote or a line break; null as an empty
    field; decimals with their scale (`2.50`), dates `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    DuckDB writes it (in memory, one thread, so the order stays): the same bytes as a DuckDB warehouse's
    export of the same values and types. Raises duckdb.Error when the file cannot be written."""
    import duckdb

    target = str(path).replace("'", "''")
    with duckdb.connect(":memory:", config={"threads": 1}) as db:
        db.register("elt_export", table)
        db.execute(f"copy (select * from elt_export) to '{target}' (format csv, header)")


def check_folder(folder: Path) -> None:
    """ConfigError `not a folder: <path>` when `folder`, or the nearest existing path above it, is not a folder."""
    existing = next((path for path in (folder, *folder.parents) if path.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"not a folder: {existing}" + (f" (in {folder})" if existing != folder else ""))


def _make_folder(folder: Path) -> None:
    """`folder` and the folders above it made if missing; ConfigError when the system refuses (one line)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        check_folder(folder)
        raise
    except OSError as exc:
        raise ConfigError(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
