"""Errors the user can act on. The CLI prints each as one line and exits with its `exit_code`."""

from __future__ import annotations

from pathlib import Path


class EltError(Exception):
    """Base of every expected error: printed as `error: <message>`, no traceback."""

    exit_code = 1


class InputError(EltError):
    """Bad input data (a file breaks the contract or cannot be parsed): exit code 2."""

    exit_code = 2

    def __init__(self, file: Path | str, message: str, line: int | None = None, column: int | None = None):
        self.file = str(file)
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{self.message} ({where})"


class WarehouseError(EltError):
    """The warehouse cannot be reached or refused an operation: exit code 1."""


class LockTimeout(WarehouseError):
    """Another load or build holds the warehouse lock for longer than we are willing to wait."""


class WarehouseBusy(WarehouseError):
    """A load or build is writing to a DuckDB warehouse, which admits no reader meanwhile (try again later)."""


class ContractViolation(InputError):
    """A file breaks its data contract (error-level Great Expectations failed): not swapped in, exit code 2."""
