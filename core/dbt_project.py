"""The dbt project as the rest of the code sees it: where it is, where each target's artifacts go, and what
its manifest says (which models are the reports and the marts, and each report's key).

Adding a report is SQL + YAML: a model in dbt_project/models/reports/ whose YAML gives its key
(`config: {meta: {key: [column, ...]}}`); the export, the API and the Airflow DAG read the list from the
manifest (`reports()`), and on Postgres the key gets an index (macro `report_post_hook`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import WarehouseError
from core.settings import SHIPPED_DBT_PROJECT
from core.warehouse import Warehouse

PROJECT_DIR = SHIPPED_DBT_PROJECT  # the project shipped with the code (ELT_DBT_PROJECT_DIR may point elsewhere)
# Telemetry stays off wherever dbt runs from here.
OFFLINE_ENV = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
REPORTS_FOLDER = "reports"  # models/reports/: the report tables (schema `reports`)
MARTS_FOLDER = "marts"  # models/marts/: the facts and dimensions (schema `marts`)

Manifest = dict[str, Any]  # dbt's manifest.json, parsed


def project_dir(warehouse: Warehouse) -> Path:
    """The dbt project the warehouse's settings name (ELT_DBT_PROJECT_DIR, default the shipped one)."""
    return warehouse.settings.dbt_project_dir


def target_path(warehouse: Warehouse) -> Path:
    """Where this target's artifacts (manifest.json, run_results.json, sources.json, docs) are written:
    <target root>/<target>/.

    ELT_DBT_TARGET_ROOT moves the folder that holds the per-target folders (each parallel test worker
    has its own, so concurrent builds never read each other's run_results.json).
    """
    return warehouse.settings.target_root / warehouse.target


def build_target_path(warehouse: Warehouse) -> Path:
    """Where `dbt build` writes its own artifacts: target/<target>/build/ (the last build's, passed or failed).

    A folder of its own also keeps dbt's partial-parse state per schema naming: the build parses with the
    build schemas' suffix, everything else without it, and each stays warm (one folder for both would make
    dbt parse the whole project again every time the suffix comes or goes).
    """
    return target_path(warehouse) / "build"


def manifest_path(warehouse: Warehouse) -> Path:
    """The target's manifest.json (of the last published build or parse)."""
    return target_path(warehouse) / "manifest.json"


def read_manifest(path: Path) -> Manifest:
    """manifest.json parsed; raises WarehouseError if it is missing or unreadable (run `elt build` first)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WarehouseError(f"no dbt manifest at {path}: run `elt build` (or `dbt parse`) first") from None
    except (OSError, ValueError) as exc:
        raise WarehouseError(f"cannot read the dbt manifest {path}: {exc}") from None


def _models_in(manifest: Manifest, folder: str) -> list[dict[str, Any]]:
    """The enabled models of the root project under models/<folder>/, by name."""
    project = manifest.get("metadata", {}).get("project_name")
    found = [
        node
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
        and node.get("package_name") == project
        and len(node.get("fqn", [])) > 2
        and node["fqn"][1] == folder
    ]
    return sorted(found, key=lambda node: node["name"])


def reports(manifest: Manifest) -> dict[str, tuple[str, ...]]:
    """Report name -> its key columns (the order of its rows in CSVs and pages), for every model in
    models/reports/. The key is the model's `meta.key` in its YAML; raises WarehouseError naming a report
    that has none."""
    found: dict[str, tuple[str, ...]] = {}
    for node in _models_in(manifest, REPORTS_FOLDER):
        key = (node.get("config", {}).get("meta") or node.get("meta") or {}).get("key")
        if not key:
            raise WarehouseError(f"report {node['name']} has no key: give it `config: {{meta: {{key: [...]}}}}`")
        found[node["name"]] = tuple([key] if isinstance(key, str) else key)
    return found


def marts(manifest: Manifest) -> tuple[str, ...]:
    """The names of the models in models/marts/ (facts, dimensions, features, rejected records)."""
    return tuple(node["name"] for node in _models_in(manifest, MARTS_FOLDER))


def report_query(name: str, key: tuple[str, ...]) -> str:
    """`select * from reports.<name> order by <key>` (name and key from the manifest, never client text)."""
    return f"select * from reports.{name} order by {', '.join(key)}"
