"""`elt load` on both warehouses: row counts, verbatim text, atomic replace, audit, bad input, lock, kill."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from elt.cli import main
from ingestion.contract import SOURCES, SOURCES_BY_NAME
from ingestion.loader import load

ELT = [sys.executable, "-m", "elt.cli"]


def query(warehouse: Warehouse, statement: str) -> list[tuple]:
    """Rows of one read-only statement."""
    conn = warehouse.connect()
    try:
        return conn.execute(statement)
    finally:
        conn.close()


def raw_snapshot(warehouse: Warehouse) -> dict[str, tuple]:
    """Every raw table's row count, load ids and a hash of all its values in file order."""
    if warehouse.target == "spark":
        return _spark_raw_snapshot(warehouse)
    tables = sorted(
        r[0] for r in query(warehouse, "select table_name from information_schema.tables where table_schema = 'raw'")
    )
    snapshot: dict[str, tuple] = {"__tables__": tuple(tables)}
    for table in tables:
        columns = SOURCES_BY_NAME[table].columns if table in SOURCES_BY_NAME else ("_source_row",)
        row_text = f"concat_ws('|', {', '.join(columns)})"
        snapshot[table] = query(
            warehouse,
            f"select count(*), min(_load_id), max(_load_id),"
            f" md5(string_agg({row_text}, chr(10) order by _source_row)) from raw.{table}",
        )[0]
    return snapshot


def _spark_raw_snapshot(warehouse: Warehouse) -> dict[str, tuple]:
    """raw_snapshot on Spark: its catalog has no information_schema, and one query for all tables saves the
    per-statement overhead."""
    tables = sorted(r[1] for r in query(warehouse, "show tables in raw"))
    snapshot: dict[str, tuple] = {"__tables__": tuple(tables)}
    parts = []
    for table in tables:
        columns = SOURCES_BY_NAME[table].columns if table in SOURCES_BY_NAME else ("_source_row",)
        row_text = f"concat_ws('|', {', '.join(f'`{c}`' for c in columns)})"
        parts.append(
            f"select '{table}', count(*), min(_load_id), max(_load_id),"
            f" md5(string_agg({row_text}, chr(10)) within group (order by _source_row)) from raw.`{table}`"
        )
    for table, *values in query(warehouse, " union all ".join(parts)) if parts else []:
        snapshot[table] = tuple(values)
    return snapshot


