"""Spark tests: one SparkSession per test process (pytest-xdist worker), on warehouse folders of their own.

Derby, Spark's embedded catalog, lets one process open a warehouse folder at a time, so a folder used here
is never opened by a subprocess meanwhile (a subprocess test gets its own folder). Switching this process's
session to another folder costs a few seconds (core.spark.session stops the old one).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.warehouse import Warehouse
from tests.faults.conftest import _flock

ELT = Path(sys.executable).with_name("elt")
RUN_TIMEOUT = 1800  # seconds: a hung run fails the test instead of the CI's time limit

pytestmark = pytest.mark.spark


@pytest.fixture(autouse=True, scope="session")
def java_available() -> None:
    """The Spark tests need Java 17+: skipped on a developer machine without it, a failure under CI (CI=true),
    whose .ci/run installs it."""
    if shutil.which("java") is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("no `java` on PATH: the Spark tests need Java 17+ (.ci/run installs one with apt)")
        pytest.skip("no `java` on PATH: the Spark tests need Java 17+ (set CI=true to make this a failure)")


def spark_warehouse(folder: Path, **env: str) -> Warehouse:
    """The Spark warehouse in `folder` (made on first connect), with more settings from `env`."""
    return Warehouse.from_env("spark", {"ELT_SPARK_DIR": str(folder), **env})


@dataclass
class SparkRun:
    """A finished `elt run --target spark` (a subprocess, as a user runs it) and what it left."""

    env: dict[str, str]  # its settings: ELT_SPARK_DIR, ELT_DBT_TARGET_ROOT, ... (never write there)
    returncode: int
    stdout: str
    stderr: str
    reports: Path  # its report CSVs
    snapshot: dict[str, Any]  # tests.spark.snapshot.snapshot() of the warehouse after it


class SparkGolden:
    """The session sample's `elt run --target spark`, made once per test run and read by every worker.

    `shared` is a folder all workers of the run see; a file lock there makes the first worker run it and the
    others wait. The warehouse is read once, by a process of its own (tests/spark/snapshot.py): Derby lets a
    single process open it, so no test opens it and any worker can compare.
    """

    def __init__(self, sample_dir: Path, shared: Path):
        self.sample_dir = sample_dir
        self.shared = shared

    @classmethod
    def of_session(cls, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory, config: pytest.Config):
        base = tmp_path_factory.getbasetemp()
        shared = (base.parent if getattr(config, "workerinput", None) else base) / "spark-golden"
        shared.mkdir(exist_ok=True)
        return cls(sample_dir, shared)

    def run(self) -> SparkRun:
        """The good run of the sample (made on first use)."""
        env = {
            "ELT_TARGET": "spark",
            "ELT_SPARK_DIR": str(self.shared / "spark"),
            "ELT_DBT_TARGET_ROOT": str(self.shared / "target"),
            "ELT_DATA_DOCS_DIR": str(self.shared / "data_docs"),
            "ELT_LINEAGE_DIR": str(self.shared / "lineage"),
        }
        reports = self.shared / "reports"
        result, snap = self.shared / "run.json", self.shared / "run.pickle"
        with _flock(self.shared / "golden.lock"):
            if not result.is_file():
                done = subprocess.run(
                    [str(ELT), "run", "--data-dir", str(self.sample_dir), "--reports-dir", str(reports)],
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    timeout=RUN_TIMEOUT,
                )
                if done.returncode == 0:
                    read = subprocess.run(
                        [sys.executable, "-m", "tests.spark.snapshot", env["ELT_SPARK_DIR"], str(snap)],
                        cwd=Path(__file__).resolve().parents[2],
                        capture_output=True,
                        text=True,
                        timeout=RUN_TIMEOUT,
                    )
                    assert read.returncode == 0, read.stderr[-5000:]
                outcome = {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
                result.write_text(json.dumps(outcome))
        outcome = json.loads(result.read_text())
        snapshot = pickle.loads(snap.read_bytes()) if snap.is_file() else {}
        return SparkRun(env, outcome["returncode"], outcome["stdout"], outcome["stderr"], reports, snapshot)


@pytest.fixture(scope="session")
def spark_golden(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The session sample's good `elt run --target spark` (see SparkGolden)."""
    return SparkGolden.of_session(sample_dir, tmp_path_factory, request.config)


@pytest.fixture(scope="session")
def spark_run(spark_golden: SparkGolden) -> SparkRun:
    """The session sample's `elt run --target spark`: its exit code, output, report CSVs and warehouse contents."""
    return spark_golden.run()
