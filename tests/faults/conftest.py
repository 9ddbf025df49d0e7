"""Fixtures of the fault tests: warehouses that already hold a good build, `elt` in watched subprocesses.

Most fault tests need a warehouse that already holds one good `elt run` of the session sample (seed 7,
scale 1), so that they can check nothing of it is lost. Building one takes a whole `elt run`, so it is
built once per target for the test run (`GoldenWarehouses`, shared by the pytest-xdist workers through a
folder and a file lock) and each test gets its own copy: the DuckDB file copied, the Postgres database
created from it as a template. A test may then break its copy as it likes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.warehouse import Warehouse
from tests.conftest import _admin_connect, _drop_database, copy_database
from tests.dbt.figures import warehouse_figures

ELT = [sys.executable, "-m", "elt.cli"]
RUN_TIMEOUT = 900  # seconds; a run takes 15-60 s here, so this only stops a hung test


def run_elt(*args: str, env: dict[str, str], timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    """`elt <args>` in a subprocess, as a user would run it, whatever its exit code."""
    return subprocess.run([*ELT, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)


def assert_ok(done: subprocess.CompletedProcess) -> None:
    """The process exited 0 (else: its output, for the failure message)."""
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def error_line(done: subprocess.CompletedProcess) -> str:
    """The last line on stderr, after checking no traceback was printed anywhere."""
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-5000:]
    lines = done.stderr.splitlines()
    assert lines, f"nothing on stderr; stdout:\n{done.stdout[-3000:]}"
    return lines[-1]


class Watched:
    """An `elt` process started in the background whose output lines are collected as they come
    (unbuffered), so a test can act at a given moment of the run: kill it, restart the server, ..."""

    def __init__(self, args: list[str], env: dict[str, str], **popen: Any):
        self.proc = subprocess.Popen(
            [*ELT, *args],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **popen,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 300) -> None:
        """Wait until `condition()` holds; fail if the process ends first or it takes over `timeout` s."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                self.finish()
                pytest.fail(f"elt exited {self.proc.returncode} before {what}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no {what} within {timeout} s:\n{self.output()}")
            time.sleep(0.05)

    def printed(self, text: str, stream: str = "stdout") -> bool:
        """True once a line containing `text` was printed on `stream`."""
        return any(text in line for line in list(getattr(self, stream)))

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the process."""
        self.proc.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
        """Wait for the process to end; its exit code and all its output."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=30)
        return subprocess.CompletedProcess(
            self.proc.args, self.proc.returncode, "".join(self.stdout), "".join(self.stderr)
        )

    def output(self) -> str:
        """The output so far (the end of it), for failure messages."""
        return "".join(self.stdout)[-3000:] + "\n" + "".join(self.stderr)[-3000:]


def figures(warehouse: Warehouse) -> dict:
    """The marts' figures in the shape of expected.json (read-only connection, closed after)."""
    conn = warehouse.connect(read_only=True)
    try:
        return warehouse_figures(conn)
    finally:
        conn.close()


def without_load_ids(snapshot: dict[str, tuple]) -> dict[str, tuple]:
    """A `raw_snapshot` with the load ids left out: the rows and their content only."""
    return {table: value if table == "__tables__" else (value[0], value[3]) for table, value in snapshot.items()}


