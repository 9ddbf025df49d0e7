"""How the dashboard writes numbers, durations and times (Jinja filters, and the charts' labels), and the cells of
a report table (as the report's CSV download writes them)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

Number = int | float | Decimal


def number(value: object, digits: int = 2) -> str:
    """`12,345` for an integer, `1,234.57` for a decimal or float (at most `digits` after the point,
    trailing zeros kept so a column lines up); '' for None; anything else as str()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal | float):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return f"{value:,.{digits}f}"
    if isinstance(value, datetime):
        return when(value)
    return str(value)


def compact(value: float) -> str:
    """A short axis label: 950, 1.5k, 12k, 3.4M, 2.1G (sign kept)."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return f"{scaled:.1f}{suffix}".replace(".0" + suffix, suffix)
    if size >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}"


def seconds(value: float | None) -> str:
    """`0.42 s`, `12.3 s`, `2 min 5 s`; '' for None."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def when(value: datetime | date | None) -> str:
    """`2025-03-12 14:05:09 UTC` (a naive time is UTC, as the audit tables store it); a date as is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    return value.isoformat()
