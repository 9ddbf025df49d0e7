"""Mixed line endings (CRLF in one part of a file, LF in another): detected, normalised, loaded on both targets.

Unit tests of ingestion.line_endings (hypothesis, no warehouse), then loads of mixed files: the same raw rows
as the LF-only file, the file's own sha256 in the audit, no temporary copy left behind, refusals that name
the file, line and column.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.warehouse import Warehouse
from elt.cli import main
from ingestion import line_endings, loader
from ingestion.contract import SOURCES_BY_NAME
from ingestion.diagnose import lone_cr_error
from ingestion.line_endings import CR, CRLF, LF, detect, normalise
from ingestion.loader import load
from tests.ingestion.test_loader import data_rows, query

TERMINATORS = {LF: b"\n", CRLF: b"\r\n", CR: b"\r"}
UNIT = settings(max_examples=150, deadline=None, database=None)  # a few seconds in all


# ----------------------------------------------------------------------------------------- unit


def reference(data: bytes) -> tuple[bytes, set[str], int | None]:
    """What the module must compute, one byte at a time: the normalised bytes, the styles of the line breaks
    outside quotes, and the offset of the first lone CR outside quotes."""
    out, styles, lone_cr_at, in_quotes, i = bytearray(), set(), None, False, 0
    while i < len(data):
        byte = data[i : i + 1]
        if byte == b'"':
            in_quotes = not in_quotes
        elif not in_quotes and byte == b"\r":
            if data[i + 1 : i + 2] == b"\n":
                styles.add(CRLF)
                i += 1
            else:
                styles.add(CR)
                lone_cr_at = i if lone_cr_at is None else lone_cr_at
            byte = b"\n"
        elif not in_quotes and byte == b"\n":
            styles.add(LF)
        out += byte
        i += 1
    return bytes(out), styles, lone_cr_at


def normalised(data: bytes, chunk_size: int) -> bytes:
    dst = io.BytesIO()
    written = normalise(io.BytesIO(data), dst, chunk_size)
    assert written == len(dst.getvalue())
    return dst.getvalue()


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def quoted(field: str) -> str:
    return '"' + field.replace('"', '""') + '"' if re.search(r'[",\r\n]', field) else field


FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\r\né')), max_size=6)
ROWS = st.lists(st.lists(FIELD, min_size=1, max_size=4), min_size=1, max_size=12)
CHUNK = st.integers(min_value=1, max_value=16)


def written(rows: list[list[str]], endings: list[str], last_ended: bool) -> tuple[bytes, set[str], int | None]:
    """CSV bytes of `rows`, line i ending in endings[i] (the last line in none unless `last_ended`); with the
    styles of those line endings and the offset of the first lone CR among them."""
    data, used, lone_cr_at = b"", set(), None
    for number, (row, ending) in enumerate(zip(rows, endings, strict=True), 1):
        line = ",".join(quoted(f) for f in row) if row != [""] else '""'  # never a blank line
        data += line.encode()
        if number < len(rows) or last_ended:
            used.add(ending)
            if ending == CR and lone_cr_at is None:
                lone_cr_at = len(data)
            data += TERMINATORS[ending]
    return data, used, lone_cr_at


@st.composite
def csv_files(draw: st.DrawFn, styles: tuple[str, ...]) -> tuple[bytes, set[str], int | None]:
    rows = draw(ROWS)
    endings = draw(st.lists(st.sampled_from(styles), min_size=len(rows), max_size=len(rows)))
    return written(rows, endings, draw(st.booleans()))


@UNIT
@given(csv_files((LF, CRLF)), CHUNK)
def test_crlf_and_lf_detected_as_mixed_exactly_when_both_end_lines(file, chunk_size: int) -> None:
    data, used, _ = file
    found = detect(io.BytesIO(data), chunk_size)
    assert found.mixed == (used == {LF, CRLF})
    assert found.lone_cr_at is None
    if found.mixed:
        assert found.styles == used and found.describe() == "CRLF and LF"
    assert detect(io.BytesIO(data)) == found  # the default 1 MiB chunk agrees


@UNIT
@given(csv_files((LF, CRLF, CR)), CHUNK)
def test_normalised_bytes_parse_to_the_same_rows_and_lone_crs_are_found(file, chunk_size: int) -> None:
    data, used, lone_cr_at = file
    result = normalised(data, chunk_size)
    assert parse(result) == parse(data)  # quoted line breaks kept byte for byte, every other one is LF
    assert result == reference(data)[0]
    found = detect(io.BytesIO(data), chunk_size)
    assert found.lone_cr_at == lone_cr_at
    assert found.mixed == (len(used) > 1)
    if found.mixed or CR in used:
        assert found.styles == used


@UNIT
@given(st.binary(max_size=40).map(lambda b: bytes(b'a,"\r\n'[x % 5] for x in b)), CHUNK)
def test_any_bytes_even_broken_csv_match_the_byte_by_byte_reference(data: bytes, chunk_size: int) -> None:
    """Unbalanced quotes, CR and LF anywhere, a CR at every possible chunk boundary."""
    expected, styles, lone_cr_at = reference(data)
    assert normalised(data, chunk_size) == expected
    found = detect(io.BytesIO(data), chunk_size)
    assert found.mixed == (len(styles) > 1)
    assert found.lone_cr_at == lone_cr_at
    if len(styles) > 1 or CR in styles:
        assert found.styles == styles


def test_uniform_files_are_left_as_they_are() -> None:
    lf = b'a,b\n"x\r\ny",2\n"p\rq",3\n'  # line breaks inside quotes are data, of any style
    crlf = b'a,b\r\n"x\ny",2\r\n"p\rq",3\r\n'
    assert detect(io.BytesIO(lf)).styles == {LF} and not detect(io.BytesIO(lf)).mixed
    assert detect(io.BytesIO(crlf)).styles == {CRLF} and not detect(io.BytesIO(crlf)).mixed
    assert normalised(lf, 1 << 20) == lf
    assert detect(io.BytesIO(b"")).styles == frozenset()


def test_detect_reads_from_the_current_position() -> None:
    fh = io.BytesIO(b"skip\r\n" + b"a\r\nb\n")
    fh.seek(6)
    assert detect(fh, 2).styles == {CRLF, LF}


def test_normalised_copy_is_removed_when_the_block_exits(tmp_path: Path) -> None:
    source = tmp_path / "Sales.csv"
    source.write_bytes(b"a,b\r\n1,2\n")
    with line_endings.normalised_copy(source, tmp_path) as copy:
        assert copy.read_bytes() == b"a,b\n1,2\n" and copy.name.startswith("Sales.")
    assert not copy.exists()
    with pytest.raises(RuntimeError), line_endings.normalised_copy(source, tmp_path) as copy:
        raise RuntimeError("the load failed")
    assert not copy.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["Sales.csv"]


def test_lone_cr_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "Stores.csv"
    data = b'a,b,c\r\n1,"x\ry",3\n4,5\r6,7\n'
    path.write_bytes(data)
    found = detect(io.BytesIO(data))
    assert found.lone_cr_at == data.index(b"5\r") + 1
    error = lone_cr_error(path, found.lone_cr_at)
    assert (error.line, error.column) == (3, 2)
    assert str(error) == f"lone carriage return (CR) outside quotes: lines must end in LF or CRLF ({path}:3, column 2)"


# ----------------------------------------------------------------------------------------- loads


def mixed(data: bytes, crlf_first: bool) -> bytes:
    """`data` (LF lines) with the first half of its lines ending in CRLF and the rest in LF, or the reverse."""
    lines = data.split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    half = len(lines) // 2
    first, second = (b"\r\n", b"\n") if crlf_first else (b"\n", b"\r\n")
    return b"".join(line + first for line in lines[:half]) + b"".join(line + second for line in lines[half:])


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every normalised copy the loader makes in this test (it must be gone once the load returns)."""
    made: list[Path] = []
    real = loader.normalised_copy

    @contextlib.contextmanager
    def spy(path: Path, directory: Path | None = None) -> Iterator[Path]:
        with real(path, directory) as copy:
            made.append(copy)
            assert copy.is_file()
            yield copy

    monkeypatch.setattr(loader, "normalised_copy", spy)
    return made


