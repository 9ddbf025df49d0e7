"""`elt export`: the reports as CSV files (header + rows in key order), written by the warehouse itself.

The reports and their keys are those of the target's manifest (core.dbt_project.reports): every model in
dbt_project/models/reports/.
"""

from __future__ import annotations

from pathlib import Path

from core.dbt_project import manifest_path, read_manifest, report_query, reports
from core.warehouse import Warehouse


def export_reports(warehouse: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write `<report>.csv` for each report of the target's manifest into out_dir; return the rows written
    per report name.

    Raises WarehouseError when the target has no manifest yet (nothing built or parsed). DuckDB writes
    with `COPY ... TO`, Postgres streams `COPY ... TO STDOUT`; each file is written next to
    its final name and renamed, so a reader never sees half a file.
    """
    keys = reports(read_manifest(manifest_path(warehouse)))
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    conn = warehouse.connect(read_only=True)
    try:
        for name, key in keys.items():
            final = out_dir / f"{name}.csv"
            partial = out_dir / f".{name}.csv.partial"
            query = report_query(name, key)
            if warehouse.target == "duckdb":
                target = str(partial).replace("'", "''")
                conn.raw.execute(f"copy ({query}) to '{target}' (format csv, header)")
            else:
                with partial.open("w", encoding="utf-8", newline="") as fh, conn.raw.cursor() as cur:
                    cur.copy_expert(f"copy ({query}) to stdout with (format csv, header)", fh)
            partial.replace(final)
            rows[name] = conn.scalar(f"select count(*) from reports.{name}")
    finally:
        conn.close()
    return rows
