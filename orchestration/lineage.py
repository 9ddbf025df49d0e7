"""OpenLineage events of the pipeline: one run per file loaded (CSV file -> raw table) and one per dbt node.

    LoadLineage.start   before a load: a START event per file (job `<db>.raw.<table>.load`)
    .complete / .fail   after it: COMPLETE with the raw table's columns and row count, or FAIL with the error
    emit_dbt_nodes      after a dbt invocation: the START and COMPLETE (or FAIL) events of each node it ran,
                        made from its manifest.json and run_results.json by OpenLineage's own dbt integration
                        (openlineage-integration-common's artifact processor, the one `dbt-ol` uses)

Datasets are named by the OpenLineage naming spec, as the dbt integration names them, so the graph connects
from file to report: a CSV file is `file` / its absolute path; a table is `duckdb://<database file>` or
`postgres://<host>:<port>` / `<database>.<schema>.<table>`, or `spark://<warehouse folder>` / `<schema>.<table>`
(dbt-spark has no database level; the integration names a Spark dataset by the host of a Thrift or HTTP
server, which a local session has not, so the folder stands in for it). dbt builds into build schemas (`marts__build`,
docs/publishing.md); the events name the published relations (`<database>.marts.fct_sales`): the artifacts
are read with the build schemas renamed, as `publish.publish_artifacts` publishes them.

Where the events go (settings, core/settings.py): always to `<ELT_LINEAGE_DIR>/<target>/<run id>.jsonl`
(OpenLineage's file transport, one JSON event per line, every event of one pipeline run in one file), and
also to the HTTP endpoint OPENLINEAGE_URL (e.g. Marquez) when it is set; jobs are in the namespace
OPENLINEAGE_NAMESPACE. Each event's `parent` run facet is the pipeline run (job `elt.<command>`), and its
`tags` facet carries the run id of audit.runs (`elt_run_id`). The client is configured here only:
OpenLineage's own configuration (openlineage.yml, OPENLINEAGE__* variables) is not read, except
OPENLINEAGE_DISABLED=true, which turns every event off.

Emitting never fails a run: a problem (a folder that cannot be written, an endpoint that does not answer)
is logged as one warning, in the run's log too, and the run goes on. After an event the endpoint refused
or did not take, the endpoint gets no more events of that batch (one timeout per batch, not per event).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openlineage.client.client import OpenLineageClient, OpenLineageConfig
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    JobFacet,
    RunFacet,
    dataset_version_dataset,
    datasource_dataset,
    documentation_job,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    lifecycle_state_change_dataset,
    output_statistics_output_dataset,
    schema_dataset,
    tags_run,
)
from openlineage.client.naming.dataset import LocalFileSystem, Postgres
from openlineage.client.transport.composite import CompositeConfig, CompositeTransport
from openlineage.client.transport.http import HttpTransport
from openlineage.client.uuid import generate_new_uuid, generate_static_uuid
from openlineage.common.provider.dbt.facets import ParentRunMetadata
from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor
from openlineage.common.provider.dbt.utils import PRODUCER as DBT_PRODUCER

from core.dbt_project import project_dir
from core.errors import one_line
from core.warehouse import Warehouse
from ingestion.contract import SOURCES, Source
from orchestration import publish, run_log
from orchestration.run_audit import RunRecord, fetch_run

if TYPE_CHECKING:
    from ingestion.loader import FileLoad, LoadResult

log = logging.getLogger(__name__)


class _OneLine(logging.Filter):
    """Keeps the dbt processor's warnings to one short line (it logs whole manifest nodes, kilobytes each)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = " ".join(record.getMessage().split())
        record.msg, record.args = (message if len(message) <= 300 else message[:300] + " …"), None
        return True


_DBT_PROCESSOR_LOG = logging.getLogger(f"{__name__}.dbt")  # the processor's messages, shortened
_DBT_PROCESSOR_LOG.addFilter(_OneLine())

RAW_SCHEMA = "raw"
EVENTS_SUFFIX = ".jsonl"
RUN_ID_TAG = "elt_run_id"  # the run's tag: its id in audit.runs
INTEGRATION = "RETAIL_ELT"  # the jobType facet's integration of the load jobs
# Sending to OPENLINEAGE_URL: seconds per request, and retries of a request that failed (HttpConfig.retry).
HTTP_TIMEOUT = 5.0
HTTP_RETRY = {"total": 3, "connect": 3, "read": 3, "backoff_factor": 0.5}