@dataclass
class Built:
    """A warehouse of one target holding a copy of the good build: its environment and `Warehouse`."""

    env: dict[str, str]
    warehouse: Warehouse
    golden_run_id: str
    golden_load_id: str


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class GoldenWarehouses:
    """One good `elt run` of the sample per target, built on first use and copied for each test.

    `shared` is a folder all workers of the test run see; a file lock per target there makes the first
    worker build and the others wait and copy. The Postgres original is a database of its own, dropped
    at the end of each worker's session (a worker that still needs it afterwards builds it again).
    """

    def __init__(self, sample_dir: Path, shared: Path, run_uid: str):
        self.sample_dir = sample_dir
        self.shared = shared
        self.database = f"elt_faults_golden_{run_uid}"
        self.used: set[str] = set()

    @classmethod
    def of_session(
        cls, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory, config: pytest.Config
    ) -> GoldenWarehouses:
        """The good builds of this test run, as this process sees them (the `golden` fixture's): the workers
        of one pytest-xdist run share a folder beside their basetemps. Every instance of one test run names
        the same Postgres original (modules that import the `golden` fixture each get an instance)."""
        workerinput = getattr(config, "workerinput", None)
        base = tmp_path_factory.getbasetemp()
        if workerinput:  # every worker's basetemp is a folder of the same parent
            shared, run_uid = base.parent / "faults-golden", str(workerinput["testrunuid"])[:12]
        else:  # one process: its basetemp is this run's own
            shared = base / "faults-golden"
            run_uid = hashlib.sha256(str(shared).encode()).hexdigest()[:12]
        shared.mkdir(exist_ok=True)
        return cls(sample_dir, shared, run_uid)

    def _ready(self, target: str) -> Path:
        return self.shared / f"golden-{target}.ready"

    def _env(self, target: str) -> dict[str, str]:
        env = {
            "ELT_TARGET": target,
            "ELT_DUCKDB_PATH": str(self.shared / "golden-duckdb" / "warehouse.duckdb"),
            "ELT_DBT_TARGET_ROOT": str(self.shared / "golden-artifacts"),  # its published dbt artifacts
            "ELT_DATA_DOCS_DIR": str(self.shared / "golden-data-docs"),  # its Data Docs
            "ELT_LINEAGE_DIR": str(self.shared / "golden-lineage"),  # its OpenLineage events
        }
        return {**env, "PGDATABASE": self.database} if target == "postgres" else env

    def _build(self, target: str) -> None:
        env = self._env(target)
        if target == "postgres":
            _drop_database(self.database)
            conn = _admin_connect()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'create database "{self.database}"')
            conn.close()
        else:
            shutil.rmtree(self.shared / "golden-duckdb", ignore_errors=True)
        for outputs in ("ELT_DBT_TARGET_ROOT", "ELT_DATA_DOCS_DIR", "ELT_LINEAGE_DIR"):
            shutil.rmtree(Path(env[outputs]) / target, ignore_errors=True)
        reports = self.shared / f"golden-{target}-reports"
        done = run_elt("run", "--data-dir", str(self.sample_dir), "--reports-dir", str(reports), env=env)
        assert_ok(done)
        warehouse = Warehouse.from_env(environ={**os.environ, **env})
        conn = warehouse.connect(read_only=True)
        try:
            run_id, load_id = conn.execute("select run_id, load_id from audit.runs where status = 'success'")[0]
        finally:
            conn.close()
        # The sample's folder is the building worker's (each worker generates its own copy of the sample).
        self._ready(target).write_text(f"{run_id} {load_id}\n{self.sample_dir}\n")

    def original(self, target: str) -> dict[str, str]:
        """The environment of the good build itself (where its warehouse, artifacts, Data Docs and OpenLineage
        events are): what a clone's copies were copied from. Never write there."""
        return self._env(target)

    def original_sample_dir(self, target: str) -> Path:
        """The folder of the sample the good build of `target` loaded (the building worker's copy of the
        session sample), from the note it left beside it (after a `clone`, so that it exists)."""
        return Path(self._ready(target).read_text().splitlines()[1])

    def clone(
        self, target: str, workdir: Path, artifacts: bool = False, data_docs: bool = False, lineage: bool = False
    ) -> Iterator[Built]:
        """A fresh warehouse of `target` holding a copy of the good build (dropped afterwards on Postgres).

        artifacts=True: its published dbt artifacts (manifest.json, docs) are copied too, into
        `workdir/target/<target>` (ELT_DBT_TARGET_ROOT of the clone's env), as a user's warehouse has them.
        data_docs=True: its Data Docs (the site, GX's results, index.json), into `workdir/data_docs/<target>`
        (ELT_DATA_DOCS_DIR). lineage=True: its OpenLineage events, into `workdir/lineage/<target>`
        (ELT_LINEAGE_DIR). The copies are as the good build wrote them: paths in them name its folders.
        """
        self.used.add(target)
        workdir.mkdir(parents=True, exist_ok=True)
        env = {"ELT_TARGET": target, "ELT_DUCKDB_PATH": str(workdir / "warehouse.duckdb")}
        copies = {
            "ELT_DBT_TARGET_ROOT": ("target", artifacts),
            "ELT_DATA_DOCS_DIR": ("data_docs", data_docs),
            "ELT_LINEAGE_DIR": ("lineage", lineage),
        }
        with _flock(self.shared / f"golden-{target}.lock"):
            if not self._ready(target).is_file():
                self._build(target)
            run_id, load_id = self._ready(target).read_text().splitlines()[0].split()
            for variable, (folder, wanted) in copies.items():
                if wanted:
                    env[variable] = str(workdir / folder)
                    shutil.copytree(Path(self._env(target)[variable]) / target, workdir / folder / target)
            if target == "duckdb":
                shutil.copyfile(self._env(target)["ELT_DUCKDB_PATH"], env["ELT_DUCKDB_PATH"])
            else:
                env["PGDATABASE"] = f"elt_faults_{os.getpid()}_{secrets.token_hex(4)}"
                copy_database(self.database, env["PGDATABASE"])
        try:
            yield Built(env, Warehouse.from_env(environ={**os.environ, **env}), run_id, load_id)
        finally:
            if target == "postgres":
                _drop_database(env["PGDATABASE"])

    def release(self) -> None:
        """Drop the Postgres original if this worker used it (the DuckDB file goes with the temp folder)."""
        if "postgres" not in self.used:
            return
        with _flock(self.shared / "golden-postgres.lock"):
            self._ready("postgres").unlink(missing_ok=True)
            _drop_database(self.database)


@pytest.fixture(scope="session")
def golden(
    sample_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[GoldenWarehouses]:
    """The good builds of the session sample, one per target, shared by the workers of this test run."""
    goldens = GoldenWarehouses.of_session(sample_dir, tmp_path_factory, request.config)
    yield goldens
    goldens.release()


@pytest.fixture
def built(target: str, golden: GoldenWarehouses, tmp_path: Path) -> Iterator[Built]:
    """A private copy, on each target, of a warehouse holding one good `elt run` of the session sample."""
    yield from golden.clone(target, tmp_path / "warehouse")
