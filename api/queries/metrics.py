"""What the pipeline gauges of GET /metrics read from the warehouse: the last run of each trigger
(audit.runs), the last successful load of each source (audit.loads) and the rejected records by source and
reason (marts.rejected_records).

Each query answers "nothing" rather than failing where its table does not exist yet: a warehouse nothing
ran on has no audit tables, one only loaded has no marts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.queries.runs import audit_tables
from core.warehouse import Connection


@dataclass(frozen=True)
class TriggerRun:
    """The run started last by one trigger (audit.runs)."""

    trigger: str  # cli | api | airflow
    status: str  # running | success | failed | interrupted
    started_at: datetime  # naive UTC, as audit stores it
    seconds: float | None  # the run's wall-clock seconds; None while it runs (or if it died)
    tests_failed: int | None  # failing dbt tests of its build; None when it built nothing (yet)


@dataclass(frozen=True)
class SourceLoad:
    """The last successful load of one source's file (audit.loads, status `loaded`)."""

    source: str  # customers | products | stores | exchange_rates | sales
    rows: int  # data rows of the file (its header not counted)
    finished_at: datetime  # naive UTC: when the load's transaction was about to commit


@dataclass(frozen=True)
class RejectedCount:
    """How many records of a source the published marts reject for one reason."""

    source: str
    reason: str  # e.g. invalid_key, orphan_customer, superseded_duplicate
    rows: int


@dataclass(frozen=True)
class PipelineFigures:
    """Everything the pipeline gauges show, read in one go from one connection."""

    last_runs: list[TriggerRun]
    last_loads: list[SourceLoad]
    rejected: list[RejectedCount]


def pipeline_figures(conn: Connection) -> PipelineFigures:
    """The last run per trigger, the last successful load per source and the rejected records per source and
    reason; each list is empty when its table does not exist yet. Raises the driver's error when a query fails."""
    found = audit_tables(conn)
    return PipelineFigures(
        last_runs=last_run_per_trigger(conn) if "runs" in found else [],
        last_loads=last_load_per_source(conn) if "loads" in found else [],
        rejected=rejected_per_source_and_reason(conn) if marts_built(conn) else [],
    )


def last_run_per_trigger(conn: Connection) -> list[TriggerRun]:
    """The run started last by each trigger (ties: the greater run id), by trigger. audit.runs must exist."""
    rows = conn.execute(
        "select trigger, status, started_at, seconds, tests_failed from (select trigger, status, started_at, seconds,"
        " tests_failed, row_number() over (partition by trigger order by started_at desc, run_id desc) as newest"
        " from audit.runs) ranked where newest = 1 order by trigger"
    )
    return [
        TriggerRun(trigger, status, started_at, _float(seconds), _int(tests_failed))
        for trigger, status, started_at, seconds, tests_failed in rows
    ]


def last_load_per_source(conn: Connection) -> list[SourceLoad]:
    """Each source's last successful load (the one finished last; ties: the greater load id), by source; a
    source never loaded successfully is absent. audit.loads must exist."""
    rows = conn.execute(
        "select source, rows, finished_at from (select source, rows, finished_at, row_number() over"
        " (partition by source order by finished_at desc nulls last, load_id desc) as newest"
        " from audit.loads where status = 'loaded') ranked where newest = 1 order by source"
    )
    return [SourceLoad(source, int(n), finished_at) for source, n, finished_at in rows]


def marts_built(conn: Connection) -> bool:
    """True when marts.rejected_records exists (a build has been published)."""
    return bool(
        conn.scalar(
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts' and table_name = 'rejected_records'"
        )
    )


def rejected_per_source_and_reason(conn: Connection) -> list[RejectedCount]:
    """The records marts.rejected_records holds, counted by source and reason (a pair with none is absent),
    by source and reason. The table must exist."""
    rows = conn.execute(
        "select source, reason, count(*) from marts.rejected_records group by source, reason order by source, reason"
    )
    return [RejectedCount(source, reason, int(n)) for source, reason, n in rows]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # Postgres may hand a Decimal


def _int(value: object) -> int | None:
    return None if value is None else int(value)
