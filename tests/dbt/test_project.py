"""The dbt project skeleton: profiles for both targets, exact schema names, sources on raw."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from core.dbt_project import PROJECT_DIR, target_path
from core.warehouse import Warehouse
from ingestion.contract import SOURCES
from ingestion.loader import load
from orchestration.dbt import run_dbt


def test_dbt_debug_connects_with_the_projects_own_profile(warehouse: Warehouse) -> None:
    outcome = run_dbt(warehouse, ["debug"])
    assert outcome.success, outcome.exception


def test_dbt_parse_writes_a_manifest_per_target_with_the_raw_sources(warehouse: Warehouse) -> None:
    outcome = run_dbt(warehouse, ["parse"])
    assert outcome.success, outcome.exception
    manifest = json.loads((target_path(warehouse) / "manifest.json").read_text())
    sources = {node["name"]: node for node in manifest["sources"].values() if node["source_name"] == "raw"}
    assert set(sources) == {s.name for s in SOURCES}
    for source in SOURCES:
        node = sources[source.name]
        assert node["schema"] == "raw"
        assert list(node["columns"]) == [*source.columns, "_source_row", "_load_id"]
        assert all(col["description"] for col in node["columns"].values())


def test_sources_read_the_loaded_raw_tables_and_schemas_are_exact(
    warehouse: Warehouse, sample_dir: Path, expected: dict
) -> None:
    load(warehouse, sample_dir, out=None)
    outcome = run_dbt(
        warehouse,
        [
            "show",
            "--inline",
            "select count(*) as n,"
            " '{{ generate_schema_name('staging', none) }}' as custom,"
            " '{{ generate_schema_name(none, none) }}' as default_schema"
            " from {{ source('raw', 'sales') }}",
        ],
    )
    assert outcome.success, outcome.exception
    row = outcome.result.results[0].agate_table.rows[0]
    default = {"duckdb": "main", "postgres": "public"}[warehouse.target]
    assert (int(row["n"]), row["custom"], row["default_schema"]) == (
        expected["files"]["Sales.csv"]["rows"],
        "staging",
        default,
    )


def test_project_stays_offline() -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False
    assert yaml.safe_load((PROJECT_DIR / "packages.yml").read_text())["packages"] == []
    profiles = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())
    assert set(profiles["retail_elt"]["outputs"]) == {"duckdb", "postgres", "spark"}
    assert profiles["retail_elt"]["outputs"]["spark"]["method"] == "session"  # local, in-process: no server
    assert profiles["retail_elt"]["outputs"]["duckdb"]["keep_open"] is False