def _producer() -> str:
    """The URI of this producer (events' `producer`): `urn:retail-elt:<version>`."""
    try:
        return f"urn:retail-elt:{version('retail-elt')}"
    except PackageNotFoundError:
        return "urn:retail-elt"


PRODUCER = _producer()


# --- naming -------------------------------------------------------------------------------------------------


def raw_table(warehouse: Warehouse, source: Source) -> tuple[str, str]:
    """The (namespace, name) of a raw table's dataset, as OpenLineage's dbt integration names dbt's source:
    (`duckdb://<absolute database file>`, `<file stem>.raw.<table>`), (`postgres://<host>:<port>`,
    `<database>.raw.<table>`) or (`spark://<absolute warehouse folder>`, `raw.<table>`)."""
    if warehouse.target == "spark":
        return spark_namespace(warehouse), f"{RAW_SCHEMA}.{source.name}"
    if warehouse.target == "postgres":
        pg = warehouse.postgres
        naming = Postgres(host=pg.host, port=str(pg.port), database=pg.dbname, schema=RAW_SCHEMA, table=source.name)
        return naming.get_namespace(), naming.get_name()
    path = Path(warehouse.duckdb_path)
    return f"duckdb://{path}", f"{path.stem}.{RAW_SCHEMA}.{source.name}"


def spark_namespace(warehouse: Warehouse) -> str:
    """The namespace of a Spark warehouse's datasets: `spark://<absolute ELT_SPARK_DIR>`."""
    return f"spark://{Path(warehouse.spark_dir).resolve()}"


def events_file(warehouse: Warehouse, run_id: str) -> Path:
    """`<ELT_LINEAGE_DIR>/<target>/<run id>.jsonl`: where the events of a pipeline run are written (absolute)."""
    return warehouse.settings.lineage_dir.resolve() / warehouse.target / f"{run_id}{EVENTS_SUFFIX}"


def _profile(warehouse: Warehouse) -> dict[str, Any]:
    """The dbt profile fields the dbt integration names datasets by (what profiles.yml gives dbt for the
    warehouse: `Warehouse.dbt_env`), so the events name what dbt built whatever the process environment."""
    if warehouse.target == "postgres":
        pg = warehouse.postgres
        return {"type": "postgres", "host": pg.host, "port": pg.port, "dbname": pg.dbname}
    if warehouse.target == "spark":
        return {"type": "spark", "method": "session", "host": "NA", "schema": "main"}
    return {"type": "duckdb", "path": str(warehouse.duckdb_path)}


# --- the client ---------------------------------------------------------------------------------------------


class HttpUntilFirstFailure(HttpTransport):
    """OpenLineage's HTTP transport that, once an event could not be sent (after its retries), sends none of
    the later events it is given (it counts them in `skipped`): an endpoint that is down costs one timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failure: Exception | None = None
        self.skipped = 0

    def emit(self, event: Any) -> Any:
        """Send `event` (HttpTransport.emit), unless an earlier event failed; raises what that raises."""
        if self.failure is not None:
            self.skipped += 1
            return None
        try:
            return super().emit(event)
        except Exception as exc:
            self.failure = exc
            raise


class _Client(OpenLineageClient):
    """OpenLineageClient configured by this project alone: its transport is given, and neither an
    openlineage.yml nor OPENLINEAGE__* variables add filters, tags or facets (nor does it copy OPENLINEAGE_URL
    into os.environ, as the client otherwise does). OPENLINEAGE_DISABLED=true still turns it off."""

    def __init__(self, transport: CompositeTransport) -> None:
        self._pinned = OpenLineageConfig()
        super().__init__(transport=transport)

    @property
    def config(self) -> OpenLineageConfig:
        """The client's configuration: the defaults, whatever files and variables say."""
        return self._pinned

    def _alias_env_vars(self) -> None:
        """No environment variables are set by this client."""

    @property
    def enabled(self) -> bool:
        """False when OPENLINEAGE_DISABLED=true (the client then has OpenLineage's no-op transport)."""
        return self.transport.kind != "noop"

    @property
    def http(self) -> HttpUntilFirstFailure | None:
        """The transport to OPENLINEAGE_URL, if there is one."""
        if not isinstance(self.transport, CompositeTransport):
            return None
        return next((t for t in self.transport.transports if isinstance(t, HttpUntilFirstFailure)), None)


