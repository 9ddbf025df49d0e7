"""The pipeline as plain functions: generate (if no data) -> load -> data_docs -> validate -> build -> export
-> docs.

`run_pipeline` is `elt run`; `build_and_record` is `elt build`. Each step is also callable on its own
(the Airflow DAG calls the same functions, one task per step, after `resume_run`), times itself into the
run record, and updates audit.runs, so a run's progress and outcome are in the warehouse whichever way
it was started.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from core.audit import new_id
from core.data_docs import DataDocs
from core.dbt_project import manifest_path, marts, read_manifest, reports, target_path
from core.errors import EltError, describe_failure, failure_cause, one_line
from core.warehouse import Warehouse
from ingestion.contract import LOAD_ID_COLUMN, SOURCES
from orchestration import dbt, publish, run_log
from orchestration.changes import Changes, detect_changes, file_inputs, record_build_inputs, written_since
from orchestration.run_audit import RunRecord, fetch_run, node_counts, record_build, start_run, update_run


class BuildFailed(EltError):
    """dbt build finished with failed models or error-severity tests (exit code 1)."""


class RawMismatch(EltError):
    """The raw tables are not the load this run made (a table missing, empty, or from another load)."""


@dataclass
class RunResult:
    """What a pipeline run did, for the terminal summary and the callers' checks."""

    run: RunRecord
    warehouse: Warehouse
    notes: dict[str, str] = field(default_factory=dict)  # step -> one-line result
    mart_rows: dict[str, int] = field(default_factory=dict)
    report_rows: dict[str, int] = field(default_factory=dict)
    docs_index: Path | None = None
    load_attempt: str | None = None  # the load id the load step used, also when the load was refused

    @property
    def success(self) -> bool:
        """True when every step ran and every error-severity test passed."""
        return self.run.status == "success"


@contextmanager
def _step(result: RunResult, name: str) -> Iterator[None]:
    """Time one step into the run record and write the run's progress to audit.runs afterwards; the run's
    log (orchestration/run_log.py) gets a line when the step starts and one when it ends (its note or error).

    A step taken in several parts (the DAG loads each file in its own task) adds up its seconds. When the
    step failed, writing its progress is best effort: the warehouse may be what failed (disk full, server
    gone), and the step's own error is the one to report.
    """
    started = time.perf_counter()
    run_log.note(f"{name} started")

    def record() -> None:
        seconds = result.run.seconds_per_step.get(name, 0.0) + time.perf_counter() - started
        result.run.seconds_per_step[name] = round(seconds, 3)
        update_run(result.warehouse, result.run)
        run_log.flush(result.warehouse, result.run.run_id)

    try:
        yield
    except BaseException as exc:
        why = one_line(str(exc)) or type(exc).__name__
        run_log.note(f"{name} failed after {time.perf_counter() - started:.2f} s: {why}", "error")
        with contextlib.suppress(Exception):
            record()
        raise
    note = result.notes.get(name)
    run_log.note(f"{name} done in {time.perf_counter() - started:.2f} s" + (f": {note}" if note else ""))
    record()


def has_sample_data(data_dir: Path) -> bool:
    """True when data_dir holds all five CSV files."""
    return all((Path(data_dir) / source.file).is_file() for source in SOURCES)


def has_any_data(data_dir: Path) -> bool:
    """True when data_dir holds at least one of the five CSV files."""
    return any((Path(data_dir) / source.file).exists() for source in SOURCES)


def generate_step(result: RunResult, data_dir: Path, sample: bool = True) -> None:
    """Generate the sample data into data_dir if it holds none of the five files (empty or missing), when
    `sample` (the DAG's first task always; `elt run` with --sample); without it the step only notes that it
    was not asked for.

    A folder with some of them is the user's data, never overwritten: the load then names the missing file.
    """
    with _step(result, "generate"):
        if not sample:
            result.notes["generate"] = f"skipped: no sample data asked for (the data is read from {data_dir})"
            return
        if has_sample_data(data_dir):
            result.notes["generate"] = f"skipped: {data_dir} has the five files"
            return
        if has_any_data(data_dir):
            result.notes["generate"] = f"skipped: {data_dir} holds data files (not all five)"
            return
        from ingestion.generator import generate

        generate(Path(data_dir))
        result.notes["generate"] = f"sample data (seed 42, scale 1) into {data_dir}"


