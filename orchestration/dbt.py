"""Run dbt in-process (dbtRunner) against the dbt project of the settings (ELT_DBT_PROJECT_DIR, default
dbt_project/) with its own profiles.yml.

`build` is write-audit-publish (orchestration/publish.py, docs/publishing.md): dbt builds and tests in the
build schemas (`marts__build`, ...), and only a build that passed is published; then `dbt source freshness`
checks the raw tables and its sources.json joins the published artifacts. Every other dbt command here
(parse, docs generate, source freshness) works on the published schemas.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.dbt_project import OFFLINE_ENV, build_target_path, manifest_path, project_dir, target_path
from core.errors import WarehouseError, one_line
from core.warehouse import Warehouse
from orchestration import publish, run_log

FRESHNESS_FOLDER = "freshness"  # <target folder>/freshness/: where `dbt source freshness` writes its artifacts
SOURCES_JSON = "sources.json"  # dbt's freshness artifact, published beside manifest.json
PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's partial-parse state, in its --target-path

# Watches dbt invocations: called with the dbt arguments (`["build", "--quiet", ...]`), it returns a context
# manager entered before dbtRunner starts and left when it returns, which gives the callback that gets each
# of that invocation's events (dbt's EventMsg), or None for none (orchestration/progress.py shows progress so).
DbtWatcher = Callable[[list[str]], contextlib.AbstractContextManager[Callable[[Any], None] | None]]
_watchers: ContextVar[tuple[DbtWatcher, ...]] = ContextVar("elt_dbt_watchers", default=())


@dataclass
class DbtOutcome:
    """Result of one dbt invocation."""

    success: bool
    command: list[str]
    target_path: Path
    exception: BaseException | None = None
    result: Any = None  # dbt's own result object (e.g. RunExecutionResult), for callers that inspect nodes
    prepared: publish.Prepared | None = None  # build: what was copied into the build schemas first
    published: publish.Published | None = None  # build: set once the build was published
    manifest: Any = None  # build: the Manifest dbt parsed for it (reused by the freshness check)
    freshness: FreshnessCheck | None = None  # build: the source freshness check after publishing


@dataclass(frozen=True)
class FreshnessCheck:
    """What `dbt source freshness` found after a build: dbt's status per checked source, or why it did not run."""

    statuses: dict[str, str]  # source unique_id -> pass | warn | error | runtime error
    sources_json: Path | None  # the published sources.json; None when dbt could not run
    problem: str | None = None  # why dbt could not run (a warning was printed)

    @property
    def note(self) -> str:
        """`source freshness: 5 pass` / `source freshness: 4 pass, 1 error` / `source freshness not checked: ...`."""
        if self.problem is not None:
            return f"source freshness not checked: {self.problem}"
        tally: dict[str, int] = {}
        for status in self.statuses.values():
            tally[status] = tally.get(status, 0) + 1
        return "source freshness: " + (", ".join(f"{n} {status}" for status, n in sorted(tally.items())) or "none")


@contextlib.contextmanager
def _environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set (None: unset) environment variables for the block (profiles.yml reads them), then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def watching(watcher: DbtWatcher) -> Iterator[None]:
    """Every dbt invocation `run_dbt` makes in the block (this thread's context) is watched by `watcher`
    (see DbtWatcher), besides the run's log."""
    token = _watchers.set((*_watchers.get(), watcher))
    try:
        yield
    finally:
        _watchers.reset(token)


def run_dbt(
    warehouse: Warehouse,
    args: list[str],
    in_build_schemas: bool = False,
    manifest: Any = None,
    artifacts_path: Path | None = None,
) -> DbtOutcome:
    """Invoke `dbt <args>` for the warehouse's target; dbt's own log goes to the terminal, and its lines to
    the current run's log (orchestration/run_log.py) when there is one.

    in_build_schemas=True: models go to the build schemas (ELT_BUILD_SCHEMA_SUFFIX set) and artifacts to
    build_target_path; otherwise the variable is unset, whatever the caller's environment holds.
    `manifest`: a Manifest dbt parsed already (`dbt parse`'s result), so this invocation does not parse again.
    `artifacts_path`: where dbt writes its artifacts instead (its --target-path).
    Raises WarehouseError when dbtRunner itself raises (dbt could not run at all). The watchers of
    `watching` see the invocation (a progress display on a terminal).
    """
    from dbt.cli.main import dbtRunner

    if warehouse.target == "postgres" and args[0] != "parse":  # parse needs no connection
        warehouse.ensure_postgres_database()
    artifacts = artifacts_path or (build_target_path(warehouse) if in_build_schemas else target_path(warehouse))
    command = _command(warehouse, args, artifacts)
    try:
        with _environ(_dbt_environ(warehouse, in_build_schemas)), _watched(args) as watched:
            result = dbtRunner(manifest=manifest, callbacks=[*run_log.dbt_callbacks(), *watched]).invoke(command)
    except Exception as exc:  # dbtRunner raises only on problems outside the run itself
        raise WarehouseError(f"dbt {args[0]} could not run: {exc}") from None
    finally:
        if warehouse.target == "spark":  # dbt ran in this process's Spark session, which outlives it
            from core import spark

            spark.drop_temporary_views()
    return DbtOutcome(bool(result.success), command, artifacts, result.exception, result.result)


