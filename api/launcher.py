"""`POST /runs`: a build started in the background, one at a time.

The build runs as its own process (`elt build --run-id ... --trigger api`): it takes the warehouse lock
like any other run, records itself in audit.runs under the id the API answered with, and outlives an
API restart. Until its row appears (it may wait for the lock), the API reports what it knows itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from api.config import ApiConfig
from api.db import WarehouseReader
from api.queries.runs import run_status
from core.audit import new_id, utc_now
from core.errors import EltError, WarehouseError


class RunInProgress(EltError):
    """A build is already running (answered with 409)."""


@dataclass
class LaunchedRun:
    """A build this API process started."""

    run_id: str
    command: list[str]
    process: subprocess.Popen
    log_path: Path
    started_at: datetime = field(default_factory=utc_now)

    @property
    def running(self) -> bool:
        """True until the build process has exited."""
        return self.process.poll() is None

    @property
    def status(self) -> str:
        """running, success or failed, as far as the process tells."""
        code = self.process.poll()
        return "running" if code is None else ("success" if code == 0 else "failed")

    def error(self) -> str | None:
        """The build's last `error:` line, if it failed."""
        if self.status != "failed":
            return None
        lines = (
            self.log_path.read_text(encoding="utf-8", errors="replace").splitlines() if self.log_path.exists() else []
        )
        errors = [line for line in lines if line.startswith("error:")]
        return (errors or lines or [f"elt build exited {self.process.returncode}"])[-1]


class RunLauncher:
    """Starts builds and keeps track of the ones this process started."""

    def __init__(self, settings: ApiConfig, reader: WarehouseReader):
        self.settings = settings
        self.reader = reader
        self._lock = threading.Lock()
        self._runs: dict[str, LaunchedRun] = {}
        self._logs = Path(tempfile.mkdtemp(prefix="elt-api-runs-"))

    def start(self, select: list[str] | None, full_refresh: bool) -> LaunchedRun:
        """Start `elt build` in the background; RunInProgress while this API's or anyone's build runs."""
        with self._lock:
            current = next((run for run in self._runs.values() if run.running), None)
            if current is not None and self._outcome_recorded(current.run_id):
                current.process.wait(timeout=30)  # it exits moments after its row shows the outcome
            elif current is not None:
                raise RunInProgress(f"run {current.run_id} is still running")
            if self.settings.warehouse.writer_active():
                raise RunInProgress(f"another load or build is running on {self.settings.warehouse.describe()}")
            run_id = new_id()
            command = [sys.executable, "-m", "elt", "build", "--run-id", run_id, "--trigger", "api"]
            if select:
                command += ["--select", *select]
            if full_refresh:
                command.append("--full-refresh")
            env = {
                **os.environ,
                **self.settings.warehouse.dbt_env(),
                "ELT_DBT_TARGET_ROOT": str(self.settings.dbt_target_path.parent),
            }
            log_path = self._logs / f"{run_id}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C on the server does not kill a build half-way
                )
            run = LaunchedRun(run_id, command, process, log_path)
            self._runs[run_id] = run
            return run

    def _outcome_recorded(self, run_id: str) -> bool:
        """True once audit.runs shows the run's outcome (a DuckDB file still being written counts as not yet)."""
        try:
            with self.reader.connection() as conn:
                status = run_status(conn, run_id)
        except WarehouseError:
            return False
        return status in ("success", "failed")

    def get(self, run_id: str) -> LaunchedRun | None:
        """A build this process started, or None."""
        with self._lock:
            return self._runs.get(run_id)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the builds this process started (at shutdown, and for tests)."""
        for run in list(self._runs.values()):
            run.process.wait(timeout)