def load_step(
    result: RunResult,
    data_dir: Path,
    out: TextIO | None = None,
    sources: list[str] | None = None,
) -> None:
    """Load the CSVs (default: all five; `sources` picks some) into raw, atomically.

    The run's load id is used when it has one, so loads made in several parts share it; the rows add up.
    The id used is `result.load_attempt` whether the load succeeded or not (the Data Docs step needs it).
    """
    from ingestion.loader import load
    from orchestration.lineage import LoadLineage

    result.load_attempt = result.run.load_id or new_id()
    with _step(result, "load"):
        # OpenLineage events of each file (orchestration/lineage.py): START now, COMPLETE or FAIL after the
        # load; they never fail it.
        lineage = LoadLineage.start(result.warehouse, result.run, Path(data_dir), sources)
        try:
            loaded = load(result.warehouse, Path(data_dir), sources=sources, out=out, load_id=result.load_attempt)
        except BaseException as exc:
            lineage.fail(exc)
            raise
        lineage.complete(loaded)
        result.run.load_id = loaded.load_id
        result.run.rows_loaded = (result.run.rows_loaded or 0) + loaded.rows
        some = len(loaded.files) < len(SOURCES)  # named when not all of them (one DAG task's, a changed file)
        files = ", ".join(f.source.file for f in loaded.files) if some else f"{len(loaded.files)} files"
        result.notes["load"] = (
            f"{result.run.rows_loaded:,} rows in {files} (load {loaded.load_id}); data contract checked in"
            f" {loaded.validation_seconds:.2f} s, {loaded.warnings} warning(s)"
        )


def data_docs_step(result: RunResult, out: TextIO | None = None) -> None:
    """The Great Expectations Data Docs of the run's load (a refused load's too): GX's page of each file it
    validated, listed in the index of `DataDocs.of(warehouse)` (ingestion.data_docs.publish_data_docs).

    Never fails the run for the pages: when they cannot be written, the note (and `out`) says why.
    """
    from ingestion.data_docs import publish_data_docs

    load_id = result.load_attempt or result.run.load_id
    with _step(result, "data_docs"):
        if load_id is None:
            result.notes["data_docs"] = "skipped: no load in this run"
            return
        try:
            published = publish_data_docs(result.warehouse, load_id)
        except Exception as exc:
            result.notes["data_docs"] = f"not written: {describe_failure(exc)}"
            if out is not None:
                print(f"warning: data docs not written to {DataDocs.of(result.warehouse).site}: {exc}", file=out)
            return
        if not published.entries:
            result.notes["data_docs"] = f"nothing to publish: load {load_id} kept no validation result"
            return
        pages = len(published.entries)
        result.notes["data_docs"] = f"{pages} validation page(s) of load {load_id} in {published.index}"
        if out is not None:
            print(f"data docs of the contract: {published.index} ({published.seconds:.2f} s)", file=out)


def validate_step(result: RunResult, kept: dict[str, str] | None = None) -> None:
    """Check that raw holds exactly this run's inputs: every table present, non-empty, only rows of one load
    (the run's load, or for a source in `kept`, the load named there: an unchanged file the run did not
    reload), as many as audit.loads recorded, each file checked against its data contract (the loader swaps
    in no file that breaks it). Raises RawMismatch otherwise (dbt then does not run)."""
    kept = kept or {}
    with _step(result, "validate"):
        load_id = result.run.load_id
        expected = {source.name: kept.get(source.name, load_id) for source in SOURCES}
        if None in expected.values():
            raise RawMismatch("nothing was loaded in this run: run the load step first")
        conn = result.warehouse.connect(read_only=True)
        try:
            for source in SOURCES:
                wanted = expected[source.name]
                found = conn.execute(
                    f"select {LOAD_ID_COLUMN}, count(*) from raw.{source.name} group by 1 order by 2 desc"
                )
                recorded = conn.scalar(
                    "select max(rows) from audit.loads where load_id = ? and file = ? and status = 'loaded'",
                    (wanted, source.file),
                )
                validated = conn.scalar(
                    "select count(*) from audit.validations where load_id = ? and file = ?", (wanted, source.file)
                )
                if not validated:
                    raise RawMismatch(f"raw.{source.name} was loaded without its data contract being checked")
                if found != [(wanted, recorded)]:
                    seen = ", ".join(f"{rows:,} rows of load {lid}" for lid, rows in found) or "no rows"
                    raise RawMismatch(
                        f"raw.{source.name} is not load {wanted} ({recorded or 0:,} rows of {source.file}"
                        f" recorded): it holds {seen}"
                    )
        finally:
            conn.close()
        if not kept:
            result.notes["validate"] = f"raw holds load {load_id} in all {len(SOURCES)} tables"
        else:
            fresh = len(SOURCES) - len(kept)
            result.notes["validate"] = (
                f"raw holds load {load_id} in {fresh} table(s), " if fresh else "raw holds "
            ) + f"the loads of the unchanged files in {len(kept)}"


