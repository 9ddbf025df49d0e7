"""What a validation of a file against its data contract found, read from GX's result: one outcome per
expectation. The same reading serves the load (a result just made) and the Data Docs (a result read back
from the results folder), so both describe a failed expectation in the same words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_VALUES = 3


@dataclass
class ExpectationOutcome:
    """One expectation's result on one file."""

    expectation: str  # e.g. expect_column_values_to_match_regex
    column: str | None
    severity: str  # critical | warning
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed: str | None = None
    sample: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`expect_...(column): 20,962 unexpected (33.3%), e.g. 'XYZ'` — for messages."""
        what = f"{self.expectation}({self.column})" if self.column else self.expectation
        if self.unexpected_count:
            pct = f" ({self.unexpected_percent:.1f}%)" if self.unexpected_percent is not None else ""
            shown = ", ".join(repr(v) for v in self.sample)
            return f"{what}: {self.unexpected_count:,} unexpected{pct}" + (f", e.g. {shown}" if shown else "")
        return f"{what}: observed {self.observed}" if self.observed is not None else what


@dataclass
class SourceValidation:
    """A file's validation: every expectation's outcome, and how long it took (seconds)."""

    source: str
    file: str
    outcomes: list[ExpectationOutcome]
    seconds: float

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """Failed critical expectations (the file must not be swapped in)."""
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Failed warning-level expectations (recorded and printed)."""
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]


def outcomes_of(result: Any) -> list[ExpectationOutcome]:
    """The outcome of each expectation of a GX ExpectationSuiteValidationResult, in the suite's order."""
    return [_outcome(r) for r in result.results]


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    observed = details.get("observed_value")
    values = [str(v) for v in details.get("partial_unexpected_list") or [] if v is not None and v == v]  # no NaN
    sample = list(dict.fromkeys(values))[:SAMPLE_VALUES]  # distinct, in order
    percent = details.get("unexpected_percent")
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column") or (",".join(config.kwargs.get("column_list") or []) or None),
        severity=getattr(config.severity, "value", str(config.severity)),
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=float(percent) if percent is not None else None,
        observed=None if observed is None else str(observed)[:500],
        sample=sample,
    )
