"""Validate a freshly staged raw table against its Great Expectations suite, before it is swapped in.

The staged rows are read from the load's own transaction (so GX sees exactly what would be swapped
in) into a DataFrame and validated through GX's pandas data source. GX is imported on first use only
(its import takes seconds): `elt --help` and the API never pay for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ingestion.contract import Source
from ingestion.expectations import SUITES
from ingestion.warehouse import Connection

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
    """A file's validation: every expectation's outcome, and how long it took."""

    source: str
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


_lock = threading.Lock()
_context: Any = None
_definitions: dict[str, Any] = {}


def validate_staged(conn: Connection, source: Source, relation: str) -> SourceValidation:
    """Run the source's suite on the staged table `relation` (read inside the caller's transaction)."""
    started = time.perf_counter()
    frame = _frame(conn, source, relation)
    definition = _definition(source.name)
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    outcomes = [_outcome(r) for r in result.results]
    return SourceValidation(source.name, outcomes, time.perf_counter() - started)


def _frame(conn: Connection, source: Source, relation: str) -> Any:
    import pandas as pd

    quoted = ", ".join(f'"{column}"' for column in source.columns)
    select = f"select {quoted} from {relation}"
    if conn.target == "duckdb":
        return conn.raw.execute(select).df()
    with conn.raw.cursor() as cur:
        cur.execute(select)
        return pd.DataFrame(cur.fetchall(), columns=list(source.columns), dtype=object)


def _definition(source: str) -> Any:
    """The GX validation definition of a source's suite (context and suites made once per process)."""
    global _context
    with _lock:
        if _context is None:
            _context = _make_context()
        if source not in _definitions:
            import great_expectations as gx

            suite = _context.suites.add(gx.ExpectationSuite(name=f"raw_{source}"))
            for spec in SUITES[source]:
                suite.add_expectation(getattr(gx.expectations, spec.kind)(**spec.kwargs, severity=spec.severity))
            asset = _context.data_sources.get("raw").add_dataframe_asset(source)
            batch = asset.add_batch_definition_whole_dataframe("staged")
            _definitions[source] = _context.validation_definitions.add(
                gx.ValidationDefinition(name=f"raw_{source}", data=batch, suite=suite)
            )
        return _definitions[source]


def _make_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("raw")
    return context


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    observed = details.get("observed_value")
    sample = [str(v) for v in (details.get("partial_unexpected_list") or [])[:SAMPLE_VALUES]]
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