def build_step(
    result: RunResult,
    select: list[str] | None = None,
    full_refresh: bool = False,
    quiet: bool = False,
    complete: bool | None = None,
    ahead: dbt.ParseAhead | None = None,
) -> None:
    """`dbt build` into the build schemas, its run_results.json into audit.node_results, then publish.

    Write-audit-publish (docs/publishing.md): a build whose models and error-severity tests all passed
    is published in one transaction, and its inputs recorded (orchestration/changes.py); otherwise
    BuildFailed is raised, nothing is published, and readers keep the last good build. The build step's
    seconds include preparing and publishing.
    `complete`: whether the published build then reflects all of raw and the project (default: when nothing
    is selected; `elt run` passes True for the selection of what changed). `ahead`: the build's parse, started
    before the load (dbt.ParseAhead).
    """
    with _step(result, "build"):
        outcome = dbt.build(
            result.warehouse,
            select=select,
            full_refresh=full_refresh,
            quiet=quiet,
            publish_if_passed=False,
            ahead=ahead,
        )
        if outcome.result is None:  # dbt did not get to run any node (project or connection error)
            raise BuildFailed(f"dbt build could not run on {result.warehouse.describe()}: {outcome.exception}")
        counts = record_build(result.warehouse, result.run.run_id, outcome.target_path)
        result.run.counts = counts
        _emit_dbt_lineage(result, outcome.target_path)
        tests = f"{counts.tests_passed} tests passed, {counts.tests_failed} failed, {counts.tests_warned} warned"
        result.notes["build"] = f"{counts.models_built} models built, {counts.models_failed} not; {tests}"
        if not outcome.success:
            shown = counts.shown_failures()
            why = _common_cause(counts.failures)
            result.notes["build"] += "; not published"
            where = result.warehouse.describe()
            raise BuildFailed(f"dbt build failed on {where} (nothing published): {why}{shown or outcome.exception}")
        dbt.publish_build(result.warehouse, outcome)
        record_build_inputs(result.warehouse, result.run.run_id, complete=not select if complete is None else complete)
        result.notes["build"] += "; " + _published_note(outcome)
    result.mart_rows = _mart_rows(result.warehouse)


def _emit_dbt_lineage(result: RunResult, artifacts: Path) -> None:
    """The OpenLineage events of the build's dbt nodes (orchestration/lineage.py), naming the published
    relations, failed nodes' too; they never fail the build (a warning instead)."""
    from orchestration.lineage import emit_dbt_nodes

    emit_dbt_nodes(result.warehouse, result.run, artifacts)


def _published_note(outcome: dbt.DbtOutcome) -> str:
    """`published 4 schemas in 0.61 s (copied 1 relation first in 0.08 s)`."""
    published, prepared = outcome.published, outcome.prepared
    note = f"published {len(published.schemas)} schemas in {published.seconds:.2f} s" if published else "published"
    if prepared and prepared.copied:
        count = len(prepared.copied)
        note += f" (copied {count} relation{'s' if count != 1 else ''} first in {prepared.seconds:.2f} s)"
    return note


def _common_cause(failures: list[str]) -> str:
    """`<cause>: ` when the failed nodes say the warehouse itself failed (no room to write, server gone), so
    the message starts with that rather than with the first of many nodes; else ''."""
    cause = failure_cause(" ".join(failures))
    return f"{cause}: " if cause else ""


