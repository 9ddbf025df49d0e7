"""Oversized input through `elt run` on a warehouse holding a good build: a 1 MiB field, a 64 MiB line and
a header of 10,000 columns. Each stops the run with exit 2 and one short line naming file, line and
column; nothing is lost; and the run's memory stays bounded (its peak RSS, measured by a fresh parent
process with getrusage(RUSAGE_CHILDREN), so no other child of the test counts)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.contract import MAX_LINE_BYTES, SOURCES_BY_NAME
from tests.dbt.conftest import copy_sample, rows
from tests.dbt.figures import expected_figures
from tests.faults.conftest import ELT, RUN_TIMEOUT, Built, error_line, figures
from tests.ingestion.test_loader import raw_snapshot

MIB = 1 << 20
PEAK_RSS_LIMIT = 1536 * MIB  # a whole good `elt run` peaks at about half of this
# Runs the command given after the output file, then writes the peak RSS of its children (KiB on Linux).
MEASURE = (
    "import resource, subprocess, sys;"
    "code = subprocess.call(sys.argv[2:]);"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss));"
    "sys.exit(code)"
)


def replace_field(folder: Path, file: str, line: int, column: int, value: bytes) -> bytes:
    """Put `value` in field `column` of line `line` (1-based, the header is line 1); the new line."""
    lines = (folder / file).read_bytes().split(b"\n")
    fields = lines[line - 1].split(b",")
    fields[column - 1] = value
    lines[line - 1] = b",".join(fields)
    (folder / file).write_bytes(b"\n".join(lines))
    return lines[line - 1]


def field_of_1_mib(folder: Path) -> tuple[str, str]:
    """A 1 MiB name in Customers.csv (valid CSV, but no real field comes near it)."""
    line = replace_field(folder, "Customers.csv", 12, 3, b"x" * MIB)
    where = f"{folder / 'Customers.csv'}:12, column 3"
    return "Customers.csv", f"line too long: {len(line):,} bytes, the limit is {MAX_LINE_BYTES:,} ({where})"


def line_of_64_mib(folder: Path) -> tuple[str, str]:
    """A 64 MiB currency code in Sales.csv: far past DuckDB's own line limit, and far more than any buffer."""
    line = replace_field(folder, "Sales.csv", 5000, 9, b"U" * (64 * MIB))
    where = f"{folder / 'Sales.csv'}:5000, column 9"
    return "Sales.csv", f"line too long: {len(line):,} bytes, the limit is {MAX_LINE_BYTES:,} ({where})"


def header_of_10000_columns(folder: Path) -> tuple[str, str]:
    """Sales.csv's nine columns followed by 9,991 more: a 180 KB header."""
    header = [*SOURCES_BY_NAME["sales"].header, *(f"Extra Column {n:05d}" for n in range(1, 9_992))]
    lines = (folder / "Sales.csv").read_bytes().split(b"\n")
    lines[0] = ",".join(header).encode()
    (folder / "Sales.csv").write_bytes(b"\n".join(lines))
    where = f"{folder / 'Sales.csv'}:1, column 10"
    return "Sales.csv", (
        f'header line longer than {MAX_LINE_BYTES:,} bytes: unexpected extra column "Extra Column 00001" ({where})'
    )


CASES: dict[str, Callable[[Path], tuple[str, str]]] = {
    "field_of_1_mib": field_of_1_mib,
    "line_of_64_mib": line_of_64_mib,
    "header_of_10000_columns": header_of_10000_columns,
}


@pytest.mark.parametrize("case", list(CASES))
def test_oversized_input_is_refused_in_one_short_line_with_bounded_memory(
    case: str, built: Built, sample_dir: Path, expected: dict, tmp_path: Path
) -> None:
    before = raw_snapshot(built.warehouse)
    bad = copy_sample(sample_dir, tmp_path / "bad")
    file, message = CASES[case](bad)
    peak_file = tmp_path / "peak-rss-kib"

    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(peak_file), *ELT, "run", "--data-dir", str(bad)]
        + ["--reports-dir", str(tmp_path / "reports")],
        env={**os.environ, **built.env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )

    last = error_line(done)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr
    assert last == f"error: {message}"
    assert len(last) < 400  # short: never the 10,000 names, never the field
    peak = int(peak_file.read_text()) * 1024
    print(f"{case}: peak RSS {peak / MIB:.0f} MiB")  # for the record (pytest -s)
    assert peak < PEAK_RSS_LIMIT

    assert raw_snapshot(built.warehouse) == before
    assert figures(built.warehouse) == expected_figures(expected)
    (failed,) = rows(built.warehouse, f"select * from audit.runs where run_id <> '{built.golden_run_id}'")
    assert (failed["status"], failed["error"]) == ("failed", message)
    loads = rows(
        built.warehouse,
        f"select file, error from audit.loads where load_id <> '{built.golden_load_id}' and status = 'failed'",
    )
    assert [(r["file"], r["error"]) for r in loads] == [(file, message)]
