"""Helpers of the messy-export tests: edit a copy of the sample cell by cell, run `elt` on it, read the
warehouse's status flags and reports next to tests/dbt/figures.py (which reads the rest).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.warehouse import Connection, Warehouse
from ingestion.contract import SOURCES_BY_NAME
from tests.dbt.figures import sales_figures, source_figures

ELT = [sys.executable, "-m", "elt.cli"]
RUN_TIMEOUT = 900  # seconds: only stops a hung run (a run takes 20-60 s here)

# The status columns of docs/cleaning-rules.md section 4, with the model holding each.
STATUS_COLUMNS = {
    "birthday_status": "marts.dim_customers",
    "age_status": "marts.dim_customers",
    "email_status": "marts.dim_customers",
    "square_meters_status": "marts.dim_stores",
    "open_date_status": "marts.dim_stores",
    "delivery_date_status": "marts.fct_sales",
}
# Report tables that only the build writes (the scorecard and the run summary are views over audit).
BUILT_REPORTS = (
    "customer_summary",
    "customer_segmentation",
    "order_status",
    "sales_trends_daily",
    "product_performance",
    "store_performance",
    "anomaly_detection",
)


# --------------------------------------------------------------------------------------------------
# Running elt
# --------------------------------------------------------------------------------------------------
def isolated_env(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """`env` plus a dbt target folder and log folder of our own (other builds on the machine use theirs)."""
    return {**env, "ELT_DBT_TARGET_ROOT": str(workdir / "dbt-target"), "DBT_LOG_PATH": str(workdir / "dbt-logs")}


def run_elt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`elt <args>` in a subprocess, as a user runs it, whatever its exit code."""
    return subprocess.run([*ELT, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def output(done: subprocess.CompletedProcess) -> str:
    """The end of a process's output, for failure messages."""
    return f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


# --------------------------------------------------------------------------------------------------
# Editing a CSV file cell by cell (every other line stays byte for byte as it was)
# --------------------------------------------------------------------------------------------------
def render(row: list[str]) -> str:
    """One CSV line (no line break) as the csv module writes it (quoted where needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


class CsvEdit:
    """A data file whose lines are its rows (no line break inside a field, like the generated files);
    `source_row` n is line n after the header."""

    def __init__(self, path: Path):
        self.path = path
        self.source = next(s for s in SOURCES_BY_NAME.values() if s.file == path.name)
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n") and "\r" not in text, path
        self.lines = text[:-1].split("\n")  # [header, row 1, row 2, ...]

    @property
    def rows(self) -> int:
        return len(self.lines) - 1

    def row(self, source_row: int) -> list[str]:
        return next(csv.reader([self.lines[source_row]]))

    def get(self, source_row: int, column: str) -> str:
        return self.row(source_row)[self.source.header.index(column)]

    def set(self, source_row: int, column: str, value: str) -> str:
        """Write `value` into one cell; returns the value it replaced."""
        row = self.row(source_row)
        i = self.source.header.index(column)
        old, row[i] = row[i], value
        self.lines[source_row] = render(row)
        return old

    def write(self, crlf_rows: int = 0) -> None:
        """Write the file back: the header and the first `crlf_rows` rows end in CRLF, the rest in LF."""
        crlf = "".join(line + "\r\n" for line in self.lines[: crlf_rows + 1]) if crlf_rows else ""
        rest = self.lines[crlf_rows + 1 :] if crlf_rows else self.lines
        self.path.write_bytes((crlf + "".join(line + "\n" for line in rest)).encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# Reading the warehouse
# --------------------------------------------------------------------------------------------------
def _pairs(conn: Connection, sql: str) -> dict[str, int]:
    return {str(key): value for key, value in conn.execute(sql)}


def flag_figures(conn: Connection) -> dict[str, dict[str, int]]:
    """Per status column, the count of each status (the shape of oracle.Truth.flag_figures)."""
    return {
        column: _pairs(conn, f"select {column}, count(*) from {model} group by 1")
        for column, model in STATUS_COLUMNS.items()
    }


def messy_figures(conn: Connection) -> dict[str, Any]:
    """`sources`, `sales` and `flags`: the shape of oracle.Truth.figures()."""
    return {"sources": source_figures(conn), "sales": sales_figures(conn), "flags": flag_figures(conn)}


def read(warehouse: Warehouse, reader: Any) -> Any:
    """`reader(conn)` on a read-only connection, closed after."""
    conn = warehouse.connect(read_only=True)
    try:
        return reader(conn)
    finally:
        conn.close()


def query(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    """The rows of one statement as dicts."""
    conn = warehouse.connect(read_only=True)
    try:
        names, found = conn.fetch(sql)
        return [dict(zip(names, row, strict=True)) for row in found]
    finally:
        conn.close()


_FLAG = re.compile(r"([a-z_]+_status):([a-z_]+)=([0-9]+)")


def scorecard_flags(conn: Connection) -> dict[str, tuple[int, dict[str, int]]]:
    """data_quality_scorecard per source: (flagged_values, {`column:status`: count} of flags_by_status)."""
    found = {}
    for source, flagged, by_status in conn.execute(
        "select source, flagged_values, flags_by_status from reports.data_quality_scorecard"
    ):
        parsed = {f"{c}:{s}": int(n) for c, s, n in _FLAG.findall(by_status or "")}
        found[source] = (int(flagged or 0), parsed)
    return found


def row_conservation(conn: Connection) -> dict[str, tuple[int, int]]:
    """Per source (raw rows, clean + exact duplicates + rejected rows): equal when every row is accounted for."""
    out = {}
    for name, src in source_figures(conn).items():
        out[name] = (src["raw_rows"], src["clean_rows"] + src["exact_duplicates"] + sum(src["rejected"].values()))
    return out


def reports_digest(conn: Connection) -> dict[str, tuple[int, str]]:
    """Per built report table: (rows, sha256 of its rows in a fixed order), to tell whether it changed."""
    digest = {}
    for table in BUILT_REPORTS:
        names, found = conn.fetch(f"select * from reports.{table}")
        text = "\n".join(sorted(repr(tuple(str(v) for v in row)) for row in found))
        digest[table] = (len(found), hashlib.sha256(f"{names}\n{text}".encode()).hexdigest())
    return digest
