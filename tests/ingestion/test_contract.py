"""Header contract and defect finder, on small hand-written files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.errors import InputError
from ingestion.contract import MAX_HEADER_BYTES, MAX_LINE_BYTES, SOURCES_BY_NAME, check_header, snake_case
from ingestion.diagnose import MAX_FIELD_CHARS, LineLengthCheck, find_defect

STORES = SOURCES_BY_NAME["stores"]
HEADER = "StoreKey,Country,State,Square Meters,Open Date"


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Order Number", "order_number"),
        ("Unit Price USD", "unit_price_usd"),
        ("CustomerKey", "customer_key"),
        ("SubcategoryKey", "subcategory_key"),
        ("State Code", "state_code"),
        ("Exchange", "exchange"),
    ],
)
def test_snake_case_of_headers(header: str, column: str) -> None:
    assert snake_case(header) == column


def write(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / "Stores.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("header", "message", "column"),
    [
        ("StoreKey,Country,Region,Square Meters,Open Date", 'renamed column: found "Region", expected "State"', 3),
        ("StoreKey,Country,State,Square Meters", 'missing column "Open Date"', 5),
        ("StoreKey,Country,Square Meters,Open Date", 'missing column "State"', 3),
        (HEADER + ",Manager", 'unexpected extra column "Manager"', 6),
        ("StoreKey,Country,Manager,State,Square Meters,Open Date", 'unexpected extra column "Manager"', 3),
        (
            "StoreKey,State,Country,Square Meters,Open Date",
            'column "State" is out of order, expected "Country" here',
            2,
        ),
    ],
)
def test_header_mismatch_names_the_column(tmp_path: Path, header: str, message: str, column: int) -> None:
    path = write(tmp_path, header + "\n0,Online,Online,,1/1/2010\n")
    with pytest.raises(InputError) as info:
        check_header(path, STORES)
    assert (info.value.message, info.value.line, info.value.column) == (message, 1, column)


def test_header_with_bom_and_crlf_is_accepted(tmp_path: Path) -> None:
    check_header(write(tmp_path, b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n0,Online,Online,,1/1/2010\r\n"), STORES)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty file"):
        check_header(write(tmp_path, b""), STORES)


def test_oversized_header_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = write(tmp_path, ",".join(f"col{i}" for i in range(10_000)) * 2)
    with pytest.raises(InputError, match="header line longer than"):
        check_header(path, STORES)


def test_clean_file_has_no_defect(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '\n0,Online,Online,,1/1/2010\n1,"Canada, East","Qu""ebec",595,2/3/2011\n')
    assert find_defect(path, STORES) is None


def test_quoted_newline_counts_lines_not_records(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '\n1,"Multi\nline",X,1,1/1/2010\n2,Canada,Ontario,5\n')
    defect = find_defect(path, STORES)
    assert (defect.message, defect.line, defect.column) == ("ragged row: 4 fields where the header has 5", 4, 5)


def test_unterminated_quote_points_at_where_it_opens(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '\n1,Canada,Ontario,5,1/1/2010\n2,Canada,"Ontario,5,1/1/2010\n3,US,NY,1,1/1/2010\n')
    defect = find_defect(path, STORES)
    assert (defect.message, defect.line, defect.column) == ("unterminated quoted field", 3, 3)


def test_invalid_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.encode() + b"\n1,Canada,Ontario,5,1/1/2010\n2,Canada,Qu\xe9bec,5,1/1/2010\n")
    defect = find_defect(path, STORES)
    assert (defect.message, defect.line, defect.column) == ("invalid UTF-8 byte 0xe9", 3, 3)


def test_blank_line_is_a_defect(tmp_path: Path) -> None:
    defect = find_defect(write(tmp_path, HEADER + "\n1,Canada,Ontario,5,1/1/2010\n\n2,US,NY,1,1/1/2010\n"), STORES)
    assert (defect.message, defect.line) == ("blank line", 3)


def test_oversized_field_is_a_defect(tmp_path: Path) -> None:
    # One line is held to MAX_LINE_BYTES; the field limit is for a quoted field that spans many short lines.
    field = '"' + ("x" * 999 + "\n") * (MAX_FIELD_CHARS // 1000 + 1) + '"'
    path = write(tmp_path, HEADER + f"\n1,Canada,{field},5,1/1/2010\n")
    defect = find_defect(path, STORES)
    assert (defect.message, defect.line) == (f"field longer than {MAX_FIELD_CHARS:,} characters", 2)


def test_line_too_long_names_line_length_and_column(tmp_path: Path) -> None:
    long_line = f"2,Canada,{'x' * MAX_LINE_BYTES},5,1/1/2010"
    path = write(tmp_path, HEADER + f"\n1,Canada,Ontario,5,1/1/2010\n{long_line}\n3,US,NY,1,1/1/2010\n")
    defect = find_defect(path, STORES)
    assert str(defect) == (
        f"line too long: {len(long_line):,} bytes, the limit is {MAX_LINE_BYTES:,} ({path}:3, column 3)"
    )


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_line_length_check_finds_the_first_long_line_whatever_the_chunks(chunk: int) -> None:
    rng = random.Random(chunk)
    for _ in range(300):
        limit = rng.choice([1, 2, 5, 16])
        data = bytes(rng.choice(b"ab,\n") for _ in range(rng.randint(0, 60)))
        want, offset = None, 0
        for line in data.split(b"\n"):
            if len(line) > limit:
                want = offset
                break
            offset += len(line) + 1
        check = LineLengthCheck(limit)
        for start in range(0, len(data), chunk):
            check.feed(data[start : start + chunk])
        assert check.finish() == want, (data, limit)


def test_header_of_10000_columns_gets_one_short_message(tmp_path: Path) -> None:
    names = ",".join(f"Extra Column {n:05d}" for n in range(10_000))
    path = write(tmp_path, f"{HEADER},{names}\n0,Online,Online,,1/1/2010\n")
    with pytest.raises(InputError) as info:
        check_header(path, STORES)
    assert (info.value.message, info.value.line, info.value.column) == (
        f'header line longer than {MAX_HEADER_BYTES:,} bytes: unexpected extra column "Extra Column 00000"',
        1,
        6,
    )


def test_long_header_whose_columns_read_so_far_are_right(tmp_path: Path) -> None:
    path = write(tmp_path, f"StoreKey,Country,{'S' * MAX_HEADER_BYTES}\n0,Online,Online,,1/1/2010\n")
    with pytest.raises(InputError) as info:
        check_header(path, STORES)
    assert (info.value.message, info.value.column) == (f"header line longer than {MAX_HEADER_BYTES:,} bytes", 3)
