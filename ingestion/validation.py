"""Validate a freshly staged raw table against its Great Expectations suite, before it is swapped in.

The staged rows are read from the load's own transaction (so GX sees exactly what would be swapped
in; on Spark, from the staged table not swapped in yet) into a DataFrame and validated through GX's pandas
data source. GX is imported on first use only (its import takes seconds): `elt --help` and the API never
pay for it. Given a `DataDocs` folder, GX keeps each result there (`DataDocs.results`), under the run name
`load-<load id>`, for the Data Docs step (ingestion/data_docs.py) to render; without one, results stay in
memory. Nothing here renders pages.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.data_docs import DataDocs
from core.warehouse import Connection
from ingestion.contract import Source
from ingestion.expectations import SUITES
from ingestion.gx_context import DATA_SOURCE, gx_run_name, import_gx, make_context, suite_name
from ingestion.outcomes import SourceValidation, outcomes_of


@dataclass
class _Gx:
    """A GX context and the validation definitions made in it (one per results folder, or in memory)."""

    context: Any
    definitions: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_run_lock = threading.Lock()
_contexts: dict[DataDocs | None, _Gx] = {}


def validate_staged(
    conn: Connection, source: Source, relation: str, load_id: str, docs: DataDocs | None = None
) -> SourceValidation:
    """Run the source's suite on the staged table `relation` (read inside the caller's transaction).

    The GX run is named after the load (`gx_run_name`); with `docs`, GX stores its result in
    `docs.results` (the folder must exist and be writable: `DataDocs.prepare`).
    """
    started = time.perf_counter()  # the first call of a process imports GX: that counts too
    import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    frame = _frame(conn, source, relation)
    definition = _definition(source.name, docs)
    run_id = RunIdentifier(run_name=gx_run_name(load_id), run_time=datetime.now(UTC))
    with _run_lock:  # one validation at a time per process: GX's execution engine has one active batch
        try:
            result = definition.run(batch_parameters={"dataframe": frame}, result_format="BASIC", run_id=run_id)
        finally:
            _forget_batches(docs)
    return SourceValidation(source.name, source.file, outcomes_of(result), time.perf_counter() - started)


def _frame(conn: Connection, source: Source, relation: str) -> Any:
    """The staged rows as a DataFrame of categoricals over Arrow-backed strings. NULL stays missing, '' stays ''.
    On Spark `relation` is a table name (`raw.`_loading_sales``), read with `spark.table(...).toArrow()`.

    Categoricals, because GX copies the whole frame for each column expectation (it drops the column's
    nulls first): copying int codes instead of the strings keeps a scale-100 Sales file (6.3M lines) at a
    fraction of its size in memory. The strings are Arrow's, so GX's regex checks (`astype(str)` of the
    column, then `str.contains`) run in Arrow's vectorised RE2, not one Python call per value. The rows
    are read in batches and encoded batch by batch: the whole table never sits in memory as strings.
    """
    import pyarrow as pa

    quoted = ", ".join(f'"{column}"' for column in source.columns)
    select = f"select {quoted} from {relation}"
    if conn.target == "spark":  # Arrow straight from Spark (never toPandas, which copies every value)
        staged = conn.raw.table(relation).select(*(f"`{column}`" for column in source.columns)).toArrow()
        batches = staged.to_batches(FRAME_BATCH_ROWS)
    elif conn.target == "duckdb":
        batches = conn.raw.sql(select).to_arrow_reader(FRAME_BATCH_ROWS)
    else:
        batches = _copy_out(conn, select, source.columns)
    table = pa.Table.from_batches([_dictionary_encoded(batch) for batch in batches])
    return table.unify_dictionaries().to_pandas()


FRAME_BATCH_ROWS = 1 << 20


def _dictionary_encoded(batch: Any) -> Any:
    """A record batch of strings as one of dictionary-encoded strings (each column its own dictionary)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [pc.dictionary_encode(column.cast(pa.string())) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _copy_out(conn: Connection, select: str, columns: tuple[str, ...]) -> Any:
    """The rows of `select` on Postgres as Arrow record batches of strings, through COPY (several times
    faster than fetching rows as tuples). The CSV text is buffered in memory (the size of the file)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    with conn.raw.cursor() as cur:
        cur.copy_expert(f"copy ({select}) to stdout (format csv)", buffer)
    buffer.seek(0)
    return pacsv.open_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=list(columns), block_size=64 << 20),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=True,  # an unquoted empty field is COPY's NULL
            quoted_strings_can_be_null=False,  # "" is an empty string
        ),
    )


def _forget_batches(docs: DataDocs | None) -> None:
    """Drop GX's references to the validated DataFrames: its pandas execution engine keeps each batch it
    loaded (the frame and the batch parameters naming it) for the life of the context, which would hold
    every staged file in memory through the dbt build and, in a long-lived process, load after load."""
    context = _gx(docs).context
    with _lock:
        engine = context.data_sources.get(DATA_SOURCE).get_execution_engine()
        engine.batch_manager.reset_batch_cache()
        engine.batch_manager.batch_data_cache.clear()


def _gx(docs: DataDocs | None) -> _Gx:
    with _lock:
        if docs not in _contexts:
            _contexts[docs] = _Gx(make_context(results=docs.results if docs is not None else None))
        return _contexts[docs]


def _definition(source: str, docs: DataDocs | None) -> Any:
    """The GX validation definition of a source's suite (suites made once per context)."""
    gx_ = _gx(docs)
    with _lock:
        if source not in gx_.definitions:
            import great_expectations as gx

            context = gx_.context
            suite = context.suites.add(gx.ExpectationSuite(name=suite_name(source)))
            for spec in SUITES[source]:
                suite.add_expectation(getattr(gx.expectations, spec.kind)(**spec.kwargs, severity=spec.severity))
            asset = context.data_sources.get(DATA_SOURCE).add_dataframe_asset(source)
            batch = asset.add_batch_definition_whole_dataframe("staged")
            gx_.definitions[source] = context.validation_definitions.add(
                gx.ValidationDefinition(name=suite_name(source), data=batch, suite=suite)
            )
        return gx_.definitions[source]
