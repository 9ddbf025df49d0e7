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
                    column=_walk_fields(prefix)[0],
                ) from None
            yield text


def _walk_fields(text: str) -> tuple[int, int]:
    """(field the end of `text` falls in, field where the last quote opened), 1-based, for a record's start."""
    field, in_quote, quote_field = 1, False, 1
    for ch in text:
        if ch == '"':
            in_quote = not in_quote
            if in_quote:
                quote_field = field
        elif ch == "," and not in_quote:
            field += 1
    return field, quote_field


def _unterminated_quote_field(path: Path, start_line: int) -> int | None:
    """Field (1-based) of a quote opened in the record at `start_line` and never closed, else None.

    A record starts outside quotes, so an odd number of `"` from there to the end of the file means one
    quote is never closed; counting is done on bytes, at C speed.
    """
    with path.open("rb") as fh:
        for _ in range(start_line - 1):
            fh.readline()
        first = fh.readline()
        quotes = first.count(b'"') + sum(chunk.count(b'"') for chunk in iter(lambda: fh.read(1 << 20), b""))
    if quotes % 2 == 0:
        return None
    return _walk_fields(first.decode("utf-8", errors="replace"))[1]


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
            column = _unterminated_quote_field(path, record_start)
            if column is not None:
                return InputError(path, "unterminated quoted field", line=record_start, column=column)
            if "field larger than field limit" in str(exc):
                return InputError(path, f"field longer than {MAX_FIELD_CHARS:,} characters", line=record_start)
            return InputError(path, f"malformed CSV: {exc}", line=lines.line)
    return None
