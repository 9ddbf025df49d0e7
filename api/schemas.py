"""Response models. dbt resources follow dbt's Discovery API: keyed by `unique_id`, with the definition
(from the manifest) kept apart from what is applied (from audit.node_results: the last attempt and the
last success, separately)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, Field

T = TypeVar("T")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# The audit tables and dbt store UTC without a zone; the API says so (`...Z`), as RFC 3339 asks.
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class Page(BaseModel, Generic[T]):
    """One page of a list; `total` counts every item that matches, on all pages."""

    items: list[T]
    page: int = Field(ge=1)
    page_size: int = Field(ge=1, le=500)
    total: int = Field(ge=0)


class ErrorBody(BaseModel):
    """Every error: what went wrong, in one sentence."""

    detail: Any


# ------------------------------------------------------------------------------------------ health


class LastRun(BaseModel):
    run_id: str
    status: str
    trigger: str
    command: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None


class Health(BaseModel):
    """`ok` when the warehouse answers; `busy` while a load or build writes to a DuckDB warehouse. Public:
    nothing more (no path, host or error text); the rest is in HealthDetails, behind the key."""

    status: Literal["ok", "busy", "unreachable"]
    target: str


class HealthDetails(Health):
    """Health with which warehouse, why it is busy or unreachable, and how the last run ended."""

    warehouse: str
    detail: str | None = None
    last_run: LastRun | None = None


# -------------------------------------------------------------------------------------------- runs


class RunSummary(BaseModel):
    """One pipeline run (`elt run`, `elt build`, an Airflow DAG run, a build started here)."""

    run_id: str
    trigger: str
    command: str
    target: str
    status: str
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    seconds: float | None
    rows_loaded: int | None
    models_built: int | None
    models_failed: int | None
    tests_passed: int | None
    tests_failed: int | None
    tests_warned: int | None
    error: str | None


class RunDetail(RunSummary):
    load_id: str | None
    seconds_per_step: dict[str, float]


class RunRequest(BaseModel):
    """What to run: `elt build` here (dbt node selection, default everything, and whether to rebuild
    incrementals), or the whole pipeline as a run of the Airflow DAG `elt_pipeline` (`via: airflow`)."""

    select: list[str] | None = Field(
        default=None,
        max_length=20,
        description="dbt selectors, e.g. `stg_stores` or `+fct_sales` (letters, digits and `_.+*@:/,-`);"
        " `via: elt` only",
    )
    full_refresh: bool = Field(default=False, description="rebuild incremental models from scratch; `via: elt` only")
    via: Literal["elt", "airflow"] = Field(
        default="elt",
        description="`elt`: `elt build` as a process of this server; `airflow`: trigger the DAG `elt_pipeline`"
        " through Airflow's REST API (needs ELT_AIRFLOW_URL, ELT_AIRFLOW_USERNAME, ELT_AIRFLOW_PASSWORD)",
    )


class RunAccepted(BaseModel):
    """A run started: its id, `running` (a build here) or Airflow's state of the DAG run (`queued`), where to
    follow it."""

    run_id: str
    status: str
    url: str


# ---------------------------------------------------------------------------------- dbt resources


class NodeExecution(BaseModel):
    """One execution of a dbt node, from audit.node_results."""

    run_id: str
    invocation_id: str
    status: str
    started_at: UtcDatetime | None
    completed_at: UtcDatetime | None
    execution_seconds: float | None
    rows_affected: int | None
    row_count: int | None
    failures: int | None
    message: str | None


class NodeRunResult(NodeExecution):
    """A node's execution within one run, named."""

    unique_id: str
    name: str
    resource_type: str
    attached_model: str | None


class Applied(BaseModel):
    """What the warehouse holds: the node's last attempt and its last success (either may be missing)."""

    last_attempt: NodeExecution | None
    last_success: NodeExecution | None


class Column(BaseModel):
    name: str
    description: str
    data_type: str | None  # from the catalog (dbt docs generate), else the YAML's data_type


