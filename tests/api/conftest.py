"""Fixtures for the API tests: a warehouse built by `elt run` from the session's sample (with its dbt docs
site and artifacts in a folder of its own), once per target, and a TestClient over the real app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from ingestion.warehouse import Warehouse
from tests.conftest import warehouse_env
from tests.dbt.conftest import TARGETS, elt

API_KEY = "test-key-0123456789"
KEY = {"X-API-Key": API_KEY}


@dataclass
class BuiltApi:
    """A warehouse after `elt run`, and where its dbt artifacts are."""

    warehouse: Warehouse
    target_path: Path  # the target's artifacts folder (manifest.json, catalog.json, index.html)
    env: dict[str, str]

    def settings(self) -> Settings:
        """Settings of an API over this warehouse."""
        return Settings(api_key=API_KEY, warehouse=self.warehouse, dbt_target_path=self.target_path)


class _BuiltApis:
    """One `elt run` per target per session, on first use."""

    def __init__(self, sample_dir: Path, workdir: Path):
        self.sample_dir = sample_dir
        self.workdir = workdir
        self.built: dict[str, BuiltApi] = {}
        self._cleanups: list[Iterator[dict[str, str]]] = []

    def get(self, target: str) -> BuiltApi:
        if target not in self.built:
            folder = self.workdir / target
            folder.mkdir(parents=True)
            envs = warehouse_env(target, folder)
            env = {**next(envs), "ELT_DBT_TARGET_ROOT": str(folder / "target")}
            self._cleanups.append(envs)
            elt("run", "--data-dir", str(self.sample_dir), "--reports-dir", str(folder / "reports"), env=env)
            warehouse = Warehouse.from_env(environ={**os.environ, **env})
            self.built[target] = BuiltApi(warehouse, folder / "target" / target, env)
        return self.built[target]

    def close(self) -> None:
        for cleanup in self._cleanups:
            next(cleanup, None)


@pytest.fixture(scope="session")
def built_apis(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_BuiltApis]:
    """Factory of warehouses built by `elt run` for the API tests."""
    apis = _BuiltApis(sample_dir, tmp_path_factory.mktemp("api-warehouses"))
    yield apis
    apis.close()


@pytest.fixture(params=TARGETS)
def built(request: pytest.FixtureRequest, built_apis: _BuiltApis, postgres_available: bool) -> BuiltApi:
    """The session's sample after `elt run`, on each target."""
    if request.param == "postgres" and not postgres_available:
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    return built_apis.get(request.param)


@pytest.fixture
def client(built: BuiltApi) -> Iterator[TestClient]:
    """A TestClient over the real app on `built` (requests go through the whole ASGI stack)."""
    with TestClient(create_app(built.settings())) as test_client:
        yield test_client
