"""The raw-file contract: which files exist, their exact headers, and the raw tables they load into."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import InputError


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


# A header line longer than this is not a header of ours; reading stops there (bounded memory).
MAX_HEADER_BYTES = 64 * 1024


def read_header(path: Path) -> list[str]:
    """The header fields of `path`; raises InputError if the file is empty or its first line unreadable."""
    with path.open("rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if not first:
        raise InputError(path, "empty file: no header line", line=1)
    if len(first) > MAX_HEADER_BYTES and not first.endswith(b"\n"):
        raise InputError(path, f"header line longer than {MAX_HEADER_BYTES} bytes", line=1)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"invalid UTF-8 byte 0x{first[exc.start]:02x} in header", line=1) from None
    try:
        return next(csv.reader([text.rstrip("\r\n")], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise InputError(path, f"malformed header: {exc}", line=1) from None


def check_header(path: Path, source: Source) -> None:
    """Raise InputError naming the first column where `path`'s header differs from the contract."""
    actual = [h.strip() for h in read_header(path)]
    expected = list(source.header)
    if actual == expected:
        return
    for position in range(max(len(actual), len(expected))):
        got = actual[position] if position < len(actual) else None
        want = expected[position] if position < len(expected) else None
        if got == want:
            continue
        column = position + 1
        if got is None:
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
