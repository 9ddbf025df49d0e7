"""What changed since the published build: which files `elt run` must reload and what dbt must rebuild.

A build is a function of its inputs: the raw tables (each one load of one file, named by the file's sha256 in
audit.loads), the dbt project's files, and the day it ran (dates after the build's day are implausible).
Every published build records them in audit.build_inputs (`record_build_inputs`). Before `elt run` loads
anything, `detect_changes` compares the files in the data folder with what raw holds, and raw with what the
published build read:

    file's sha256 != raw's load     the file is reloaded (its table only)
    raw's load != the build's       the models and tests downstream of that raw table are rebuilt
                                    (`source:raw.<table>+`)
    dbt project or day changed,     everything is rebuilt
    no build recorded, or its
    artifacts are not where this
    run publishes them
    none of these                   nothing is loaded or built: the run says so (`elt run --force` redoes it)

A build of a selection the user chose (`elt build --select ...`) records its inputs as unknown, so the next
`elt run` rebuilds everything: a partial build may leave relations built from an older load.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.audit import utc_now
from core.dbt_project import manifest_path, project_dir
from core.warehouse import Connection, Warehouse
from ingestion.contract import LOAD_ID_COLUMN, SOURCES, SOURCES_BY_NAME
from orchestration.readiness import tables_in

PROJECT_INPUT = "dbt_project"  # audit.build_inputs.input of the dbt project's digest
DAY_INPUT = "build_date"  # audit.build_inputs.input of the build's day (UTC), ISO format
# Folders of a dbt project that hold what dbt writes (artifacts, logs, installed packages), not its sources.
NOT_PROJECT = frozenset({"target", "logs", "dbt_packages", "__pycache__"})


@dataclass(frozen=True)
class Inputs:
    """The inputs of a build: source name -> sha256 (hex) of its file, the dbt project's digest, the day."""

    files: dict[str, str | None]
    project: str | None
    day: str  # YYYY-MM-DD, UTC


@dataclass(frozen=True)
class Changes:
    """What `elt run` must redo, from `detect_changes`.

    `reload`: sources whose file differs from the load raw holds (or raw holds none), in SOURCES order.
    `rebuild`: sources whose raw table differs from what the published build read (`reload` among them).
    `full_build`: why everything must be rebuilt (the project or the day changed, no build recorded), or None.
    `kept_loads`: source -> the load id raw holds, for the sources not reloaded (their file is that load's).
    `published`: the published build compared with, if one recorded its inputs.
    """

    reload: list[str]
    rebuild: list[str]
    full_build: str | None
    kept_loads: dict[str, str] = field(default_factory=dict)
    published: PublishedBuild | None = None

    @property
    def nothing(self) -> bool:
        """True when no file must be loaded and nothing rebuilt."""
        return not self.reload and not self.rebuild and self.full_build is None

    @property
    def selection(self) -> list[str] | None:
        """The dbt selection of the rebuild: None for everything, else each changed raw table's descendants
        (the reports over audit are views, current without a rebuild)."""
        if self.full_build is not None:
            return None
        return [f"source:raw.{name}+" for name in self.rebuild]

    def why(self) -> str:
        """One line for the run's summary: what is redone and why."""
        if self.nothing:
            return f"nothing changed since run {self.published.run_id} (same files, dbt project and day)"
        parts = []
        if self.reload:
            parts.append(f"changed file(s): {', '.join(SOURCES_BY_NAME[name].file for name in self.reload)}")
        stale = [name for name in self.rebuild if name not in self.reload]
        if stale:
            parts.append(f"raw loaded since the last build: {', '.join(stale)}")
        if self.full_build is not None:
            parts.append(self.full_build)
        return "; ".join(parts)


def file_digest(path: Path) -> str:
    """The sha256 (hex) of a file's bytes, as the loader records it in audit.loads.sha256."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def project_digest(folder: Path) -> str:
    """The sha256 (hex) of a dbt project: every file's path (relative, `/`-separated) and bytes, in path order,
    skipping what dbt writes (target/, logs/, dbt_packages/) and hidden files such as .user.yml."""
    digest = hashlib.sha256()
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in NOT_PROJECT and not d.startswith(".")]
        paths += [Path(root, name) for name in files if not name.startswith(".")]
    for path in sorted(paths, key=lambda p: p.relative_to(folder).as_posix()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def today() -> str:
    """The build's day, UTC, YYYY-MM-DD (the upper bound of the plausible dates)."""
    return f"{datetime.now(UTC):%Y-%m-%d}"


def file_inputs(warehouse: Warehouse, data_dir: Path) -> Inputs:
    """The inputs a run on `data_dir` would build from: each file's sha256 (None if the file is missing),
    the dbt project's digest, today. Reads every file once (about 1 GB/s)."""
    files = {s.name: file_digest(path) if (path := Path(data_dir) / s.file).is_file() else None for s in SOURCES}
    return Inputs(files, project_digest(project_dir(warehouse)), today())


