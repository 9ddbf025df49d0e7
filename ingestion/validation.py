"""Validate a freshly staged raw table against its Great Expectations suite, before it is swapped in.

The staged rows are read from the load's own transaction (so GX sees exactly what would be swapped
in) into a DataFrame and validated through GX's pandas data source. GX is imported on first use only
(its import takes seconds): `elt --help` and the API never pay for it. With a `DataDocs` folder, GX keeps
each result there and renders its Data Docs page (`publish_data_docs`); without one, results stay in memory.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestion import data_docs
from ingestion.contract import Source
from ingestion.data_docs import DataDocs
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
    file: str
    outcomes: list[ExpectationOutcome]
    seconds: float
    result_id: Any = None  # GX's ValidationResultIdentifier, when the result was kept in a DataDocs folder

    @property
    def errors(self) -> list[ExpectationOutcome]:
        """Failed critical expectations (the file must not be swapped in)."""
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        """Failed warning-level expectations (recorded and printed)."""
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]


@dataclass
class _Gx:
    """A GX context and the validation definitions made in it (one per Data Docs folder, or in memory)."""

    context: Any
    definitions: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_contexts: dict[DataDocs | None, _Gx] = {}


def validate_staged(
    conn: Connection, source: Source, relation: str, load_id: str, docs: DataDocs | None = None
) -> SourceValidation:
    """Run the source's suite on the staged table `relation` (read inside the caller's transaction).

    The GX run is named after the load; with `docs`, its result is kept in that folder for the Data Docs.
    """
    started = time.perf_counter()  # the first call of a process imports GX: that counts too
    from great_expectations.core.run_identifier import RunIdentifier

    frame = _frame(conn, source, relation)
    definition = _definition(source.name, docs)
    run_id = RunIdentifier(run_name=gx_run_name(load_id), run_time=datetime.now(UTC))
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="BASIC", run_id=run_id)
    outcomes = [_outcome(r) for r in result.results]
    result_id = _result_id(source.name, run_id) if docs is not None else None
    return SourceValidation(source.name, source.file, outcomes, time.perf_counter() - started, result_id)


def gx_run_name(load_id: str) -> str:
    """The GX run name of a load: `load-<load id>`.

    GX's page renderer parses a run name with dateutil to decide whether the page title shows it, and
    fails when the name parses as a time with an impossible UTC offset: a bare load id such as
    `20261130T154106.027782Z-4653ad` reads as UTC offset -46:53 (about one load id in 2,000). The prefix makes
    every name unparseable as a time, so the title always shows it.
    """
    return f"load-{load_id}"


def publish_data_docs(docs: DataDocs, load_id: str, validations: list[SourceValidation]) -> float:
    """Render the Data Docs pages of a load's validations and list them in the index; returns seconds."""
    started = time.perf_counter()
    data_docs.publish(_gx(docs).context, docs, load_id, validations)
    return time.perf_counter() - started


def _frame(conn: Connection, source: Source, relation: str) -> Any:
    """The staged rows as a DataFrame of Arrow-backed strings (GX's regex checks then run in Arrow's
    vectorised RE2 instead of one Python call per value). NULL stays missing, '' stays ''."""
    import pandas as pd
    import pyarrow as pa

    quoted = ", ".join(f'"{column}"' for column in source.columns)
    select = f"select {quoted} from {relation}"
    if conn.target == "duckdb":
        table = conn.raw.sql(select).to_arrow_table()
    else:
        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        with conn.raw.cursor() as cur:  # COPY out is several times faster than fetching rows as tuples
            cur.copy_expert(f"copy ({select}) to stdout (format csv)", buffer)
        buffer.seek(0)
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=list(source.columns)),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(source.columns, pa.string()),
                strings_can_be_null=True,  # an unquoted empty field is COPY's NULL
                quoted_strings_can_be_null=False,  # "" is an empty string
            ),
        )
    string = pd.StringDtype("pyarrow", na_value=float("nan"))  # pandas' default `str` dtype
    return table.to_pandas(types_mapper={pa.string(): string, pa.large_string(): string}.get)


def _gx(docs: DataDocs | None) -> _Gx:
    with _lock:
        if docs not in _contexts:
            _contexts[docs] = _Gx(_make_context(docs))
        return _contexts[docs]


def _definition(source: str, docs: DataDocs | None) -> Any:
    """The GX validation definition of a source's suite (suites made once per context)."""
    gx_ = _gx(docs)
    with _lock:
        if source not in gx_.definitions:
            import great_expectations as gx

            context = gx_.context
            suite = context.suites.add(gx.ExpectationSuite(name=f"raw_{source}"))
            for spec in SUITES[source]:
                suite.add_expectation(getattr(gx.expectations, spec.kind)(**spec.kwargs, severity=spec.severity))
            asset = context.data_sources.get("raw").add_dataframe_asset(source)
            batch = asset.add_batch_definition_whole_dataframe("staged")
            gx_.definitions[source] = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"raw_{source}", data=batch, suite=suite)
            )
        return gx_.definitions[source]


def _result_id(source: str, run_id: Any) -> Any:
    """The key GX stored the result under: suite, run (name and time), batch (`<data source>-<asset>`)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=f"raw_{source}"),
        run_id=run_id,
        batch_identifier=f"raw-{source}",
    )


def _make_context(docs: DataDocs | None) -> Any:
    """An ephemeral GX context; with `docs`, its validation results and Data Docs site are on disk."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    if docs is not None:
        config.stores["validation_results_store"] = docs.results_store_config()
        config.data_docs_sites = {data_docs.SITE_NAME: docs.site_config()}
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("raw")
    return context


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
