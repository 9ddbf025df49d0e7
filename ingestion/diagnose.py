"""Find the first defect in a CSV file, to name its line and column when the warehouse rejects the file.

Runs only after a bulk load has failed, so the fast path never pays for it. Both warehouses get the
same, exact message this way (their own messages differ, e.g. on where an unterminated quote is).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ingestion.contract import Source
from ingestion.errors import InputError

# Fields longer than this are out of contract (the raw files hold names, dates and numbers).
MAX_FIELD_CHARS = 1_000_000


class _Lines:
    """Decoded lines of a binary file that remember the physical line number and raise on bad UTF-8."""

    def __init__(self, path: Path):
        self.path = path
        self.line = 0
        self.text_from: dict[int, str] = {}

    def iterate(self, fh) -> Iterator[str]:
        for raw in fh:
            self.line += 1
            try:
                text = raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                prefix = raw[: exc.start].decode("utf-8", errors="replace")
                raise InputError(
                    self.path,
                    f"invalid UTF-8 byte 0x{raw[exc.start]:02x}",
                    line=self.line,
                    column=_field_index(prefix),
                ) from None
            yield text


def _field_index(prefix: str) -> int:
    """1-based index of the field that the end of `prefix` (start of a record line) falls in."""
    field, in_quote = 1, False
    for ch in prefix:
        if ch == '"':
            in_quote = not in_quote
        elif ch == "," and not in_quote:
            field += 1
    return field


def _open_quote_field(path: Path, start_line: int) -> int:
    """Field (1-based) of the quote left open in the record starting at `start_line`."""
    field, in_quote, quote_field = 1, False, 1
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number < start_line:
                continue
            text = raw.decode("utf-8", errors="replace")
            i = 0
            while i < len(text):
                ch = text[i]
                if in_quote:
                    if ch == '"' and text[i + 1 : i + 2] == '"':
                        i += 1
                    elif ch == '"':
                        in_quote = False
                elif ch == '"':
                    in_quote, quote_field = True, field
                elif ch == ",":
                    field += 1
                i += 1
    return quote_field


def find_defect(path: Path, source: Source) -> InputError | None:
    """The first defect in `path` (bad UTF-8, ragged row, unterminated quote, oversized field), or None."""
    csv.field_size_limit(MAX_FIELD_CHARS + 1)
    lines = _Lines(path)
    width = len(source.header)
    with path.open("rb") as fh:
        reader = csv.reader(lines.iterate(fh), strict=True)
        record_start = 1
        try:
            for index, row in enumerate(reader):
                if index > 0 and len(row) != width:
                    if not row:
                        return InputError(path, "blank line", line=record_start)
                    return InputError(
                        path,
                        f"ragged row: {len(row)} fields where the header has {width}",
                        line=record_start,
                        column=min(len(row), width) + 1,
                    )
                record_start = lines.line + 1
        except InputError as exc:
            return exc
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                return InputError(path, f"field longer than {MAX_FIELD_CHARS:,} characters", line=record_start)
            if "unexpected end of data" in str(exc):
                return InputError(
                    path,
                    "unterminated quoted field",
                    line=record_start,
                    column=_open_quote_field(path, record_start),
                )
            return InputError(path, f"malformed CSV: {exc}", line=lines.line)
    return None
