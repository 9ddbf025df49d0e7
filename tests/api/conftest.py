"""Fixtures for the API tests: a warehouse built by `elt run` from the session's sample (with its dbt docs
site and artifacts in a folder of its own), once per target, and a TestClient over the real app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.warehouse import Warehouse
from tests.conftest import PerTarget, warehouse_env
from tests.dbt.conftest import elt

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


def built_by_elt_run(target: str, sample_dir: Path, folder: Path) -> Iterator[BuiltApi]:
    """A fresh warehouse of `target` after `elt run` of sample_dir, its dbt artifacts in folder/target
    (dropped afterwards on Postgres)."""
    folder.mkdir(parents=True)
    for env in warehouse_env(target, folder):
        env = {**env, "ELT_DBT_TARGET_ROOT": str(folder / "target"), "ELT_DATA_DOCS_DIR": str(folder / "data_docs")}
        elt("run", "--data-dir", str(sample_dir), "--reports-dir", str(folder / "reports"), env=env)
        warehouse = Warehouse.from_env(environ={**os.environ, **env})
        yield BuiltApi(warehouse, folder / "target" / target, env)


@pytest.fixture
def built(target: str, built_apis: PerTarget[BuiltApi]) -> BuiltApi:
    """The session's sample after `elt run`, on each target (Postgres skipped locally without a server)."""
    return built_apis.get(target)


@pytest.fixture
def client(built: BuiltApi) -> Iterator[TestClient]:
    """A TestClient over the real app on `built` (requests go through the whole ASGI stack)."""
    with TestClient(create_app(built.settings())) as test_client:
        yield test_client