@dataclass
class Emitter:
    """Batches of events of one pipeline run, to the file of the run and to OPENLINEAGE_URL if set."""

    path: Path
    client: _Client
    sent: int = 0

    @classmethod
    def of(cls, warehouse: Warehouse, run_id: str) -> Emitter:
        """The emitter of the run's events (its folder is made here). Raises OSError if it cannot be."""
        path = events_file(warehouse, run_id)
        transports: dict[str, dict[str, Any]] = {"file": {"type": "file", "log_file_path": str(path), "append": True}}
        url = warehouse.settings.openlineage_url
        if url:
            transports["http"] = {
                "type": f"{__name__}.{HttpUntilFirstFailure.__name__}",
                "url": url,
                "timeout": HTTP_TIMEOUT,
                "retry": HTTP_RETRY,
            }
        client = _Client(CompositeTransport(CompositeConfig(transports=transports, continue_on_failure=True)))
        if client.enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, client)

    @property
    def enabled(self) -> bool:
        """False when OPENLINEAGE_DISABLED=true: nothing is sent."""
        return self.client.enabled

    def emit(self, events: Iterable[RunEvent]) -> int:
        """Send the events in order; returns how many. Raises RuntimeError when no transport took one."""
        count = 0
        for event in events:
            self.client.emit(event)
            count += 1
        self.sent += count
        return count

    def report(self, what: str) -> None:
        """A line of the run's log saying where the events went, and a warning if the endpoint missed some."""
        run_log.note(f"lineage: {self.sent} OpenLineage event(s) of {what} in {self.path}")
        http = self.client.http
        if http is not None and http.failure is not None:
            missed = http.skipped + 1  # the event that failed, and those not sent after it
            _warn(f"{missed} OpenLineage event(s) of {what} not sent to {http.url}: {one_line(str(http.failure))}")


def _warn(message: str) -> None:
    """A lineage problem: a warning in the process's log and in the run's log; the run goes on."""
    log.warning("lineage: %s", message)
    run_log.note(f"lineage: {message}", "warn")


@contextlib.contextmanager
def _never_fails(what: str) -> Iterator[None]:
    """Any error of the block becomes one warning naming `what`."""
    try:
        yield
    except Exception as exc:
        _warn(f"OpenLineage events of {what} not emitted: {one_line(str(exc)) or type(exc).__name__}")


# --- the pipeline run: the parent of every event -----------------------------------------------------------


def _parent(run: RunRecord, namespace: str) -> ParentRunMetadata:
    """The pipeline run (job `elt.<command>`) as the parent and root of each event's run; its OpenLineage
    run id is the same in every process (a UUID made from the run id and its start time)."""
    started = run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=UTC)
    run_uuid = str(generate_static_uuid(started, run.run_id.encode()))
    job = f"elt.{run.command}"
    return ParentRunMetadata(
        run_id=run_uuid,
        job_name=job,
        job_namespace=namespace,
        root_parent_run_id=run_uuid,
        root_parent_job_name=job,
        root_parent_job_namespace=namespace,
    )


def _tag_run(facets: dict[str, RunFacet], run_id: str) -> None:
    """Add the `elt_run_id` tag (the run id of audit.runs) to a run's facets."""
    tags = facets.get("tags")
    if not isinstance(tags, tags_run.TagsRunFacet):
        tags = facets["tags"] = tags_run.TagsRunFacet(tags=[], producer=PRODUCER)
    if not any(tag.key == RUN_ID_TAG for tag in tags.tags or []):
        tags.tags = [*(tags.tags or []), tags_run.TagsRunFacetFields(key=RUN_ID_TAG, value=run_id, source="ELT")]


# --- loads ---------------------------------------------------------------------------------------------------


@dataclass
class _FileRun:
    """The OpenLineage run of one file's load."""

    source: Source
    path: Path
    run_id: str = field(default_factory=lambda: str(generate_new_uuid()))


