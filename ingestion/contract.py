"""The raw-file contract: which files exist, their exact headers, and the raw tables they load into."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError


@dataclass(frozen=True)
class Source:
    """One raw CSV file and the `raw` table it loads into."""

    name: str  # table name in the raw schema, e.g. "customers"
    file: str  # file name in the data directory, e.g. "Customers.csv"
    header: tuple[str, ...]  # exact header, in order

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw table's data columns: snake_case of the header, in header order."""
        return tuple(snake_case(h) for h in self.header)


def snake_case(header_name: str) -> str:
    """Column name for a header: `Unit Price USD` -> `unit_price_usd`, `CustomerKey` -> `customer_key`.

    Words split on non-alphanumerics and on lower-to-upper camel-case boundaries.
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", header_name.strip())
    return "_".join(part.lower() for part in re.split(r"[^A-Za-z0-9]+", spaced) if part)


SOURCES: tuple[Source, ...] = (
    Source(
        "customers",
        "Customers.csv",
        (
            "CustomerKey",
            "Gender",
            "Name",
            "City",
            "State Code",
            "State",
            "Zip Code",
            "Country",
            "Continent",
            "Birthday",
            "Age",
            "Email",
        ),
    ),
    Source(
        "products",
        "Products.csv",
        (
            "ProductKey",
            "Product Name",
            "Brand",
            "Color",
            "Unit Cost USD",
            "Unit Price USD",
            "SubcategoryKey",
            "Subcategory",
            "CategoryKey",
            "Category",
        ),
    ),
    Source("stores", "Stores.csv", ("StoreKey", "Country", "State", "Square Meters", "Open Date")),
    Source(
        "sales",
        "Sales.csv",
        (
            "Order Number",
            "Line Item",
            "Order Date",
            "Delivery Date",
            "CustomerKey",
            "StoreKey",
            "ProductKey",
            "Quantity",
            "Currency Code",
        ),
    ),
    Source("exchange_rates", "Exchange_Rates.csv", ("Date", "Currency", "Exchange")),
)

SOURCES_BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}

# Columns every raw table carries after the data columns.
SOURCE_ROW_COLUMN = "_source_row"
LOAD_ID_COLUMN = "_load_id"


# The longest line (in bytes, line break excluded) a raw file may hold, header included. The real files'
# longest line is 164 bytes (a product with a long name), so 64 KiB is ~400 times that: no real line comes
# near it, while a runaway field (a broken export, a pasted blob) is refused at once. The loader checks it
# while it already reads each file for its sha256 (a few C-speed `rfind`s per 64 KiB, both targets), and it
# bounds what any Python pass over a line (header check, error diagnosis) holds in memory.
MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = MAX_LINE_BYTES


@dataclass(frozen=True)
class Header:
    """The fields of a file's first line; `truncated` when the line is longer than MAX_HEADER_BYTES (then
    `fields` holds only the complete fields of its first MAX_HEADER_BYTES bytes)."""

    fields: list[str]
    truncated: bool = False


def read_header(path: Path) -> Header:
    """The header of `path`, reading at most MAX_HEADER_BYTES; InputError if the file is empty or the line
    cannot be read."""
    with path.open("rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if not first:
        raise InputError(path, "empty file: no header line", line=1)
    truncated = len(first.rstrip(b"\r\n")) > MAX_HEADER_BYTES
    if truncated:
        first = first[:MAX_HEADER_BYTES]
    try:
        text = first.decode("utf-8-sig", errors="ignore" if truncated else "strict")  # a cut may split a character
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8 byte 0x{first[exc.start]:02x} in header", line=1) from None
    try:
        fields = next(csv.reader([text.rstrip("\r\n")], strict=not truncated))
    except (csv.Error, StopIteration) as exc:
        raise InputError(path, f"malformed header: {exc}", line=1) from None
    return Header(fields[:-1] if truncated else fields, truncated)  # the last field of a cut line is partial


def check_header(path: Path, source: Source) -> None:
    """Raise InputError naming the first column where `path`'s header differs from the contract.

    A header longer than MAX_HEADER_BYTES is refused with the first difference among the columns read
    (a header of 10,000 columns gets one short message, never the 10,000 names).
    """
    header = read_header(path)
    actual = [h.strip() for h in header.fields]
    expected = list(source.header)
    if actual == expected and not header.truncated:
        return
    try:
        _first_difference(path, actual, expected, complete=not header.truncated)
    except InputError as exc:
        if header.truncated:
            exc.message = f"header line longer than {MAX_HEADER_BYTES:,} bytes: {exc.message}"
        raise
    raise InputError(path, f"header line longer than {MAX_HEADER_BYTES:,} bytes", line=1, column=len(actual) + 1)


def _first_difference(path: Path, actual: list[str], expected: list[str], complete: bool) -> None:
    """Raise InputError for the first column where `actual` differs from `expected`. With complete=False
    `actual` is only the start of the header: columns beyond it are unknown, so their absence is no error."""
    for position in range(max(len(actual), len(expected))):
        got = actual[position] if position < len(actual) else None
        want = expected[position] if position < len(expected) else None
        if got == want:
            continue
        column = position + 1
        if got is None:
            if not complete:
                return
            raise InputError(path, f'missing column "{want}"', line=1, column=column)
        if want is None:
            raise InputError(path, f'unexpected extra column "{got}"', line=1, column=column)
        if got not in expected and want not in actual:
            raise InputError(path, f'renamed column: found "{got}", expected "{want}"', line=1, column=column)
        if want not in actual:
            raise InputError(path, f'missing column "{want}"', line=1, column=column)
        if got not in expected:
            raise InputError(path, f'unexpected extra column "{got}"', line=1, column=column)
        if actual.count(got) > 1:
            raise InputError(path, f'duplicate column "{got}"', line=1, column=column)
        raise InputError(path, f'column "{got}" is out of order, expected "{want}" here', line=1, column=column)


def has_data_row(path: Path) -> bool:
    """True if anything but blank space follows the header line."""
    with path.open("rb") as fh:
        fh.readline(MAX_HEADER_BYTES + 1)
        while chunk := fh.read(64 * 1024):
            if chunk.strip():
                return True
    return False
