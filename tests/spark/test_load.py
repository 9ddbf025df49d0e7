"""`elt load` on Spark: row counts, verbatim text ('' vs NULL, quoted line breaks, CRLF and mixed line endings),
`_source_row`, the audit rows, and every bad input of tests/ingestion giving the same error with raw unchanged.

One warehouse for the module (each new folder costs seconds of catalog creation): the fixture loads a crafted
Stores and Exchange_Rates file, then the good sample data once; each bad input must leave that load as it was.
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.warehouse import Warehouse
from elt.cli import main
from ingestion.contract import SOURCES
from ingestion.loader import LoadResult, _repair_spark, load
from tests.ingestion.test_loader import BAD_INPUTS, data_rows, query, raw_snapshot
from tests.spark.conftest import spark_warehouse

pytestmark = pytest.mark.spark

# Stores.csv with the cells whose text must arrive exactly as DuckDB and Postgres keep it: (row, State).
CRAFTED_STATES = {
    1: b'""',  # a quoted empty string: ''
    2: b"",  # an empty field: NULL
    3: b'"New\r\nYork"',  # a quoted CRLF (the file's lines end in LF and CRLF mixed)
    4: b'"Multi\nLine"',  # a quoted LF
    5: b'"say ""hi"""',  # doubled quotes
    6: b"\x01",  # U+0001 (Spark's reader must not take it for NULL)
    8: b'" padded "',  # spaces inside quotes stay
}
STATE_TEXT = {1: "", 2: None, 3: "New\r\nYork", 4: "Multi\nLine", 5: 'say "hi"', 6: "\x01", 8: " padded "}
CRAFTED = ("stores", "products", "exchange_rates")


def _set_field(line: bytes, index: int, value: bytes) -> bytes:
    fields = line.split(b",")
    fields[index] = value
    return b",".join(fields)


def _craft(folder: Path) -> None:
    """Stores.csv: the CRAFTED_STATES cells, a BOM, lines 2-30 ending in CRLF and the rest in LF. Products.csv:
    every line ending in CRLF, one name holding a quoted CRLF (Spark reads it through an LF copy). Exchange_Rates:
    every line ending in CRLF, one currency holding a stray quote (Spark reads the file as it is)."""
    stores = folder / "Stores.csv"
    lines = stores.read_bytes().split(b"\n")
    for row, state in CRAFTED_STATES.items():
        lines[row] = _set_field(lines[row], 2, state)
    text = b"".join(line + (b"\r\n" if 1 <= number < 30 else b"\n") for number, line in enumerate(lines[:-1]))
    stores.write_bytes(b"\xef\xbb\xbf" + text)
    products = folder / "Products.csv"
    lines = products.read_bytes().split(b"\n")
    lines[3] = _set_field(lines[3], 1, b'"Two\r\nLines"')
    products.write_bytes(b"\r\n".join(lines))
    rates = folder / "Exchange_Rates.csv"
    lines = rates.read_bytes().split(b"\n")
    lines[5] = _set_field(lines[5], 1, b'U"SD')
    rates.write_bytes(b"\r\n".join(lines))


@dataclass
class Loaded:
    """The module's warehouse after the crafted load and then the good one."""

    warehouse: Warehouse
    folder: Path
    crafted: Path
    crafted_output: str
    crafted_rows: dict[str, list[tuple]]
    view_after_reload: list[tuple]
    good: LoadResult
    before: dict[str, tuple]


def _settings(folder: Path) -> dict[str, str]:
    return {
        "ELT_TARGET": "spark",
        "ELT_SPARK_DIR": str(folder / "warehouse"),
        "ELT_DATA_DOCS_DIR": str(folder / "docs"),
        "ELT_LINEAGE_DIR": str(folder / "lineage"),
    }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Loaded:
    folder = tmp_path_factory.mktemp("spark-load")
    settings = _settings(folder)
    warehouse = spark_warehouse(folder / "warehouse", **{k: v for k, v in settings.items() if k != "ELT_SPARK_DIR"})
    crafted = folder / "crafted"
    shutil.copytree(sample_dir, crafted)
    _craft(crafted)
    out = io.StringIO()
    load(warehouse, crafted, sources=list(CRAFTED), out=out)
    crafted_rows = {table: query(warehouse, f"select * from raw.{table} order by _source_row") for table in CRAFTED}
    conn = warehouse.connect()
    conn.execute("create schema if not exists probe")  # dbt's staging views read raw tables by name
    conn.execute(
        "create or replace view probe.stores_count as select count(*) as n, min(_load_id) as id from raw.stores"
    )
    good = load(warehouse, sample_dir, out=None)
    view = query(warehouse, "select n, id from probe.stores_count")
    conn.execute("drop schema probe cascade")
    return Loaded(warehouse, folder, crafted, out.getvalue(), crafted_rows, view, good, raw_snapshot(warehouse))


