"""Fixtures for the API tests: a warehouse after `elt run` of the session's sample (a copy of the test run's
good build, with its dbt docs site and artifacts in a folder of its own), once per target, and a TestClient
over the real app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.warehouse import Warehouse
from tests.conftest import PerTarget
from tests.faults.conftest import GoldenWarehouses

API_KEY = "test-key-0123456789"
KEY = {"X-API-Key": API_KEY}


@dataclass
class BuiltApi:
    """A warehouse after `elt run`, and where its dbt artifacts are."""

    warehouse: Warehouse
    target_path: Path  # the target's artifacts folder (manifest.json, catalog.json, index.html)
    env: dict[str, str]

    def settings(self) -> ApiConfig:
        """ApiConfig of an API over this warehouse."""
        return ApiConfig(api_key=API_KEY, warehouse=self.warehouse, dbt_target_path=self.target_path)


def built_from_golden(golden: GoldenWarehouses, target: str, sample_dir: Path, folder: Path) -> Iterator[BuiltApi]:
    """A private copy in `folder` of the test run's one good `elt run` of the sample on `target`
    (tests/faults/conftest.py `GoldenWarehouses`), as if that run had been made here: its warehouse, its dbt
    artifacts in folder/target, its Data Docs and OpenLineage events, with the good build's own paths in them
    (its warehouse, folders and copy of the sample) replaced by the copy's (dropped afterwards on Postgres)."""
    for copy in golden.clone(target, folder, artifacts=True, data_docs=True, lineage=True):
        moved = _moved_paths(golden.original(target), copy.env)
        moved[str(golden.original_sample_dir(target).resolve())] = str(sample_dir.resolve())
        _relocate(copy.warehouse, [Path(copy.env[name]) / target for name in _COPIED_FOLDERS], moved)
        yield BuiltApi(copy.warehouse, folder / "target" / target, copy.env)


_COPIED_FOLDERS = ("ELT_DBT_TARGET_ROOT", "ELT_DATA_DOCS_DIR", "ELT_LINEAGE_DIR")


def _moved_paths(original: dict[str, str], copy: dict[str, str]) -> dict[str, str]:
    """Each place of the good build (its warehouse file or database, its folders) -> the copy's."""
    names = [*_COPIED_FOLDERS, "PGDATABASE" if original["ELT_TARGET"] == "postgres" else "ELT_DUCKDB_PATH"]
    return {original[name]: copy[name] for name in names}


def _relocate(warehouse: Warehouse, folders: list[Path], moved: dict[str, str]) -> None:
    """Every old -> new of `moved` replaced in the text files (JSON, HTML) under `folders` and in the run log
    (audit.run_logs) of `warehouse`."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.suffix in {".json", ".jsonl", ".html"} and path.is_file():
                text = original = path.read_text(encoding="utf-8")
                for old, new in moved.items():
                    text = text.replace(old, new)
                if text != original:
                    path.write_text(text, encoding="utf-8")
    conn = warehouse.connect()
    try:
        with conn.transaction():
            for old, new in moved.items():
                conn.execute("update audit.run_logs set message = replace(message, ?, ?)", (old, new))
    finally:
        conn.close()


@pytest.fixture
def built(target: str, built_apis: PerTarget[BuiltApi]) -> BuiltApi:
    """The session's sample after `elt run`, on each target (Postgres skipped locally without a server)."""
    return built_apis.get(target)


@pytest.fixture
def client(built: BuiltApi) -> Iterator[TestClient]:
    """A TestClient over the real app on `built` (requests go through the whole ASGI stack)."""
    with TestClient(create_app(built.settings())) as test_client:
        yield test_client
