"""Run dbt in-process (dbtRunner) against the project in dbt_project/ with its own profiles.yml."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.data_docs import DataDocs
from ingestion.errors import WarehouseError
from ingestion.warehouse import Warehouse

PROJECT_DIR = Path(os.environ.get("ELT_DBT_PROJECT_DIR") or Path(__file__).resolve().parents[1] / "dbt_project")
# Telemetry stays off wherever dbt runs from here.
OFFLINE_ENV = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


@dataclass
class DbtOutcome:
    """Result of one dbt invocation."""

    success: bool
    command: list[str]
    target_path: Path
    exception: BaseException | None = None
    result: Any = None  # dbt's own result object (e.g. RunExecutionResult), for callers that inspect nodes


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (profiles.yml reads them), then restore the old ones."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def target_path(warehouse: Warehouse) -> Path:
    """Where this target's artifacts (manifest.json, run_results.json, docs) are written: target/<target>/.

    ELT_DBT_TARGET_ROOT moves the folder that holds the per-target folders (each parallel test worker
    has its own, so concurrent builds never read each other's run_results.json).
    """
    root = os.environ.get("ELT_DBT_TARGET_ROOT")
    return (Path(root) if root else PROJECT_DIR / "target") / warehouse.target


def data_docs(warehouse: Warehouse) -> DataDocs:
    """The Great Expectations Data Docs of the raw data contract, beside the target's dbt docs site."""
    return DataDocs.in_target(target_path(warehouse))


def run_dbt(warehouse: Warehouse, args: list[str]) -> DbtOutcome:
    """Invoke `dbt <args>` for the warehouse's target; dbt's own log goes to the terminal."""
    from dbt.cli.main import dbtRunner

    if warehouse.target == "postgres" and args[0] != "parse":  # parse needs no connection
        warehouse.ensure_postgres_database()
    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        warehouse.target,
    ]
    if args[0] != "debug":  # explicit: a DBT_TARGET_PATH left in the environment (Cosmos) cannot redirect it
        command += ["--target-path", str(target_path(warehouse))]
    try:
        with _environ({**OFFLINE_ENV, **warehouse.dbt_env()}):
            result = dbtRunner().invoke(command)
    except Exception as exc:  # dbtRunner raises only on problems outside the run itself
        raise WarehouseError(f"dbt {args[0]} could not run: {exc}") from None
    return DbtOutcome(bool(result.success), command, target_path(warehouse), result.exception, result.result)


def build(
    warehouse: Warehouse, select: list[str] | None = None, full_refresh: bool = False, quiet: bool = False
) -> DbtOutcome:
    """`dbt build` (models, tests, seeds, snapshots in DAG order) under the warehouse lock.

    quiet=True keeps dbt to its error lines (the caller prints its own summary).
    """
    args = ["build"]
    if quiet:
        args.append("--quiet")
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    with warehouse.lock(purpose="build"):
        return run_dbt(warehouse, args)


def generate_docs(warehouse: Warehouse) -> Path:
    """`dbt docs generate --static` from the last build's manifest; returns the site's index.html.

    index.html + manifest.json + catalog.json are what `dbt docs serve` and the API serve;
    static_index.html embeds both JSON files, so it opens from disk with no server and no network.
    """
    outcome = run_dbt(warehouse, ["docs", "generate", "--static", "--no-compile", "--quiet"])
    if not outcome.success:
        raise WarehouseError(f"dbt docs generate failed on {warehouse.describe()}: {outcome.exception}")
    return outcome.target_path / "index.html"


def manifest_path(warehouse: Warehouse) -> Path:
    """The target's manifest.json (the Airflow DAG renders the dbt graph from it)."""
    return target_path(warehouse) / "manifest.json"


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
