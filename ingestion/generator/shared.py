"""What the file makers share: the calendar of the sample, the file being made, weighted picks, self-checks."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import TypeVar

from ingestion.generator.text import mdy_padded

START_DATE = date(2024, 1, 1)
AS_OF_DATE = date(2025, 12, 31)
DAYS = (AS_OF_DATE - START_DATE).days + 1  # 731
DATE_MDY = [mdy_padded(START_DATE + timedelta(days=d)) for d in range(DAYS)]  # day index -> MM/DD/YYYY

T = TypeVar("T")


@dataclass
class CsvFile:
    """One raw file being made: its `raw` table name, its text (header first, each line ending in LF), data rows."""

    table: str
    text: str
    rows: int


def check(condition: bool, message: str) -> None:
    """Self-check of the generator (kept under `python -O`, unlike assert); RuntimeError if condition is false."""
    if not condition:
        raise RuntimeError(f"generator self-check failed: {message}")


def cumulative(weights: Sequence[float]) -> list[float]:
    """Running totals of weights (`[1, 2, 3]` -> `[1, 3, 6]`), for pick() and random.choices(cum_weights=...)."""
    return list(accumulate(weights))


def pick(rng: random.Random, items: Sequence[T], cum: list[float]) -> T:
    """One of items, drawn with one rng.random() by the cumulative weights cum (same length as items)."""
    return items[bisect_right(cum, rng.random() * cum[-1])]