def raw_rows(warehouse: Warehouse, source: str) -> list[tuple]:
    columns = ", ".join(SOURCES_BY_NAME[source].columns)
    return [tuple(r) for r in query(warehouse, f"select {columns}, _source_row from raw.{source} order by _source_row")]


def expected_rows(path: Path) -> list[tuple]:
    return [(*row, number) for number, row in enumerate(data_rows(path), 1)]


@pytest.mark.parametrize("crlf_first", [True, False], ids=["crlf_then_lf", "lf_then_crlf"])
def test_mixed_sales_loads_the_rows_of_the_lf_only_file(
    crlf_first: bool, warehouse: Warehouse, sample_dir: Path, tmp_path: Path, expected: dict, copies: list[Path]
) -> None:
    original = sample_dir / "Sales.csv"
    data = mixed(original.read_bytes(), crlf_first)
    (tmp_path / "Sales.csv").write_bytes(data)
    assert detect(io.BytesIO(data)).mixed
    out = io.StringIO()

    result = load(warehouse, tmp_path, sources=["sales"], out=out)

    rows = expected["files"]["Sales.csv"]["rows"]
    assert result.rows == rows == 62_884
    assert raw_rows(warehouse, "sales") == expected_rows(original)  # every value and _source_row
    audit = query(warehouse, f"select sha256, bytes, rows, status from audit.loads where load_id = '{result.load_id}'")
    assert audit == [(hashlib.sha256(data).hexdigest(), len(data), rows, "loaded")]
    assert "  Sales.csv            line endings normalised (CRLF and LF mixed)\n" in out.getvalue()
    # DuckDB reads a temporary copy, gone by now; Postgres COPY gets the normalised bytes as it reads the file.
    assert len(copies) == (1 if warehouse.target == "duckdb" else 0)
    assert not any(copy.exists() for copy in copies)