def export_step(result: RunResult, reports_dir: Path) -> None:
    """Every report of the manifest as a CSV file in reports_dir."""
    from orchestration.export import export_reports

    with _step(result, "export"):
        result.report_rows = export_reports(result.warehouse, Path(reports_dir))
        result.notes["export"] = f"{len(result.report_rows)} CSVs in {reports_dir}"


def docs_step(result: RunResult) -> None:
    """`dbt docs generate --static`: index.html (served) and static_index.html (opens from disk, offline).

    The note names the data contract's Data Docs too (the data_docs step wrote them)."""
    with _step(result, "docs"):
        result.docs_index = dbt.generate_docs(result.warehouse)
        contract = DataDocs.of(result.warehouse).index
        result.notes["docs"] = (
            f"{result.docs_index}; data contract: {contract}" if contract.is_file() else str(result.docs_index)
        )


def _mart_rows(warehouse: Warehouse) -> dict[str, int]:
    conn = warehouse.connect(read_only=True)
    try:
        names = marts(read_manifest(manifest_path(warehouse)))  # the published build's marts
        return {mart: conn.scalar(f"select count(*) from marts.{mart}") for mart in names}
    finally:
        conn.close()


def _run(
    warehouse: Warehouse, trigger: str, command: str, steps: Callable[[RunResult], None], run_id: str | None = None
) -> RunResult:
    """Run `steps` under the warehouse lock with a run record: `success`, or `failed` with the error. The
    run's log (its dbt invocations' lines and its steps') goes to audit.run_logs when the run is closed.

    Once the run is closed (whatever ended it, an exception included, which is raised again afterwards) its
    alert goes to ELT_NOTIFY_URLS (orchestration/notify.py): failed runs, good ones too with ELT_NOTIFY_ON=always.
    An alert that cannot be sent is a warning and a line of the run's log, never the run's failure.
    """
    from orchestration.notify import notify_run

    run = RunRecord(trigger=trigger, command=command, target=warehouse.target)
    if run_id:
        run.run_id = run_id
    result = RunResult(run, warehouse)
    with warehouse.lock(purpose=command), run_log.capturing(run_log.RunLog()):
        start_run(warehouse, result.run)
        run_log.note(f"{trigger} {command} {run.run_id} on {warehouse.describe()}")
        ended: BaseException | None = None
        try:
            steps(result)
            result.run.status = "success"
        except BuildFailed as exc:
            result.run.status, result.run.error = "failed", str(exc)
        except BaseException as exc:
            result.run.status, result.run.error = "failed", str(exc) or type(exc).__name__
            ended = exc
        _close_log(result)
        if ended is None:
            update_run(warehouse, result.run, finished=True)
        else:
            # Best effort: if the warehouse itself failed, the row stays `running` and the next run marks it
            # `interrupted`; the error raised below is the one the user sees either way.
            with contextlib.suppress(Exception):
                update_run(warehouse, result.run, finished=True)
        notify_run(warehouse, result.run)  # never raises
        run_log.flush(warehouse, result.run.run_id)  # the alert's line, if it could not be sent
        if ended is not None:
            raise ended
    return result


def _close_log(result: RunResult) -> None:
    """The run's last log line (its outcome), then the lines not stored yet into audit.run_logs (best effort)."""
    if result.run.status == "success":
        run_log.note(f"run {result.run.run_id} succeeded")
    else:
        run_log.note(f"run {result.run.run_id} failed: {one_line(result.run.error or '')}", "error")
    run_log.flush(result.warehouse, result.run.run_id)