@dataclass
class LoadLineage:
    """The OpenLineage runs of one load (one per file): `start` before the load, then `complete` or `fail`.
    None of its methods raises: a problem is a warning."""

    warehouse: Warehouse
    run: RunRecord
    files: list[_FileRun]
    emitter: Emitter | None = None

    @classmethod
    def start(
        cls, warehouse: Warehouse, run: RunRecord, data_dir: Path, sources: Sequence[str] | None = None
    ) -> LoadLineage:
        """The START event of each file about to be loaded from `data_dir` into raw: those of the `sources`
        named (raw table names, as `ingestion.loader.load` takes them; default: all five)."""
        chosen = [source for source in SOURCES if not sources or source.name in sources]
        lineage = cls(warehouse, run, [_FileRun(source, (Path(data_dir) / source.file).resolve()) for source in chosen])
        with _never_fails("the load"):
            lineage.emitter = Emitter.of(warehouse, run.run_id)
            if lineage.emitter.enabled:
                lineage.emitter.emit(lineage._event(RunState.START, f) for f in lineage.files)
        return lineage

    def complete(self, loaded: LoadResult) -> None:
        """The COMPLETE event of each file: the file's size, rows and SHA-256, the raw table's columns and rows."""
        if self.emitter is None or not self.emitter.enabled:
            return
        with _never_fails("the load"):
            by_file = {f.source.file: f for f in loaded.files}
            columns = _raw_columns(self.warehouse, [f.source for f in self.files])
            events = []
            for file_run in self.files:
                done = by_file.get(file_run.source.file)
                event = self._event(RunState.COMPLETE, file_run)
                if done is not None:
                    _describe_loaded(event, done, columns.get(file_run.source.name, []))
                events.append(event)
            self.emitter.emit(events)
            self.emitter.report(f"load {loaded.load_id}")

    def fail(self, error: BaseException) -> None:
        """The FAIL event of each file, with the load's error (the load is all or nothing: no file was loaded)."""
        if self.emitter is None or not self.emitter.enabled:
            return
        with _never_fails("the load"):
            message = one_line(str(error)) or type(error).__name__
            events = []
            for file_run in self.files:
                event = self._event(RunState.FAIL, file_run)
                event.run.facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message=message, programmingLanguage="python", producer=PRODUCER
                )
                events.append(event)
            self.emitter.emit(events)
            self.emitter.report("a refused load")

    def _event(self, state: RunState, file_run: _FileRun) -> RunEvent:
        """A bare event of the file's run: job, parent, input file and output raw table, with their schema."""
        settings = self.warehouse.settings
        source = file_run.source
        run_facets: dict[str, RunFacet] = {"parent": _parent(self.run, settings.openlineage_namespace).to_openlineage()}
        _tag_run(run_facets, self.run.run_id)
        file_name = LocalFileSystem(path=str(file_run.path))
        namespace, table = raw_table(self.warehouse, source)
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=file_run.run_id, facets=run_facets),
            job=Job(namespace=settings.openlineage_namespace, name=f"{table}.load", facets=_load_job_facets(source)),
            inputs=[
                InputDataset(
                    namespace=file_name.get_namespace(),
                    name=file_name.get_name(),
                    facets={"schema": _schema([(column, None) for column in source.header])},
                )
            ],
            outputs=[
                OutputDataset(
                    namespace=namespace,
                    name=table,
                    facets={
                        "dataSource": datasource_dataset.DatasourceDatasetFacet(
                            name=namespace, uri=namespace, producer=PRODUCER
                        )
                    },
                )
            ],
            producer=PRODUCER,
        )


def _load_job_facets(source: Source) -> dict[str, JobFacet]:
    return {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=INTEGRATION, jobType="LOAD", producer=PRODUCER
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            description=(
                f"Loads {source.file} as text into {RAW_SCHEMA}.{source.name}, checked against its data contract"
                " (ingestion/loader.py); each load replaces the table."
            ),
            producer=PRODUCER,
        ),
    }


def _schema(columns: Sequence[tuple[str, str | None]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=name, type=kind) for name, kind in columns],
        producer=PRODUCER,
    )


def _describe_loaded(event: RunEvent, done: FileLoad, columns: list[tuple[str, str]]) -> None:
    """Add what the load of one file did to its COMPLETE event: the file's version (SHA-256), size and rows
    read; the raw table's columns, rows written, and that the load replaced it."""
    source_file, raw_table = event.inputs[0], event.outputs[0]
    source_file.facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=done.sha256, producer=PRODUCER
    )
    source_file.inputFacets = {
        "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=done.rows, size=done.bytes, fileCount=1, producer=PRODUCER
        )
    }
    if columns:
        raw_table.facets["schema"] = _schema(columns)
    raw_table.facets["lifecycleStateChange"] = lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
        lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange.OVERWRITE, producer=PRODUCER
    )
    raw_table.outputFacets = {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=done.rows, producer=PRODUCER
        )
    }