def _command(warehouse: Warehouse, args: list[str], artifacts: Path) -> list[str]:
    """`<args>` with the project, its profiles.yml, the warehouse's target and dbt's --target-path `artifacts`."""
    project = str(project_dir(warehouse))
    command = [*args, "--project-dir", project, "--profiles-dir", project, "--target", warehouse.target]
    if args[0] != "debug":  # explicit: a DBT_TARGET_PATH left in the environment (Cosmos) cannot redirect it
        command += ["--target-path", str(artifacts)]
    return command


def _dbt_environ(warehouse: Warehouse, in_build_schemas: bool) -> dict[str, str | None]:
    """The environment variables a dbt invocation sets (None: unset): offline, the warehouse's connection (read
    by profiles.yml) and the build schemas' suffix for the build."""
    suffix = publish.BUILD_SUFFIX if in_build_schemas else None
    return {**OFFLINE_ENV, **warehouse.dbt_env(), publish.SUFFIX_ENV: suffix}


class ParseAhead:
    """`dbt parse` for the next build, in a process of its own, while this one does the work before the build
    (`elt run`: the load and its data contract, which need no dbt).

    dbt keeps what it parsed in partial_parse.msgpack; `build` adopts that file (`adopt`, under the warehouse
    lock) before its own parse, which then reads the project's files again but parses none of them unless
    they changed since. It helps when the build folder has no partial-parse state yet (the first build of a
    target folder): on a cold DuckDB scale-1 run the build step went from 30.4 s to 24.3 s
    (bench/optimisations.md, 9); `start` starts none otherwise. dbt checks the adopted state as its own
    (versions, profile, variables, file hashes) and parses in full if it does not match, so a parse ahead
    that is stale or failed never changes what is built, only how long the parse takes.
    The process writes its artifacts into a temporary folder of its own (its log lines, like every dbt
    invocation's, go to dbt's log file); `close` stops it and removes the folder. A folder left by a process
    that was killed is removed by the next `start`.
    """

    PREFIX = "elt-parse-ahead-"  # <temporary folder>/elt-parse-ahead-<pid of elt>-<random>

    def __init__(self, warehouse: Warehouse) -> None:
        """Start the parse now. Raises OSError if the folder or the process cannot be made (`start` does not)."""
        self.folder = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-"))
        # As `_environ` sets them for an in-process invocation: None unsets.
        environ = {k: v for k, v in {**os.environ, **_dbt_environ(warehouse, True)}.items() if v is not None}
        command = _command(warehouse, ["parse", "--quiet"], self.folder)
        try:  # -P: no folder of the caller's (its cwd) on the child's sys.path, as for the `dbt` script
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-c", "from dbt.cli.main import cli; cli()", *command],
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.timeout = warehouse.settings.lock_timeout

    @classmethod
    def start(cls, warehouse: Warehouse) -> ParseAhead | None:
        """A parse ahead for the next build of `warehouse`, or None when it would not help or is off: the build
        folder has partial-parse state already, ELT_PARSE_AHEAD is false, or the process could not start (a
        note in the run's log; the build then parses as usual)."""
        if not warehouse.settings.parse_ahead or (build_target_path(warehouse) / PARTIAL_PARSE_FILE).is_file():
            return None
        cls._remove_orphans()
        try:
            return cls(warehouse)
        except OSError as exc:
            run_log.note(f"dbt parse ahead not started: {one_line(str(exc))}", level="warn")
            return None

    @classmethod
    def _remove_orphans(cls) -> None:
        """Remove the folders of parses ahead whose `elt` process no longer exists (killed before `close`)."""
        for folder in Path(tempfile.gettempdir()).glob(f"{cls.PREFIX}*-*"):
            pid = folder.name.removeprefix(cls.PREFIX).split("-", 1)[0]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(folder, ignore_errors=True)
            except OSError:  # it exists (another user's process): leave its folder
                continue

    def adopt(self, warehouse: Warehouse) -> bool:
        """Wait for the parse (at most ELT_LOCK_TIMEOUT seconds, then it is stopped), then put its partial-parse
        state where the build's parse reads it (call under the warehouse lock). Returns whether it did: False
        if the parse failed or took too long (the build's own parse then parses in full, or reports why it
        cannot); the run's log says which. Closes the parse ahead either way."""
        try:
            try:
                code = self.process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                run_log.note(f"dbt parse ahead still running after {self.timeout:g} s: stopped, not used", "warn")
                return False
            if code != 0 or not (self.folder / PARTIAL_PARSE_FILE).is_file():
                run_log.note(f"dbt parse ahead failed (exit {code}): the build parses the project itself", "warn")
                return False
            destination = build_target_path(warehouse)
            destination.mkdir(parents=True, exist_ok=True)
            staged = destination / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
            shutil.copyfile(self.folder / PARTIAL_PARSE_FILE, staged)
            os.replace(staged, destination / PARTIAL_PARSE_FILE)
            run_log.note("dbt parse ahead used: the build adopted its partial-parse state")
            return True
        finally:
            self.close()

    def close(self) -> None:
        """Stop the parse if it still runs and remove its folder. Idempotent."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def _watched(args: list[str]) -> Iterator[list[Callable[[Any], None]]]:
    """The current watchers entered for the invocation of `dbt <args>`; yields the callbacks they gave."""
    with contextlib.ExitStack() as stack:
        given = [stack.enter_context(watcher(args)) for watcher in _watchers.get()]
        yield [callback for callback in given if callback is not None]


def build(
    warehouse: Warehouse,
    select: list[str] | None = None,
    full_refresh: bool = False,
    quiet: bool = False,
    publish_if_passed: bool = True,
    ahead: ParseAhead | None = None,
) -> DbtOutcome:
    """`dbt build` (models, tests, seeds, snapshots in DAG order) under the warehouse lock, write-audit-publish:

    dbt parses the project for the build schemas; leftover build schemas are dropped and the build schemas
    get copies of the published incremental models (with `select`: of every published relation, so the
    selection builds on a complete set); dbt builds and tests there; then, if every model and
    error-severity test passed and `publish_if_passed`, the build is published (`publish_build`).
    A failed build publishes nothing and leaves its schemas for inspection (the next build drops them);
    its artifacts are in build_target_path.

    quiet=True keeps dbt to its error lines (the caller prints its own summary).
    `ahead`: a parse of this build started earlier (ParseAhead), adopted before dbt parses.
    """
    args = ["build"]
    if quiet:
        args.append("--quiet")
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    with warehouse.lock(purpose="build"):
        if ahead is not None:
            ahead.adopt(warehouse)
        parsed = run_dbt(warehouse, ["parse", "--quiet"], in_build_schemas=True)
        if not parsed.success:
            return DbtOutcome(False, parsed.command, parsed.target_path, parsed.exception)
        manifest = json.loads((parsed.target_path / "manifest.json").read_text(encoding="utf-8"))
        prepared = publish.prepare_build(warehouse, manifest, copy_incremental=not full_refresh, copy_all=bool(select))
        outcome = run_dbt(warehouse, args, in_build_schemas=True, manifest=parsed.result)
        outcome.prepared = prepared
        outcome.manifest = parsed.result
        if outcome.success and publish_if_passed:
            publish_build(warehouse, outcome)
        return outcome


def publish_build(warehouse: Warehouse, outcome: DbtOutcome) -> DbtOutcome:
    """Publish a build that passed: the build schemas in one transaction, then its manifest.json and
    run_results.json (naming the published schemas) where the API and docs read them; then check the
    sources' freshness (`check_source_freshness`: never fails the build). Sets `outcome.published` and
    `outcome.freshness`, and points `outcome.target_path` at the published artifacts."""
    if not outcome.success:
        raise WarehouseError("a build that failed is never published")
    expected = outcome.prepared.copied if outcome.prepared else []
    outcome.published = publish.publish(warehouse, expected=expected)
    publish.publish_artifacts(outcome.target_path, target_path(warehouse))
    outcome.target_path = target_path(warehouse)
    outcome.freshness = check_source_freshness(warehouse, manifest=outcome.manifest)
    return outcome


def check_source_freshness(warehouse: Warehouse, manifest: Any = None) -> FreshnessCheck:
    """`dbt source freshness --quiet` (one dbt invocation) on the raw tables, its sources.json then moved
    beside the published manifest.json (target_path), where the API reads it.

    dbt writes into <target folder>/freshness/ (its own manifest.json there never replaces the published
    one), under the warehouse lock (already held in a build: the lock is re-entrant). A source past its
    `error_after` is information, not a failure: its status is `error` in sources.json and here. If dbt
    cannot run at all (or writes no sources.json), one `warning:` line goes to stderr, the last published
    sources.json stays, and `problem` says why; nothing is raised for that.
    `manifest`: the Manifest dbt parsed for the build (its sources are the published ones: the raw schema
    never takes the build suffix), so dbt does not parse again; without it dbt parses (partial parse, warm).
    """
    folder = target_path(warehouse) / FRESHNESS_FOLDER
    written = folder / SOURCES_JSON
    try:
        with warehouse.lock(purpose="freshness"):  # dbt opens a DuckDB file read-write; re-entrant in a build
            written.unlink(missing_ok=True)  # a sources.json left by an earlier check must not pass for this one
            outcome = run_dbt(warehouse, ["source", "freshness", "--quiet"], manifest=manifest, artifacts_path=folder)
        if not written.is_file():
            raise WarehouseError(f"dbt wrote no {SOURCES_JSON} ({outcome.exception or 'no error given'})")
        _add_runtime_errors(written, outcome.result)
        results = json.loads(written.read_text(encoding="utf-8")).get("results", [])
        published = target_path(warehouse) / SOURCES_JSON
        os.replace(written, published)
    except (WarehouseError, OSError, ValueError) as exc:
        problem = one_line(str(exc)) or type(exc).__name__
        print(f"warning: dbt source freshness did not run on {warehouse.describe()}: {problem}", file=sys.stderr)
        return FreshnessCheck({}, None, problem)
    return FreshnessCheck({r["unique_id"]: str(r["status"]) for r in results}, published)


def generate_docs(warehouse: Warehouse) -> Path:
    """`dbt docs generate --static` from the last build's manifest; returns the site's index.html.

    index.html + manifest.json + catalog.json are what `dbt docs serve` and the API serve;
    static_index.html embeds both JSON files, so it opens from disk with no server and no network.
    """
    outcome = run_dbt(warehouse, ["docs", "generate", "--static", "--no-compile", "--quiet"])
    if not outcome.success:
        raise WarehouseError(f"dbt docs generate failed on {warehouse.describe()}: {outcome.exception}")
    return outcome.target_path / "index.html"


def ensure_manifest(warehouse: Warehouse) -> Path:
    """The target's manifest.json, written by `dbt parse` first if no build or parse has written one yet.

    `dbt parse` needs no warehouse connection, so the DAG can be rendered before the first build.
    """
    path = manifest_path(warehouse)
    if not path.is_file():
        outcome = run_dbt(warehouse, ["parse", "--quiet"])
        if not outcome.success or not path.is_file():
            raise WarehouseError(f"dbt parse failed for {warehouse.describe()}: {outcome.exception}")
    return path


def _add_runtime_errors(sources_json: Path, result: Any) -> None:
    """Rewrite sources.json with every source dbt checked, when some check failed with a runtime error.

    dbt 1.11 leaves a source whose check raised (a missing or empty raw table, a lost connection) out of
    sources.json, although its schema has an entry for it (`{unique_id, error, status: "runtime error"}`):
    dbt's own writer is called again here with all of the results, so the API can tell a failed check from
    none. A file with no runtime error is left exactly as dbt wrote it.
    """
    from dbt.artifacts.schemas.freshness import FreshnessExecutionResultArtifact, process_freshness_result

    results = list(getattr(result, "results", None) or [])
    if not any(str(r.status) == "runtime error" for r in results):
        return
    FreshnessExecutionResultArtifact(
        metadata=result.metadata,
        results=[process_freshness_result(r) for r in results],
        elapsed_time=result.elapsed_time,
    ).write(str(sources_json))