def run_pipeline(
    warehouse: Warehouse,
    data_dir: Path,
    reports_dir: Path,
    trigger: str = "cli",
    out: TextIO | None = None,
    sample: bool = False,
    force: bool = False,
) -> RunResult:
    """`elt run`: with `sample`, generate the sample data if data_dir is missing or has no data (else the
    generate step only notes it was not asked for); load, publish the load's Data Docs, build, export the
    reports, generate dbt docs.

    Only what changed is redone (orchestration/changes.py): a file whose sha256 is the one raw holds is not
    reloaded, and dbt rebuilds only the models and tests downstream of the raw tables that changed since the
    published build (everything when the dbt project or the day changed). When nothing changed, nothing is
    loaded or built and each skipped step's note says why; the reports and docs are written again only if
    missing or older than the published build. `force` reloads and rebuilds everything.
    A failed build ends the run as `failed` (export and docs are skipped); bad input raises InputError
    after recording the run as failed (a file refused by its data contract still gets its Data Docs page).
    """

    def steps(result: RunResult) -> None:
        generate_step(result, data_dir, sample=sample)
        changes = None if force else detect_changes(warehouse, file_inputs(warehouse, data_dir))
        if changes is not None:
            run_log.note(f"compared with the published build: {changes.why()}")
        loads = changes is None or bool(changes.reload)
        # dbt parses the project for the build while the files load, in a process of its own, when the build
        # folder has no partial-parse state yet (docs/publishing.md); with nothing to load it would only add a wait.
        with (dbt.ParseAhead.start(result.warehouse) if loads else None) or contextlib.nullcontext() as ahead:
            if not loads:
                _skip(result, "load", f"skipped: the {len(SOURCES)} files are the loads raw holds (same sha256)")
                _skip(result, "data_docs", "skipped: no load in this run")
            else:
                try:
                    load_step(result, data_dir, out, sources=changes.reload if changes else None)
                except Exception:
                    with contextlib.suppress(Exception):  # the load's own error is the one to report
                        data_docs_step(result, out)
                    raise
                data_docs_step(result, out)
            if changes is not None and changes.nothing:
                _unchanged(result, changes, reports_dir)
                return
            validate_step(result, kept=changes.kept_loads if changes else None)
            build_step(result, select=changes.selection if changes else None, quiet=True, complete=True, ahead=ahead)
        if changes is not None and changes.full_build is None:
            result.notes["build"] += f" (rebuilt what depends on {', '.join(changes.rebuild)})"
        export_step(result, reports_dir)
        docs_step(result)

    return _run(warehouse, trigger, "run", steps)


def _skip(result: RunResult, step: str, note: str) -> None:
    """A step the run did not need: 0 s, and a note saying why in the summary and the run's log (written
    to the warehouse with the run's next update, not on its own)."""
    result.notes[step] = note
    result.run.seconds_per_step[step] = 0.0
    run_log.note(f"{step} {note}")


def _unchanged(result: RunResult, changes: Changes, reports_dir: Path) -> None:
    """The rest of a run whose inputs are those of the published build: nothing validated or built; the
    reports and docs written again only when missing or older than that build."""
    _skip(result, "validate", "skipped: raw holds the loads of the published build")
    _skip(result, "build", f"skipped: {changes.why()}; `elt run --force` rebuilds")
    manifest = read_manifest(manifest_path(result.warehouse))
    names = reports(manifest)
    built_at = changes.published.recorded_at if changes.published else None
    if all(written_since(Path(reports_dir) / f"{name}.csv", built_at) for name in names):
        _skip(result, "export", f"skipped: {reports_dir} holds the {len(names)} CSVs of that build")
    else:
        export_step(result, reports_dir)
    site = target_path(result.warehouse)
    if all(written_since(site / name, built_at) for name in ("index.html", "catalog.json")):
        _skip(result, "docs", f"skipped: {site / 'index.html'} is of that build")
    else:
        docs_step(result)
    result.mart_rows = _mart_rows(result.warehouse)


def build_and_record(
    warehouse: Warehouse,
    select: list[str] | None = None,
    full_refresh: bool = False,
    trigger: str = "cli",
    run_id: str | None = None,
) -> RunResult:
    """`elt build`: dbt build with dbt's own log, recorded in audit.runs and audit.node_results
    (under `run_id` when the caller chose it, e.g. the API, which answers with it before the build starts).

    On a warehouse whose raw tables are not loaded, the run is recorded as failed with one line saying to
    load first, and readiness.NotReady (exit code 2) is raised: no dbt node runs."""
    from orchestration.readiness import require_loaded

    def steps(result: RunResult) -> None:
        require_loaded(result.warehouse)  # under the run's lock: a load still running has finished
        build_step(result, select, full_refresh)

    return _run(warehouse, trigger, "build", steps, run_id)