class ModelDefinition(BaseModel):
    """The model as the project defines it (manifest)."""

    description: str
    database: str | None
    schema_name: str
    relation_name: str | None
    materialized: str
    tags: list[str]
    original_file_path: str
    raw_code: str
    compiled_code: str | None
    columns: list[Column]
    parents: list[str]
    children: list[str]
    tests: list[str]


class ModelSummary(BaseModel):
    unique_id: str
    name: str
    resource_type: Literal["model"] = "model"
    description: str
    schema_name: str
    materialized: str
    applied: Applied


class ModelDetail(BaseModel):
    unique_id: str
    name: str
    resource_type: Literal["model"] = "model"
    definition: ModelDefinition
    applied: Applied


class DataTestDefinition(BaseModel):
    test_type: Literal["generic", "singular", "unit"]
    test_name: str  # not_null, relationships, ... ; the file name for singular tests
    attached_model: str | None
    column_name: str | None
    severity: str
    description: str
    depends_on: list[str]


class DataTestResource(BaseModel):
    unique_id: str
    name: str
    resource_type: Literal["test", "unit_test"]
    definition: DataTestDefinition
    applied: Applied


class LoadInfo(BaseModel):
    """The latest load of a raw table's file (audit.loads)."""

    load_id: str
    file: str
    status: str
    rows: int | None
    bytes: int | None
    sha256: str | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    error: str | None


class Freshness(BaseModel):
    """dbt's freshness of a raw table, as the last `dbt source freshness` found it (sources.json; it runs
    after each published build). dbt takes the time of the data from the rows' `_load_id`: the start
    (UTC) of the load the table holds. Thresholds: `freshness:` in dbt_project/models/staging/_raw__sources.yml.

    status: dbt's `pass`, `warn` (older than warn_after) or `error` (older than error_after), `runtime
    error` (dbt could not check the table: `message` says why); `not_tracked` for a source without
    thresholds (the audit tables); `never_checked` when no check has covered the table yet.
    """

    status: Literal["pass", "warn", "error", "runtime error", "not_tracked", "never_checked"]
    max_loaded_at: UtcDatetime | None  # when the table's data was loaded (its load's start), as dbt found it
    snapshotted_at: UtcDatetime | None  # when dbt checked
    age_seconds: float | None  # max_loaded_at's age when dbt checked (seconds; what the status is based on)
    warn_after_seconds: float | None  # dbt's warn_after in seconds (never checked: the project's); None if unset
    error_after_seconds: float | None  # dbt's error_after in seconds (never checked: the project's); None if unset
    message: str | None = None  # dbt's error, for a `runtime error`


class SourceDefinition(BaseModel):
    """The source table as the project declares it (manifest)."""

    source_name: str
    description: str
    relation_name: str | None
    columns: list[Column]
    children: list[str]


class SourceApplied(BaseModel):
    """What was loaded (audit.loads): the latest load attempt and the latest successful one; and how fresh
    dbt found the data (sources.json)."""

    last_load: LoadInfo | None
    last_successful_load: LoadInfo | None
    freshness: Freshness


class SourceResource(BaseModel):
    unique_id: str
    name: str
    resource_type: Literal["source"] = "source"
    definition: SourceDefinition
    applied: SourceApplied


class LineageNode(BaseModel):
    unique_id: str
    name: str
    resource_type: str


class LineageEdge(BaseModel):
    parent: str
    child: str


class Lineage(BaseModel):
    """The node with all its ancestors and descendants (tests left out), or the whole graph."""

    node: str | None
    nodes: list[LineageNode]
    edges: list[LineageEdge]


# ----------------------------------------------------------------------------------------- reports


class ReportColumn(BaseModel):
    name: str
    data_type: str
    description: str


class ReportInfo(BaseModel):
    name: str
    description: str
    key: list[str]
    columns: list[ReportColumn]
    rows: int
    url: str
    csv_url: str


class RejectedRecord(BaseModel):
    source: str
    source_row: int
    natural_key: str | None
    reason: str
    raw_record: str
    load_id: str | None
