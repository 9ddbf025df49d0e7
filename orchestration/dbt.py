"""Run dbt in-process (dbtRunner) against the project in dbt_project/ with its own profiles.yml.

`build` is write-audit-publish (orchestration/publish.py, docs/publishing.md): dbt builds and tests in the
build schemas (`marts__build`, ...), and only a build that passed is published. Every other dbt command
here (docs, parse, test) works on the published schemas.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.data_docs import DataDocs
from ingestion.errors import WarehouseError
from ingestion.warehouse import Warehouse
from orchestration import publish

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
    prepared: publish.Prepared | None = None  # build: what was copied into the build schemas first
    published: publish.Published | None = None  # build: set once the build was published


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


def target_path(warehouse: Warehouse) -> Path:
    """Where this target's artifacts (manifest.json, run_results.json, docs) are written: target/<target>/.

    ELT_DBT_TARGET_ROOT moves the folder that holds the per-target folders (each parallel test worker
    has its own, so concurrent builds never read each other's run_results.json).
    """
    root = os.environ.get("ELT_DBT_TARGET_ROOT")
    return (Path(root) if root else PROJECT_DIR / "target") / warehouse.target


def build_target_path(warehouse: Warehouse) -> Path:
    """Where `dbt build` writes its own artifacts: target/<target>/build/ (the last build's, passed or failed).

    A folder of its own also keeps dbt's partial-parse state per schema naming: the build parses with the
    build schemas' suffix, everything else without it, and each stays warm (one folder for both would make
    dbt parse the whole project again every time the suffix comes or goes).
    """
    return target_path(warehouse) / "build"


def data_docs(warehouse: Warehouse) -> DataDocs:
    """The Great Expectations Data Docs of the raw data contract, beside the target's dbt docs site."""
    return DataDocs.in_target(target_path(warehouse))


def run_dbt(warehouse: Warehouse, args: list[str], in_build_schemas: bool = False, manifest: Any = None) -> DbtOutcome:
    """Invoke `dbt <args>` for the warehouse's target; dbt's own log goes to the terminal.

    in_build_schemas=True: models go to the build schemas (ELT_BUILD_SCHEMA_SUFFIX set) and artifacts to
    build_target_path; otherwise the variable is unset, whatever the caller's environment holds.
    `manifest`: a Manifest dbt parsed already (`dbt parse`'s result), so this invocation does not parse again.
    """
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
    artifacts = build_target_path(warehouse) if in_build_schemas else target_path(warehouse)
    if args[0] != "debug":  # explicit: a DBT_TARGET_PATH left in the environment (Cosmos) cannot redirect it
        command += ["--target-path", str(artifacts)]
    suffix = publish.BUILD_SUFFIX if in_build_schemas else None
    try:
        with _environ({**OFFLINE_ENV, **warehouse.dbt_env(), publish.SUFFIX_ENV: suffix}):
            result = dbtRunner(manifest=manifest).invoke(command)
    except Exception as exc:  # dbtRunner raises only on problems outside the run itself
        raise WarehouseError(f"dbt {args[0]} could not run: {exc}") from None
    return DbtOutcome(bool(result.success), command, artifacts, result.exception, result.result)


def build(
    warehouse: Warehouse,
    select: list[str] | None = None,
    full_refresh: bool = False,
    quiet: bool = False,
    publish_if_passed: bool = True,
) -> DbtOutcome:
    """`dbt build` (models, tests, seeds, snapshots in DAG order) under the warehouse lock, write-audit-publish:

    dbt parses the project for the build schemas; leftover build schemas are dropped and the build schemas
    get copies of the published incremental models (with `select`: of every published relation, so the
    selection builds on a complete set); dbt builds and tests there; then, if every model and
    error-severity test passed and `publish_if_passed`, the build is published (`publish_build`).
    A failed build publishes nothing and leaves its schemas for inspection (the next build drops them);
    its artifacts are in build_target_path.

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
        parsed = run_dbt(warehouse, ["parse", "--quiet"], in_build_schemas=True)
        if not parsed.success:
            return DbtOutcome(False, parsed.command, parsed.target_path, parsed.exception)
        manifest = json.loads((parsed.target_path / "manifest.json").read_text(encoding="utf-8"))
        prepared = publish.prepare_build(warehouse, manifest, copy_incremental=not full_refresh, copy_all=bool(select))
        outcome = run_dbt(warehouse, args, in_build_schemas=True, manifest=parsed.result)
        outcome.prepared = prepared
        if outcome.success and publish_if_passed:
            publish_build(warehouse, outcome)
        return outcome


def publish_build(warehouse: Warehouse, outcome: DbtOutcome) -> DbtOutcome:
    """Publish a build that passed: the build schemas in one transaction, then its manifest.json and
    run_results.json (naming the published schemas) where the API and docs read them. Sets
    `outcome.published` and points `outcome.target_path` at the published artifacts."""
    if not outcome.success:
        raise WarehouseError("a build that failed is never published")
    expected = outcome.prepared.copied if outcome.prepared else []
    outcome.published = publish.publish(warehouse, expected=expected)
    publish.publish_artifacts(outcome.target_path, target_path(warehouse))
    outcome.target_path = target_path(warehouse)
    return outcome


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