def prepare_build_step(result: RunResult) -> None:
    """Before a build made by other processes (the DAG's Cosmos tasks): drop leftover build schemas and copy
    each published incremental model into its build schema, as `dbt.build` does for `elt build`.

    The incremental models are read from the manifest the DAG renders (`dbt.ensure_manifest`)."""
    manifest = read_manifest(dbt.ensure_manifest(result.warehouse))
    prepared = publish.prepare_build(result.warehouse, manifest)
    dropped = f"; dropped leftover {', '.join(prepared.dropped)}" if prepared.dropped else ""
    copied = ", ".join(r.sql_name for r in prepared.copied) or "nothing"
    result.notes["build"] = f"build schemas ready in {prepared.seconds:.2f} s: copied {copied}{dropped}"


def publish_step(result: RunResult) -> None:
    """After a build made by other processes (the DAG's Cosmos tasks): publish it if none of its nodes failed
    (audit.node_results of the run), else raise BuildFailed and publish nothing."""
    counts = node_counts(result.warehouse, result.run.run_id)
    if counts.models_failed or counts.tests_failed:
        shown = counts.shown_failures()
        raise BuildFailed(f"dbt build failed on {result.warehouse.describe()} (nothing published): {shown}")
    published = publish.publish(result.warehouse)
    record_build_inputs(result.warehouse, result.run.run_id)
    freshness = dbt.check_source_freshness(result.warehouse)  # sources.json beside the published manifest
    result.notes["build"] = f"published {len(published.schemas)} schemas in {published.seconds:.2f} s; {freshness.note}"


def begin_run(warehouse: Warehouse, run_id: str, trigger: str, command: str) -> RunResult:
    """Record a run that other processes carry on (the Airflow DAG: one task per step), as `running`."""
    result = RunResult(RunRecord(trigger=trigger, command=command, target=warehouse.target, run_id=run_id), warehouse)
    with warehouse.lock(purpose=command):
        start_run(warehouse, result.run)
    run_log.note(f"{trigger} {command} {run_id} on {warehouse.describe()}")
    return result


def resume_run(warehouse: Warehouse, run_id: str) -> RunResult:
    """The run begun by `begin_run`, as recorded so far, for the next step to carry on."""
    return RunResult(fetch_run(warehouse, run_id), warehouse)


def finish_run(result: RunResult) -> None:
    """Close a run carried on by several processes (the DAG's last task) as `success`, with its node counts
    from audit.node_results. If a model or error-severity test failed, BuildFailed is raised instead and the
    run is left to the task's failure callback, which closes it as `failed` (`fail_run`) and sends its alert."""
    counts = node_counts(result.warehouse, result.run.run_id)
    result.run.counts = counts
    if counts.models_failed or counts.tests_failed:
        raise BuildFailed("dbt build failed: " + "; ".join(counts.failures[:3]))
    result.run.status = "success"
    update_run(result.warehouse, result.run, finished=True)
    run_log.note(f"run {result.run.run_id} succeeded")
    result.mart_rows = _mart_rows(result.warehouse)


def fail_run(warehouse: Warehouse, run_id: str, error: str) -> bool:
    """Mark a run `failed` with the first error that ended it, its node counts from audit.node_results.

    Returns True when this call made the run `failed` (its one transition, so its one alert), False when it
    was failed already (the first message is kept): tasks failing at the same time on Postgres each try, and
    the conditional update lets exactly one of them win. Raises LookupError when the run is not recorded.
    """
    result = resume_run(warehouse, run_id)
    if result.run.status == "failed":
        return False
    conn = warehouse.connect()
    try:
        statement = "update audit.runs set status = 'failed', error = ? where run_id = ? and status <> 'failed'"
        if warehouse.target == "spark":  # no RETURNING; one process at a time, so no other task to race
            conn.execute(statement, (error, run_id))
            won = [(run_id,)]
        else:
            won = conn.execute(f"{statement} returning run_id", (error, run_id))
    finally:
        conn.close()
    if not won:
        return False
    result.run.counts = node_counts(warehouse, run_id)
    result.run.status, result.run.error = "failed", error
    update_run(warehouse, result.run, finished=True)
    return True