def raw_loads(conn: Connection) -> dict[str, tuple[str, str | None]]:
    """Source name -> (load id, sha256 of its file) of the load each raw table holds; a table that is
    missing or empty is left out. The loader swaps in one load per table, so its first row names it.
    On Spark, where a failed statement is logged at length, missing tables are looked up first."""
    held: dict[str, tuple[str, str | None]] = {}
    present = tables_in(conn, "raw") if conn.target == "spark" else {source.name for source in SOURCES}
    for source in SOURCES:
        if source.name not in present:
            continue
        try:
            with conn.transaction():  # a missing table must not abort the next statements (Postgres)
                load_id = conn.scalar(f"select {LOAD_ID_COLUMN} from raw.{source.name} limit 1")
                sha = conn.scalar(
                    "select max(sha256) from audit.loads where load_id = ? and file = ? and status = 'loaded'",
                    (load_id, source.file),
                )
        except Exception:
            continue
        if load_id is not None:
            held[source.name] = (str(load_id), sha)
    return held


@dataclass(frozen=True)
class PublishedBuild:
    """The last build recorded in audit.build_inputs: its run, when it was recorded (UTC), its inputs
    (input -> digest; None: unknown)."""

    run_id: str
    recorded_at: datetime
    inputs: dict[str, str | None]


def published_build(conn: Connection) -> PublishedBuild | None:
    """The last build recorded in audit.build_inputs, or None when no build recorded its inputs."""
    if conn.target == "spark" and "build_inputs" not in tables_in(conn, "audit"):
        return None
    try:
        with conn.transaction():
            latest = conn.execute(
                "select run_id, recorded_at from audit.build_inputs order by recorded_at desc limit 1"
            )
    except Exception:  # a warehouse from before audit.build_inputs existed
        return None
    if not latest:
        return None
    run_id, recorded_at = latest[0]
    rows = conn.execute("select input, digest from audit.build_inputs where run_id = ?", (run_id,))
    return PublishedBuild(run_id, recorded_at, dict(rows))


def detect_changes(warehouse: Warehouse, inputs: Inputs) -> Changes:
    """Compare `inputs` (the files of this run) with what raw holds and what the published build read.

    Raises nothing for a fresh warehouse (no raw tables, no audit): everything is then reloaded and rebuilt.
    """
    conn = warehouse.connect(read_only=True)
    try:
        held = raw_loads(conn)
        published = published_build(conn)
    finally:
        conn.close()
    built = published.inputs if published else {}
    reload = [name for name, sha in inputs.files.items() if sha is None or held.get(name, ("", None))[1] != sha]
    kept = {name: held[name][0] for name in inputs.files if name not in reload}
    rebuild = [name for name in inputs.files if name in reload or built.get(name) != held[name][1]]
    full_build = None
    if not manifest_path(warehouse).is_file():
        full_build = f"no published manifest.json in {manifest_path(warehouse).parent}"
    elif published is None:
        full_build = "no build of these inputs recorded"
    elif built.get(PROJECT_INPUT) is None:
        full_build = f"run {published.run_id} built a selection of the project"
    elif built[PROJECT_INPUT] != inputs.project:
        full_build = "the dbt project changed"
    elif built.get(DAY_INPUT) != inputs.day:
        full_build = f"the last build ran on {built.get(DAY_INPUT)} (dates are checked against the build's day)"
    return Changes(reload, rebuild, full_build, kept, published)


def record_build_inputs(warehouse: Warehouse, run_id: str, complete: bool = True) -> None:
    """Record the inputs of the build `run_id` just published in audit.build_inputs: the sha256 of the file
    each raw table was loaded from, the dbt project's digest and today's date.

    complete=False (a build of a selection the user chose): the project's digest is recorded as unknown, so
    the next `elt run` rebuilds everything. Call it under the warehouse lock, after publishing.
    """
    day, project = today(), project_digest(project_dir(warehouse)) if complete else None
    conn = warehouse.connect()
    try:
        held = raw_loads(conn)
        rows: Iterable[tuple[str, str | None]] = [
            *((s.name, held.get(s.name, ("", None))[1]) for s in SOURCES),
            (PROJECT_INPUT, project),
            (DAY_INPUT, day),
        ]
        now = utc_now()
        rows = list(rows)
        with conn.transaction():  # one insert: on Spark each statement is a job that writes a file
            conn.execute("delete from audit.build_inputs where run_id = ?", (run_id,))
            conn.execute(
                "insert into audit.build_inputs (run_id, input, digest, recorded_at) values "
                + ", ".join("(?, ?, ?, ?)" for _ in rows),
                [value for name, digest in rows for value in (run_id, name, digest, now)],
            )
    finally:
        conn.close()


def written_since(path: Path, moment: datetime | None) -> bool:
    """True when `path` exists and was last written at or after `moment` (naive UTC, as audit stores it)."""
    if moment is None or not path.is_file():
        return False
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None) >= moment