def test_quoted_line_breaks_in_a_mixed_file_are_kept_exactly(
    warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    with (sample_dir / "Stores.csv").open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    values = {1: "West\r\nern", 2: "Sou\nth", len(rows) - 2: 'Vic"\r\n"toria', len(rows) - 1: "Tas\nmania\r\n"}
    for index, value in values.items():
        rows[index][2] = value  # State
    lines = [",".join(quoted(f) for f in row) for row in [header, *rows]]
    half = len(lines) // 2
    data = ("".join(line + "\r\n" for line in lines[:half]) + "".join(line + "\n" for line in lines[half:])).encode()
    path = tmp_path / "Stores.csv"
    path.write_bytes(data)
    assert detect(io.BytesIO(data)).styles == {CRLF, LF}

    load(warehouse, tmp_path, sources=["stores"], out=None)

    got = raw_rows(warehouse, "stores")
    assert got == expected_rows(path)
    assert {index: got[index][2] for index in values} == values
    assert len(got) == len(rows)


def refuse(bad: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`elt load --only sales` of `bad`: exit code 2 and one line on stderr, returned."""
    capsys.readouterr()
    assert main(["load", "--data-dir", str(bad), "--only", "sales"]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("line", [101, 40_000], ids=["in_crlf_half", "in_lf_half"])
def test_ragged_row_in_a_mixed_file_names_file_line_and_column_and_leaves_no_copy(
    line: int,
    wh_env: dict[str, str],
    warehouse: Warehouse,
    sample_dir: Path,
    tmp_path: Path,
    copies: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lines = (sample_dir / "Sales.csv").read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1].rsplit(b",", 1)[0]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Sales.csv").write_bytes(mixed(b"\n".join(lines), crlf_first=True))

    err = refuse(bad, capsys)

    assert err == f"error: ragged row: 8 fields where the header has 9 ({bad / 'Sales.csv'}:{line}, column 9)\n"
    assert len(copies) == (1 if warehouse.target == "duckdb" else 0)
    assert not any(copy.exists() for copy in copies)
    assert not list(scratch.glob("Sales.*"))
    assert query(warehouse, "select file, status from audit.loads") == [("Sales.csv", "failed")]


def test_lone_cr_line_ending_is_refused_with_file_line_and_column(
    wh_env: dict[str, str], sample_dir: Path, tmp_path: Path, copies: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lines = mixed((sample_dir / "Sales.csv").read_bytes(), crlf_first=False).split(b"\n")
    bad = tmp_path / "bad"
    bad.mkdir()
    # Line 300 ends in a CR alone (an old Mac line ending), all others in LF or CRLF.
    (bad / "Sales.csv").write_bytes(b"\n".join(lines[:300]) + b"\r" + b"\n".join(lines[300:]))

    err = refuse(bad, capsys)

    path = bad / "Sales.csv"
    assert (
        err == f"error: lone carriage return (CR) outside quotes: lines must end in LF or CRLF ({path}:300, column 9)\n"
    )
    assert copies == []


def test_uniform_files_load_without_a_copy_or_a_word(
    warehouse: Warehouse, sample_dir: Path, tmp_path: Path, copies: list[Path]
) -> None:
    windows = tmp_path / "windows"
    windows.mkdir()
    (windows / "Stores.csv").write_bytes((sample_dir / "Stores.csv").read_bytes().replace(b"\n", b"\r\n"))
    for folder in (sample_dir, windows):
        out = io.StringIO()
        load(warehouse, folder, sources=["stores"], out=out)
        assert "normalised" not in out.getvalue()
        assert raw_rows(warehouse, "stores") == expected_rows(sample_dir / "Stores.csv")
    assert copies == []


def test_a_copy_the_warehouse_rejects_is_named_as_the_file(tmp_path: Path) -> None:
    """An engine message that names the normalised copy is reported under the file's own path."""
    source = tmp_path / "Sales.csv"
    source.write_bytes(b"x")
    copy = tmp_path / "Sales.123.lf.csv"
    cause = type("InvalidInputException", (Exception,), {})(f'Error reading "{copy}": bad')
    f = loader.FileLoad(SOURCES_BY_NAME["sales"], source)
    error = loader._explain(loader._FileRejected(f, cause, copy))
    assert isinstance(error, InputError) and str(copy) not in str(error) and str(source) in str(error)
