"""The API's Prometheus metrics (prometheus_client), served at GET /metrics (docs/monitoring.md).

- Requests: `elt_http_requests_total` and the histogram `elt_http_request_duration_seconds`, labelled by
  method, route template (`/runs/{run_id}`, never the path asked for) and status code, counted by the ASGI
  middleware `RequestMetrics`. Every label has a bounded set of values: a method outside HTTP's standard
  ones is `other`, a request no route took (404, or refused before routing) is `unmatched`.
- The pipeline: gauges read from the warehouse at scrape time by `PipelineCollector` (api/queries/metrics.py)
  through the API's own read-only connections: the last run of each trigger, the last successful load of
  each source, the rejected records by source and reason, and `elt_warehouse_up`.

With several worker processes (`elt serve --workers N`) the request metrics use prometheus_client's
multiprocess mode: each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR and a scrape, whichever
worker answers it, adds up the files of all of them (`multiprocess_directory` prepares the folder).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psycopg2
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db import WarehouseReader
from api.queries.metrics import PipelineFigures, SourceLoad, TriggerRun, pipeline_figures
from core.audit import utc_now
from core.errors import ConfigError, WarehouseBusy, WarehouseError, first_line

logger = logging.getLogger("uvicorn.error")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable: read once, when it is imported
REQUEST_LABELS = ("method", "route", "status")
# Seconds: an answer from memory takes milliseconds, a big report page or CSV seconds, a timeout 15 s.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"
RUN_STATUSES = ("running", "success", "failed", "interrupted")  # audit.runs.status


class ApiMetrics:
    """The metrics of one app: the request counter and histogram, and what a scrape reads.

    In one process (PROMETHEUS_MULTIPROC_DIR unset) the app has a registry of its own with the request
    metrics, the pipeline gauges and the process' own figures (`process_*`, `python_*`). In multiprocess mode
    each scrape reads a fresh registry: the request metrics of every worker's files, and the pipeline gauges
    (the per-process collectors cannot be added up, so they are left out).
    """

    def __init__(self, reader: WarehouseReader, multiprocess_dir: str | None = None):
        self.multiprocess_dir = multiprocess_dir or os.environ.get(MULTIPROC_ENV) or None
        own = None if self.multiprocess_dir else CollectorRegistry()
        self.requests = Counter(
            "elt_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            REQUEST_LABELS,
            registry=own,
        )
        self.duration = Histogram(
            "elt_http_request_duration_seconds",
            "Seconds from a request's arrival until its response's last byte was handed to the server.",
            REQUEST_LABELS,
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self.pipeline = PipelineCollector(reader)
        if own is not None:
            own.register(self.pipeline)
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                own.register(collector)  # read-only views of this process: safe to share between registries
        self._own = own

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (`route` a template or UNMATCHED) that took `seconds`."""
        labels = (method if method in METHODS else OTHER_METHOD, route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)

    def registry(self) -> CollectorRegistry:
        """The registry a scrape reads (a fresh one per scrape in multiprocess mode)."""
        if self._own is not None:
            return self._own
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self.pipeline)
        return registry

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The metrics as (body, content type) in the format `accept` asks for: Prometheus' text format by
        default, OpenMetrics when asked (`application/openmetrics-text`). Reads the warehouse (blocking)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry()), content_type


class RequestMetrics:
    """ASGI middleware: every HTTP request counted and timed in `metrics` once its response is complete.

    A request is recorded just before the last part of its response goes to the server, so a client that
    has read a response and then scrapes finds it counted; one whose response never completes (the client
    left, or the app raised: a 500) is recorded when the app returns.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before its response starts
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self.metrics.observe(scope["method"], route_template(scope), status, time.perf_counter() - started)

        async def send_recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        finally:
            record()


def route_template(scope: Scope) -> str:
    """The path template of the route that took the request (`/runs/{run_id}`), or UNMATCHED."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED


class PipelineCollector(Collector):
    """The pipeline gauges, read from the warehouse at each scrape (see `families` for what they are).

    While a DuckDB load or build holds the warehouse (its one writer), the scrape gives the figures this
    process last read, with `elt_warehouse_busy` 1. When the warehouse cannot be read (unreachable, or a query
    failed), the scrape still succeeds: `elt_warehouse_up` is 0 and the other pipeline gauges are absent.
    """

    def __init__(self, reader: WarehouseReader):
        self.reader = reader
        self._last: PipelineFigures | None = None  # the figures of the last scrape that read the warehouse

    def describe(self) -> Iterable[Metric]:
        """The gauges' names and help, without samples (so that registering reads nothing)."""
        return families(None, utc_now())

    def collect(self) -> Iterable[Metric]:
        """The gauges, with the warehouse's figures as of now (or as last read, while it is busy)."""
        figures, busy = self._read()
        return families(figures, utc_now(), busy=busy)

    def _read(self) -> tuple[PipelineFigures | None, bool]:
        """The figures and False; while the warehouse is busy, the last figures read and True; (None, False)
        when it cannot be read (logged)."""
        try:
            with self.reader.connection() as conn:
                self._last = pipeline_figures(conn)
                return self._last, False
        except WarehouseBusy as exc:
            logger.info("metrics: the warehouse is busy, pipeline gauges as last read: %s", first_line(exc))
            return self._last, True
        except (WarehouseError, duckdb.Error, psycopg2.Error) as exc:
            logger.warning("metrics: pipeline gauges left out, the warehouse could not be read: %s", first_line(exc))
        return None, False