def data_rows(path: Path) -> list[list[str | None]]:
    """The file's data rows as the csv module reads them, empty fields as None (the raw tables' NULL)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    return [[value if value != "" else None for value in row] for row in rows]


def line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def test_row_counts_equal_file_lines(warehouse: Warehouse, sample_dir: Path, expected: dict) -> None:
    result = load(warehouse, sample_dir, out=None)
    for source in SOURCES:
        path = sample_dir / source.file
        rows, min_row, max_row, load_ids = query(
            warehouse,
            f"select count(*), min(_source_row), max(_source_row), count(distinct _load_id) from raw.{source.name}",
        )[0]
        assert rows == line_count(path) - 1 == expected["files"][source.file]["rows"], source.file
        assert (min_row, max_row, load_ids) == (1, rows, 1)
    assert result.rows == sum(expected["files"][s.file]["rows"] for s in SOURCES)
    assert {f.source.name: f.rows for f in result.files} == {s.name: expected["files"][s.file]["rows"] for s in SOURCES}


def test_raw_tables_hold_the_files_verbatim_as_text(warehouse: Warehouse, sample_dir: Path) -> None:
    result = load(warehouse, sample_dir, out=None)
    for source in SOURCES:
        columns = ", ".join(source.columns)
        got = query(warehouse, f"select {columns}, _source_row, _load_id from raw.{source.name} order by _source_row")
        want = [(*row, number, result.load_id) for number, row in enumerate(data_rows(sample_dir / source.file), 1)]
        assert [tuple(r) for r in got] == want, source.file
        types = query(
            warehouse,
            "select column_name, data_type from information_schema.columns"
            f" where table_schema = 'raw' and table_name = '{source.name}' order by ordinal_position",
        )
        assert [name for name, _ in types] == [*source.columns, "_source_row", "_load_id"]
        assert {t.lower() for name, t in types if not name.startswith("_")} <= {"text", "varchar"}
    # The quirks arrive untouched: prices with `$`, thousands comma and trailing space; zero-padded keys.
    price, category_key = query(
        warehouse, "select unit_price_usd, category_key from raw.products where _source_row = 1"
    )[0]
    assert re.fullmatch(r"\$[\d,]+\.\d\d ", price) and re.fullmatch(r"0\d", category_key)


def test_reload_replaces_not_appends(warehouse: Warehouse, sample_dir: Path, expected: dict) -> None:
    first = load(warehouse, sample_dir, out=None)
    second = load(warehouse, sample_dir, out=None)
    assert first.load_id != second.load_id
    for source in SOURCES:
        rows, load_ids = query(warehouse, f"select count(*), min(_load_id) from raw.{source.name}")[0]
        assert rows == expected["files"][source.file]["rows"]
        assert load_ids == second.load_id
    assert query(
        warehouse, "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
    ) == [(s,) for s in sorted(s.name for s in SOURCES)]
    audit = query(
        warehouse,
        "select load_id, status, count(*), cast(sum(rows) as bigint) from audit.loads group by 1, 2 order by 1",
    )
    total = sum(expected["files"][s.file]["rows"] for s in SOURCES)
    assert audit == [(first.load_id, "loaded", 5, total), (second.load_id, "loaded", 5, total)]


def test_audit_row_records_file_hash_and_size(warehouse: Warehouse, sample_dir: Path, expected: dict) -> None:
    result = load(warehouse, sample_dir, out=None)
    rows = query(
        warehouse,
        "select file, sha256, bytes, rows, status, error, finished_at >= started_at from audit.loads"
        f" where load_id = '{result.load_id}' order by file",
    )
    assert rows == sorted(
        (
            s.file,
            expected["files"][s.file]["sha256"],
            expected["files"][s.file]["bytes"],
            expected["files"][s.file]["rows"],
            "loaded",
            None,
            True,
        )
        for s in SOURCES
    )


def test_views_reading_raw_follow_a_reload(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    """dbt's staging views read raw tables; a reload must neither break them nor leave them on old data (on
    Postgres they are re-created from their own definitions, which may hold a literal `?` or `%`)."""
    load(warehouse, sample_dir, out=None)
    conn = warehouse.connect()
    conn.execute("create schema if not exists probe")
    conn.execute("create view probe.stores_count as select count(*) as n, min(_load_id) as load_id from raw.stores")
    conn.execute("create view probe.asking as select '?' as q, '100%' as pct, count(*) as n from raw.stores")
    conn.close()
    smaller = tmp_path / "smaller"
    shutil.copytree(sample_dir, smaller)
    lines = (smaller / "Stores.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (smaller / "Stores.csv").write_text("".join(lines[:11]), encoding="utf-8")
    second = load(warehouse, smaller, out=None)
    assert query(warehouse, "select n, load_id from probe.stores_count") == [(10, second.load_id)]
    assert query(warehouse, "select q, pct, n from probe.asking") == [("?", "100%", 10)]


def test_only_selected_sources_are_replaced(warehouse: Warehouse, sample_dir: Path) -> None:
    first = load(warehouse, sample_dir, out=None)
    second = load(warehouse, sample_dir, sources=["sales"], out=None)
    load_ids = dict(
        query(
            warehouse,
            "select 'sales', min(_load_id) from raw.sales union all select 'stores', min(_load_id) from raw.stores",
        )
    )
    assert load_ids == {"sales": second.load_id, "stores": first.load_id}


# ----------------------------------------------------------------------------------------- bad input


def _append(file: str, text: bytes) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        with (d / file).open("ab") as fh:
            fh.write(text)

    return mutate


def _replace_line(file: str, number: int, make: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(d: Path) -> None:
        lines = (d / file).read_bytes().split(b"\n")
        lines[number - 1] = make(lines[number - 1])
        (d / file).write_bytes(b"\n".join(lines))

    return mutate


def _rewrite_header(file: str, make: Callable[[str], str]) -> Callable[[Path], None]:
    return _replace_line(file, 1, lambda line: make(line.decode()).encode())


def _first_field_to_bad_utf8(line: bytes) -> bytes:
    fields = line.split(b",")
    fields[2] = b"J\xf6rg"  # Latin-1 'ö': not UTF-8
    return b",".join(fields)


def _open_quote_in_third_field(line: bytes) -> bytes:
    fields = line.split(b",")
    fields[2] = b'"' + fields[2]
    return b",".join(fields)


BAD_INPUTS = {
    # case: (mutation, file, message pattern, line, column)
    "missing_file": (lambda d: (d / "Products.csv").unlink(), "Products.csv", r"missing file", None, None),
    "empty_file": (lambda d: (d / "Stores.csv").write_bytes(b""), "Stores.csv", r"empty file: no header line", 1, None),
    "header_only": (
        lambda d: (d / "Stores.csv").write_bytes((d / "Stores.csv").read_bytes().split(b"\n")[0] + b"\n"),
        "Stores.csv",
        r"no data rows after the header",
        2,
        None,
    ),
    "renamed_column": (
        _rewrite_header("Customers.csv", lambda h: h.replace(",Name,", ",Full Name,")),
        "Customers.csv",
        r'renamed column: found "Full Name", expected "Name"',
        1,
        3,
    ),
    "missing_column": (
        _rewrite_header("Customers.csv", lambda h: h.replace(",Email", "")),
        "Customers.csv",
        r'missing column "Email"',
        1,
        12,
    ),
    "extra_column": (
        _rewrite_header("Sales.csv", lambda h: h + ",Discount"),
        "Sales.csv",
        r'unexpected extra column "Discount"',
        1,
        10,
    ),
    "ragged_row_short": (
        _replace_line("Sales.csv", 101, lambda line: line.rsplit(b",", 1)[0]),
        "Sales.csv",
        r"ragged row: 8 fields where the header has 9",
        101,
        9,
    ),
    "ragged_row_long": (
        _replace_line("Exchange_Rates.csv", 7, lambda line: line + b",0.5"),
        "Exchange_Rates.csv",
        r"ragged row: 4 fields where the header has 3",
        7,
        4,
    ),
    "invalid_utf8": (
        _replace_line("Customers.csv", 50, _first_field_to_bad_utf8),
        "Customers.csv",
        r"invalid UTF-8 byte 0xf6",
        50,
        3,
    ),
    "blank_line": (
        _replace_line("Sales.csv", 300, lambda line: b"\n" + line),
        "Sales.csv",
        r"blank line",
        300,
        None,
    ),
    "unterminated_quote": (
        _replace_line("Sales.csv", 200, _open_quote_in_third_field),
        "Sales.csv",
        r"unterminated quoted field",
        200,
        3,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_names_file_line_column_and_leaves_raw_unchanged(
    case: str, warehouse: Warehouse, sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, file, message, line, column = BAD_INPUTS[case]
    load(warehouse, sample_dir, out=None)
    before = raw_snapshot(warehouse)
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    mutate(bad)
    capsys.readouterr()

    code = main(["load", "--data-dir", str(bad)])

    err = capsys.readouterr().err
    where = str(bad / file) + (f":{line}" if line else "") + (f", column {column}" if column else "")
    assert code == 2
    assert re.fullmatch(rf"error: {message} \({re.escape(where)}\)\n", err), err
    assert raw_snapshot(warehouse) == before
    failed = query(warehouse, "select file, error from audit.loads where status = 'failed'")
    assert failed == [(file, err.removeprefix("error: ").strip())]


def test_bad_input_via_console_script_prints_one_line_no_traceback(
    wh_env: dict[str, str], sample_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    BAD_INPUTS["ragged_row_short"][0](bad)
    proc = subprocess.run(
        [*ELT, "load", "--data-dir", str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, **wh_env},
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"error: ragged row: 8 fields where the header has 9 ({bad / 'Sales.csv'}:101, column 9)\n"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_bad_file_in_a_multi_file_load_swaps_in_none(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    """Customers.csv is fine and loads first, Sales.csv is bad: raw.customers must stay the old one."""
    first = load(warehouse, sample_dir, out=None)
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    BAD_INPUTS["unterminated_quote"][0](bad)
    with pytest.raises(Exception, match="unterminated quoted field"):
        load(warehouse, bad, out=None)
    assert query(warehouse, "select distinct _load_id from raw.customers") == [(first.load_id,)]
    statuses = dict(query(warehouse, "select file, status from audit.loads where load_id <> '" + first.load_id + "'"))
    assert statuses == {
        "Customers.csv": "aborted",
        "Products.csv": "aborted",
        "Stores.csv": "aborted",
        "Sales.csv": "failed",
        "Exchange_Rates.csv": "aborted",
    }


def test_crlf_line_endings_and_bom_load_the_same_rows(warehouse: Warehouse, sample_dir: Path, tmp_path: Path) -> None:
    windows = tmp_path / "windows"
    shutil.copytree(sample_dir, windows)
    stores = windows / "Stores.csv"
    stores.write_bytes(b"\xef\xbb\xbf" + stores.read_bytes().replace(b"\n", b"\r\n"))
    load(warehouse, windows, out=None)
    got = query(
        warehouse, "select store_key, country, state, square_meters, open_date from raw.stores order by _source_row"
    )
    assert [tuple(r) for r in got] == [tuple(r) for r in data_rows(sample_dir / "Stores.csv")]


# ----------------------------------------------------------------------------------------- lock


def test_second_load_waits_for_the_lock_then_fails_clearly(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path
) -> None:
    with warehouse.lock(timeout=5):
        proc = subprocess.run(
            [*ELT, "load", "--data-dir", str(sample_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **wh_env, "ELT_LOCK_TIMEOUT": "1"},
        )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        f"error: another run holds the warehouse lock on {warehouse.describe()} (waited 1 s)"
    )


def test_second_load_proceeds_once_the_lock_is_released(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path
) -> None:
    with warehouse.lock(timeout=5):
        proc = subprocess.Popen(
            [*ELT, "load", "--data-dir", str(sample_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **wh_env, "ELT_LOCK_TIMEOUT": "120"},
        )
        deadline = time.monotonic() + 60
        while "waiting" not in (line := proc.stderr.readline()) and time.monotonic() < deadline:
            pass
        assert line.startswith("waiting: another run holds the warehouse lock")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert query(warehouse, "select count(*) from audit.loads where status = 'loaded'") == [(5,)]


# ----------------------------------------------------------------------------------------- kill


@pytest.mark.postgres
@pytest.mark.parametrize("target", ["postgres"], indirect=True)
def test_killed_postgres_load_leaves_previous_raw_intact(
    wh_env: dict[str, str], warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    first = load(warehouse, sample_dir, out=None)
    before = raw_snapshot(warehouse)
    big = tmp_path / "big"
    big.mkdir()
    header, *lines = (sample_dir / "Sales.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    with (big / "Sales.csv").open("w", encoding="utf-8") as fh:  # ~1.9M lines: COPY runs for seconds
        fh.write(header)
        for copy in range(30):
            fh.writelines(f"{copy}{line}" for line in lines)

    proc = subprocess.Popen(
        [*ELT, "load", "--data-dir", str(big), "--only", "sales"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **wh_env},
    )
    conn = warehouse.connect()
    try:
        deadline = time.monotonic() + 60
        progress = []
        while not progress and time.monotonic() < deadline and proc.poll() is None:
            progress = conn.execute(
                # The table being filled is not visible to us yet (its CREATE is uncommitted): match on the database.
                "select pid from pg_stat_progress_copy"
                " where datname = current_database() and command = 'COPY FROM' and tuples_processed > 0"
            )
            time.sleep(0.02)
        assert progress, "the COPY never showed up in pg_stat_progress_copy"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        backend = progress[0][0]
        while conn.execute("select 1 from pg_stat_activity where pid = ?", (backend,)) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        conn.close()

    assert raw_snapshot(warehouse) == before
    assert query(
        warehouse, "select status, count(*) from audit.loads where load_id <> '" + first.load_id + "' group by 1"
    ) == [("running", 1)]
    again = load(warehouse, sample_dir, out=None)
    assert query(warehouse, "select min(_load_id), count(*) from raw.sales")[0][0] == again.load_id
    assert query(warehouse, "select status, count(*) from audit.loads group by 1 order by 1") == [
        ("interrupted", 1),
        ("loaded", 10),
    ]
