"""`elt export`: the nine reports as CSV files (header + rows in key order), written by the warehouse itself."""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.warehouse import Warehouse
from orchestration.reports import REPORTS, report_query


def default_reports_dir() -> Path:
    """ELT_REPORTS_DIR, default data/reports."""
    return Path(os.environ.get("ELT_REPORTS_DIR") or "data/reports")


def export_reports(warehouse: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write `<report>.csv` for each of the nine reports into out_dir; return the rows written per report.

    DuckDB writes with `COPY ... TO`, Postgres streams `COPY ... TO STDOUT`; each file is written next to
    its final name and renamed, so a reader never sees half a file.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    conn = warehouse.connect(read_only=True)
    try:
        for name in REPORTS:
            final = out_dir / f"{name}.csv"
            partial = out_dir / f".{name}.csv.partial"
            query = report_query(name)
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
