"""Find the first defect in a CSV file, to name its line and column when the warehouse rejects the file.

Runs only after a bulk load has failed, so the fast path never pays for it. Both warehouses get the
same, exact message this way (their own messages differ, e.g. on where an unterminated quote is).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from core.errors import InputError
from ingestion.contract import MAX_LINE_BYTES, Source

# Fields longer than this are out of contract (the raw files hold names, dates and numbers). A field on one
# line is already held to MAX_LINE_BYTES; this bounds a quoted field that spans lines.
MAX_FIELD_CHARS = 1_000_000
SCAN_CHUNK_BYTES = 1 << 20


class LineLengthCheck:
    """Finds the first line longer than `limit` bytes (line break excluded) in a file fed chunk by chunk.

    Cheap enough for the load's fast path: instead of visiting every line it hops from line break to line
    break at most `limit` bytes apart with one C-speed `rfind` per hop, so a file of short lines costs
    about one `rfind` over each `limit` bytes. `too_long_at` is the byte offset where that line starts.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES):
        self.limit = limit
        self.fed = 0  # bytes fed so far
        self.line_start = 0  # offset of the line still open at the end of what was fed
        self.too_long_at: int | None = None

    def feed(self, chunk: bytes) -> None:
        """Check the next chunk of the file."""
        base, end = self.fed, self.fed + len(chunk)
        self.fed = end
        if self.too_long_at is not None:
            return
        start = self.line_start
        while True:
            window_end = start + self.limit + 1  # the line starting at `start` must break before this offset
            if window_end > end:  # the window runs past this chunk: carry the last line start over
                last = chunk.rfind(b"\n", max(start - base, 0))
                if last != -1:
                    start = base + last + 1
                break
            last = chunk.rfind(b"\n", max(start - base, 0), window_end - base)
            if last == -1:
                self.too_long_at = start
                return
            start = base + last + 1
        self.line_start = start

    def finish(self) -> int | None:
        """After the last chunk: the offset of the first line that is too long, or None."""
        if self.too_long_at is None and self.fed - self.line_start > self.limit:
            self.too_long_at = self.line_start
        return self.too_long_at


def long_line_error(path: Path, start: int, limit: int = MAX_LINE_BYTES) -> InputError:
    """The error for the line of `path` that starts at byte `start` and is longer than `limit`: its line
    number, its length, and the column (field) where it crosses the limit. Reads the file in chunks, never
    the whole line."""
    line = 1
    with path.open("rb") as fh:
        remaining = start
        while remaining > 0:
            chunk = fh.read(min(SCAN_CHUNK_BYTES, remaining))
            if not chunk:
                break
            line += chunk.count(b"\n")
            remaining -= len(chunk)
        prefix = fh.read(limit + 1)  # up to the first byte past the limit: the column is the field it falls in
        length = len(prefix)
        if b"\n" in prefix:  # not too long after all (the caller's offset was wrong): measure it anyway
            length = prefix.index(b"\n")
        else:
            while chunk := fh.read(SCAN_CHUNK_BYTES):
                cut = chunk.find(b"\n")
                length += len(chunk) if cut == -1 else cut
                if cut != -1:
                    break
    column = _walk_fields(prefix.decode("utf-8", errors="replace"))[0]
    return InputError(path, f"line too long: {length:,} bytes, the limit is {limit:,}", line=line, column=column)


def lone_cr_error(path: Path, offset: int) -> InputError:
    """The error for a lone carriage return (CR not followed by LF: an old Mac line ending, or a stray CR)
    outside quoted fields at byte `offset` of `path`: the line it is on and the column (field) it ends.

    Such a line break is refused: the header check, the line-length check and the line numbers of every
    error count lines by LF. Reads the file in chunks up to `offset`, and at most MAX_LINE_BYTES of its line
    (no column for a longer one).
    """
    line, line_start, position = 1, 0, 0
    with path.open("rb") as fh:
        while position < offset and (chunk := fh.read(min(SCAN_CHUNK_BYTES, offset - position))):
            line += chunk.count(b"\n")
            if (last := chunk.rfind(b"\n")) != -1:
                line_start = position + last + 1
            position += len(chunk)
        column = None
        if offset - line_start <= MAX_LINE_BYTES:
            fh.seek(line_start)
            column = _walk_fields(fh.read(offset - line_start).decode("utf-8", errors="replace"))[0]
    return InputError(path, "lone carriage return (CR) outside quotes: lines must end in LF or CRLF", line, column)


class _Lines:
    """Decoded lines of a binary file that remember the physical line number and raise on bad UTF-8."""

    def __init__(self, path: Path):
        self.path = path
        self.line = 0
        self.offset = 0

    def iterate(self, fh) -> Iterator[str]:
        # Never more than MAX_LINE_BYTES (+ line break) at a time: a runaway line is refused, not read.
        for raw in iter(lambda: fh.readline(MAX_LINE_BYTES + 2), b""):
            self.line += 1
            if len(raw.rstrip(b"\n")) > MAX_LINE_BYTES:
                raise long_line_error(self.path, self.offset)
            self.offset += len(raw)
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
    """The first defect in `path` (bad UTF-8, line too long, ragged row, unterminated quote, oversized field,
    blank line), or None."""
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