def _raw_columns(warehouse: Warehouse, sources: Sequence[Source]) -> dict[str, list[tuple[str, str]]]:
    """Table -> its (column, type) pairs in order, from the warehouse's information_schema."""
    names = [source.name for source in sources]
    conn = warehouse.connect(read_only=True)
    try:
        if conn.target == "spark":  # no information_schema: each table's columns from the catalog
            from core import spark

            present = spark.tables(conn.raw, RAW_SCHEMA)
            return {
                name: [
                    (column.name, column.dataType) for column in conn.raw.catalog.listColumns(f"{RAW_SCHEMA}.{name}")
                ]
                for name in names
                if name in present
            }
        marks = ", ".join("?" for _ in names)
        rows = conn.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            f" where table_schema = ? and table_name in ({marks}) order by table_name, ordinal_position",
            (RAW_SCHEMA, *names),
        )
    finally:
        conn.close()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        found.setdefault(table, []).append((column, kind))
    return found


# --- dbt nodes -----------------------------------------------------------------------------------------------


class _ArtifactProcessor(DbtLocalArtifactProcessor):
    """OpenLineage's dbt artifact processor on given artifacts, with the warehouse's profile (not the one
    profiles.yml renders in this process's environment) and no catalog (catalog.json is the docs of the last
    published build, not of this invocation). A dbt command it does not cover (`ls`, `docs`) gives no events."""

    should_raise_on_unsupported_command = False

    def __init__(self, warehouse: Warehouse, artifacts: Path, job_namespace: str) -> None:
        super().__init__(
            project_dir=str(project_dir(warehouse)),
            target=warehouse.target,
            target_path=str(artifacts),
            producer=DBT_PRODUCER,
            job_namespace=job_namespace,
            skip_errors=True,
            logger=_DBT_PROCESSOR_LOG,
        )
        self.warehouse_profile = _profile(warehouse)
        self.elt_warehouse = warehouse

    def extract_namespace(self, profile: dict) -> str:
        """The datasets' namespace: the integration's, but `spark://<folder>` for a local Spark session (the
        integration knows Spark only by the host of a Thrift or HTTP server)."""
        if self.elt_warehouse.target == "spark":
            return spark_namespace(self.elt_warehouse)
        return super().extract_namespace(profile)

    def get_dbt_metadata(self) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any], None]:
        manifest = self.load_metadata(self.manifest_path, list(range(2, 13)), self.logger)
        run_results = self.load_metadata(self.run_result_path, list(range(2, 7)), self.logger)
        return manifest, run_results, self.warehouse_profile, None


def dbt_node_events(warehouse: Warehouse, run: RunRecord, artifacts: Path) -> list[RunEvent]:
    """The events of the dbt nodes of one dbt invocation whose manifest.json and run_results.json are in
    `artifacts` (a build's, published or not, or a Cosmos task's): START, then COMPLETE or FAIL, per model and
    per tested model, naming the published relations. [] when there is no run_results.json.
    Raises OSError or ValueError for artifacts that cannot be read."""
    if not (Path(artifacts) / "run_results.json").is_file():
        return []
    namespace = warehouse.settings.openlineage_namespace
    with tempfile.TemporaryDirectory(prefix="elt-lineage-") as folder:
        publish.publish_artifacts(Path(artifacts), Path(folder))  # the build schemas renamed to the published
        processor = _ArtifactProcessor(warehouse, Path(folder), namespace)
        processor.dbt_run_metadata = _parent(run, namespace)
        events = processor.parse().events()
    for event in events:
        _tag_run(event.run.facets, run.run_id)  # START and COMPLETE share their Run
    return events


def emit_dbt_nodes(warehouse: Warehouse, run: RunRecord | str, artifacts: Path) -> int:
    """Emit the events of the dbt invocation whose artifacts are in `artifacts` (see `dbt_node_events`), as
    events of the pipeline run `run` (its record, or its id in audit.runs). Returns how many were emitted;
    never raises (0 and a warning when they could not be)."""
    with _never_fails(f"the dbt nodes in {artifacts}"):
        record = run if isinstance(run, RunRecord) else fetch_run(warehouse, run)
        emitter = Emitter.of(warehouse, record.run_id)
        if not emitter.enabled:
            return 0
        events = dbt_node_events(warehouse, record, artifacts)
        count = emitter.emit(events)
        emitter.report(f"{len({event.run.runId for event in events})} dbt node run(s)")
        return count
    return 0
