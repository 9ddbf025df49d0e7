"""The report filter operators that compare, as Python's own comparisons: the tests' oracle of what a
filter `column:op:value` selects (see api/report_query.py for the API's side)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