# The pipeline gauges: name -> (help, label names).
GAUGES: dict[str, tuple[str, list[str]]] = {
    "elt_warehouse_up": (
        "1 if this scrape read the warehouse's audit tables, 0 if it could not (busy, unreachable).",
        [],
    ),
    "elt_warehouse_busy": (
        "1 while a DuckDB load or build holds the warehouse: the other gauges are then those last read.",
        [],
    ),
    "elt_last_run_status": (
        "The status of the run each trigger (cli, api, airflow) started last: 1 for its status, 0 for the others.",
        ["trigger", "status"],
    ),
    "elt_last_run_duration_seconds": (
        "Wall-clock seconds of each trigger's last run (absent while it runs).",
        ["trigger"],
    ),
    "elt_last_run_start_timestamp_seconds": ("When each trigger's last run started (Unix time).", ["trigger"]),
    "elt_last_run_tests_failed": (
        "dbt tests that failed in each trigger's last run (absent: it built nothing).",
        ["trigger"],
    ),
    "elt_last_load_rows": ("Data rows of each source's last successful load.", ["source"]),
    "elt_last_successful_load_timestamp_seconds": (
        "When each source last loaded successfully (Unix time).",
        ["source"],
    ),
    "elt_last_successful_load_age_seconds": ("Seconds since each source last loaded successfully.", ["source"]),
    "elt_rejected_rows": (
        "Records the published marts reject (marts.rejected_records), by source and reason.",
        ["source", "reason"],
    ),
}


def families(figures: PipelineFigures | None, now: datetime, busy: bool = False) -> list[Metric]:
    """The pipeline gauges (GAUGES) of `figures`; None: `elt_warehouse_up` 0 (1 if `busy`: the warehouse is
    there, being written) and the others without samples. `now` is naive UTC, as audit stores times."""
    gauges = {name: GaugeMetricFamily(name, text, labels=labels) for name, (text, labels) in GAUGES.items()}
    gauges["elt_warehouse_up"].add_metric([], 1 if figures is not None or busy else 0)
    gauges["elt_warehouse_busy"].add_metric([], 1 if busy else 0)
    if figures is not None:
        _add_runs(gauges, figures.last_runs)
        _add_loads(gauges, figures.last_loads, now)
        for count in figures.rejected:
            gauges["elt_rejected_rows"].add_metric([count.source, count.reason], count.rows)
    return list(gauges.values())


def _add_runs(gauges: dict[str, GaugeMetricFamily], runs: list[TriggerRun]) -> None:
    """The samples of the last run of each trigger."""
    for run in runs:
        for state in dict.fromkeys((*RUN_STATUSES, run.status)):  # a status this list does not know is shown too
            gauges["elt_last_run_status"].add_metric([run.trigger, state], 1 if state == run.status else 0)
        gauges["elt_last_run_start_timestamp_seconds"].add_metric([run.trigger], unix_time(run.started_at))
        if run.seconds is not None:
            gauges["elt_last_run_duration_seconds"].add_metric([run.trigger], run.seconds)
        if run.tests_failed is not None:
            gauges["elt_last_run_tests_failed"].add_metric([run.trigger], run.tests_failed)


def _add_loads(gauges: dict[str, GaugeMetricFamily], loads: list[SourceLoad], now: datetime) -> None:
    """The samples of the last successful load of each source, its age as of `now` (naive UTC)."""
    for load in loads:
        gauges["elt_last_load_rows"].add_metric([load.source], load.rows)
        gauges["elt_last_successful_load_timestamp_seconds"].add_metric([load.source], unix_time(load.finished_at))
        gauges["elt_last_successful_load_age_seconds"].add_metric(
            [load.source], (now - load.finished_at).total_seconds()
        )


def unix_time(moment: datetime) -> float:
    """Unix time (seconds) of a naive UTC timestamp as audit stores it."""
    return moment.replace(tzinfo=UTC).timestamp()


@contextlib.contextmanager
def multiprocess_directory(workers: int, environ: MutableMapping[str, str] | None = None) -> Iterator[Path | None]:
    """The folder the worker processes of `elt serve` share their request metrics in, for the block.

    PROMETHEUS_MULTIPROC_DIR when set in `environ` (default os.environ): created if missing, the metric files
    an earlier server left in it (`*.db`) removed. Else, with several `workers`, a new temporary folder,
    exported as PROMETHEUS_MULTIPROC_DIR (the workers inherit it) and removed after the block. Else (one
    worker) None: the metrics stay in the process' memory. Raises ConfigError (exit code 2) when
    PROMETHEUS_MULTIPROC_DIR cannot be used as a folder.
    """
    environ = os.environ if environ is None else environ
    given = environ.get(MULTIPROC_ENV)
    if given:
        yield _emptied(Path(given))
        return
    if workers == 1:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="elt-metrics-") as folder:
        environ[MULTIPROC_ENV] = folder
        try:
            yield Path(folder)
        finally:
            environ.pop(MULTIPROC_ENV, None)


def _emptied(folder: Path) -> Path:
    """`folder`, created if missing, without the metric files of an earlier run; ConfigError if impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for kind in ("counter", "gauge", "histogram", "summary"):  # prometheus_client's own files, nothing else
            for stale in folder.glob(f"{kind}_*.db"):
                stale.unlink()
    except OSError as exc:
        raise ConfigError(f"{MULTIPROC_ENV}={folder} cannot be used for the metrics: {exc.strerror}") from None
    return folder