def test_row_counts_source_rows_and_audit_rows(loaded: Loaded, sample_dir: Path, expected: dict) -> None:
    warehouse, good = loaded.warehouse, loaded.good
    for source in SOURCES:
        rows, first, last, load_ids, load_id = query(
            warehouse,
            f"select count(*), min(_source_row), max(_source_row), count(distinct _load_id), min(_load_id)"
            f" from raw.{source.name}",
        )[0]
        assert rows == expected["files"][source.file]["rows"], source.file
        assert (first, last, load_ids, load_id) == (1, rows, 1, good.load_id)
        types = query(warehouse, f"describe raw.{source.name}")
        assert [(name, kind) for name, kind, _ in types] == [
            *((c, "string") for c in source.columns),
            ("_source_row", "bigint"),
            ("_load_id", "string"),
        ]
    assert {f.source.name: f.rows for f in good.files} == {s.name: expected["files"][s.file]["rows"] for s in SOURCES}
    audit = query(
        warehouse,
        "select file, sha256, bytes, rows, status, error, finished_at >= started_at from audit.loads"
        f" where load_id = '{good.load_id}' order by file",
    )
    assert audit == sorted(
        (s.file, *(expected["files"][s.file][k] for k in ("sha256", "bytes", "rows")), "loaded", None, True)
        for s in SOURCES
    )
    validations = query(
        warehouse,
        "select file, expectation, column_name, success from audit.validations"
        f" where load_id = '{good.load_id}' order by 1, 2, 3",
    )
    outcomes = sorted(
        (f.source.file, o.expectation, o.column, o.success) for f in good.files for o in f.validation.outcomes
    )
    assert validations == outcomes  # each expectation recorded once
    assert {s.file for s in SOURCES} == {row[0] for row in validations}
    assert not [f.validation.errors for f in good.files if f.validation.errors]
    # The crafted load before it: its own audit rows, and no table left behind.
    assert len(query(warehouse, f"select distinct load_id from audit.loads where load_id <> '{good.load_id}'")) == 1
    assert loaded.before["__tables__"] == tuple(sorted(s.name for s in SOURCES))


def test_raw_tables_hold_the_files_verbatim(loaded: Loaded, sample_dir: Path, expected: dict) -> None:
    for source in SOURCES:
        got = query(loaded.warehouse, f"select * from raw.{source.name} order by _source_row")
        want = [
            (*row, number, loaded.good.load_id) for number, row in enumerate(data_rows(sample_dir / source.file), 1)
        ]
        assert got == want, source.file
    # Views reading raw (dbt's staging views) read the new table after a reload.
    assert loaded.view_after_reload == [(expected["files"]["Stores.csv"]["rows"], loaded.good.load_id)]


def test_quoted_text_line_endings_and_nulls_arrive_as_on_duckdb(loaded: Loaded, tmp_path: Path) -> None:
    stores = loaded.crafted_rows["stores"]
    assert {row: stores[row - 1][2] for row in CRAFTED_STATES} == STATE_TEXT
    assert [r[-2] for r in stores] == list(range(1, 68))
    assert loaded.crafted_rows["products"][2][1] == "Two\r\nLines"
    assert loaded.crafted_rows["exchange_rates"][4][1] == 'U"SD'
    # The copy of a CRLF file is made silently; only mixed line endings are reported.
    assert re.findall(r"(\S+) +line endings normalised \((.*)\)", loaded.crafted_output) == [
        ("Stores.csv", "CRLF and LF mixed")
    ]
    duckdb = Warehouse.from_env(
        "duckdb", {"ELT_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "ELT_DATA_DOCS_DIR": str(tmp_path / "docs")}
    )
    load(duckdb, loaded.crafted, sources=list(CRAFTED), out=None)
    for table, rows in loaded.crafted_rows.items():
        on_duckdb = query(duckdb, f"select * exclude (_load_id) from raw.{table} order by _source_row")
        assert [row[:-1] for row in rows] == on_duckdb, table


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_the_same_error_and_leaves_raw_unchanged(
    case: str,
    loaded: Loaded,
    sample_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mutate, file, message, line, column = BAD_INPUTS[case]
    bad = tmp_path / "bad"
    shutil.copytree(sample_dir, bad)
    mutate(bad)
    for key, value in _settings(loaded.folder).items():
        monkeypatch.setenv(key, value)
    earlier = {row[0] for row in query(loaded.warehouse, "select distinct load_id from audit.loads")}
    capsys.readouterr()

    code = main(["load", "--data-dir", str(bad)])

    err = capsys.readouterr().err
    where = str(bad / file) + (f":{line}" if line else "") + (f", column {column}" if column else "")
    assert code == 2
    assert re.fullmatch(rf"error: {message} \({re.escape(where)}\)\n", err), err
    assert raw_snapshot(loaded.warehouse) == loaded.before
    attempt = [
        row[1:]
        for row in query(loaded.warehouse, "select load_id, file, status, error from audit.loads order by file")
        if row[0] not in earlier
    ]
    assert attempt == [
        (f, "failed", err.removeprefix("error: ").strip())
        if f == file
        else (f, "aborted", f"not loaded: {file} failed")
        for f in sorted(s.file for s in SOURCES)
    ]


def test_leftovers_of_a_killed_load_are_repaired(loaded: Loaded) -> None:
    """A load killed between the two renames of a swap leaves raw.<t> as raw._replaced_<t>; one killed while
    staging leaves raw._loading_<t>: the repair the next load starts with puts raw back as it was."""
    conn = loaded.warehouse.connect()
    conn.execute("alter table raw.stores rename to raw._replaced_stores")
    conn.execute("create table raw._loading_sales using parquet as select * from raw.sales limit 5")
    _repair_spark(conn, list(SOURCES))
    assert raw_snapshot(loaded.warehouse) == loaded.before
