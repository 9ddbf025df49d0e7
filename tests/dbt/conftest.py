"""Fixtures for the dbt tests: warehouses loaded from a data folder and built with `dbt build`.

Building is the slow part (tens of seconds per target on a busy machine), so a test of the session's
generated sample gets a copy of the session's one good `elt run` of it (`golden`, shared by the workers):
`sample_warehouse` for the tests that only read it, `golden_warehouse` for a private copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.warehouse import Warehouse
from orchestration.dbt import DbtOutcome, build
from tests.conftest import PerTarget, warehouse_env
from tests.faults.conftest import GoldenWarehouses, golden  # noqa: F401 - fixture: the session's good `elt run`

TARGETS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def rows(warehouse: Warehouse, statement: str) -> list[dict[str, Any]]:
    """The rows of one statement as dicts (column name -> value)."""
    conn = warehouse.connect(read_only=True)
    try:
        names, found = conn.fetch(statement)
        return [dict(zip(names, row, strict=True)) for row in found]
    finally:
        conn.close()


def failed_nodes(outcome: DbtOutcome) -> list[str]:
    """`unique_id: message` of every dbt node that did not succeed (for assertion messages)."""
    results = getattr(outcome.result, "results", None) or []
    return [
        f"{r.node.unique_id}: {r.message}" for r in results if str(r.status) not in {"success", "pass", "warn"}
    ] or [str(outcome.exception)]


def build_ok(warehouse: Warehouse, full_refresh: bool = False) -> DbtOutcome:
    """`dbt build` that must succeed: every model builds and every test passes."""
    outcome = build(warehouse, full_refresh=full_refresh)
    assert outcome.success, failed_nodes(outcome)
    return outcome


def elt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the `elt` command line in a subprocess, as a user would; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", "elt.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"elt {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr}"
    return done


def loaded_and_built(target: str, data_dir: Path, workdir: Path) -> Iterator[Warehouse]:
    """A fresh warehouse of `target` after `elt load` + `elt build` of data_dir (dropped afterwards on Postgres)."""
    for env in warehouse_env(target, workdir):
        elt("load", "--data-dir", str(data_dir), env=env)
        elt("build", env=env)
        yield Warehouse.from_env(environ=env)


@pytest.fixture(scope="session")
def target_available(postgres_available: bool):
    """Skips (locally) a Postgres test when no server answers; under CI the session already failed."""

    def check(target: str) -> None:
        if target == "postgres" and not postgres_available:
            pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")

    return check


def golden_warehouse(golden: GoldenWarehouses, target: str, workdir: Path) -> Iterator[Warehouse]:  # noqa: F811
    """A private copy on `target` of the session's good `elt run` of the sample (dropped afterwards on Postgres).

    Its tables are those `elt load` + `elt build` of the sample would give; its dbt artifacts are the worker's
    (ELT_DBT_TARGET_ROOT), so read the manifest through `ensure_manifest`."""
    for copy in golden.clone(target, workdir):
        yield copy.warehouse


@pytest.fixture(scope="session")
def built_samples(
    golden: GoldenWarehouses,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PerTarget[Warehouse]]:
    """Factory of warehouses holding the generated sample: a copy of the golden build, once per target per
    session (worker)."""
    workdir = tmp_path_factory.mktemp("built-samples")
    with PerTarget(lambda target: golden_warehouse(golden, target, workdir / target)) as samples:
        yield samples


@pytest.fixture(params=TARGETS)
def sample_warehouse(
    request: pytest.FixtureRequest, built_samples: PerTarget[Warehouse], target_available
) -> Warehouse:
    """The generated sample (seed 7, scale 1) loaded and built on each target; read-only for tests."""
    target_available(request.param)
    return built_samples.get(request.param)


def copy_sample(sample_dir: Path, destination: Path) -> Path:
    """A private copy of the sample folder that a test may edit."""
    shutil.copytree(sample_dir, destination)
    return destination
