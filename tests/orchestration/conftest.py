"""Fixtures of the Airflow tests: one migrated Airflow home per test session (worker), a DAG environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import warehouse_env
from tests.orchestration.airflow_support import AIRFLOW, airflow_env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh Airflow home with its metadata database migrated (sqlite), shared by the tests here."""
    env = airflow_env(tmp_path_factory.mktemp("airflow-home"))
    migrated = subprocess.run([AIRFLOW, "db", "migrate"], env={**os.environ, **env}, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


@pytest.fixture
def dag_env(target: str, airflow_home: dict[str, str], sample_dir: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The Airflow home, a fresh warehouse of `target` and a copy of the seed-7 sample data."""
    data_dir = tmp_path / "data"
    shutil.copytree(sample_dir, data_dir)
    for env in warehouse_env(target, tmp_path):
        yield {
            **airflow_home,
            **env,
            "ELT_DATA_DIR": str(data_dir),
            "ELT_REPORTS_DIR": str(tmp_path / "reports"),
            "ELT_LOCK_TIMEOUT": "60",
        }
