"""Shared fixtures: one generated dataset per session, a fresh warehouse per test on each target.

Postgres tests use the server of the libpq variables (default 127.0.0.1:5432, user postgres), each
test in a database of its own. Where no server answers they are skipped locally, but fail under CI
(CI=true) or ELT_REQUIRE_POSTGRES=1: in CI the Postgres tests always run.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import psycopg2
import pytest

from core.warehouse import Warehouse
from ingestion.generator import generate

T = TypeVar("T")

os.environ.setdefault("DO_NOT_TRACK", "1")
# pytest-xdist runs the suite in parallel workers: each gets its own dbt artifacts and dbt log folder.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
    os.environ.setdefault("ELT_DBT_TARGET_ROOT", str(_PROJECT / "target" / f"pytest-{_WORKER}"))
    os.environ.setdefault("DBT_LOG_PATH", str(_PROJECT / "logs" / f"pytest-{_WORKER}"))
    os.environ.setdefault("ELT_DATA_DOCS_DIR", str(_PROJECT.parent / "data_docs" / f"pytest-{_WORKER}"))
# OpenLineage events of runs whose environment names no folder of their own: a temporary one, never the tree's.
os.environ.setdefault("ELT_LINEAGE_DIR", tempfile.mkdtemp(prefix="elt-test-lineage-"))
# Other waiting runs must not hang a test for long.
os.environ.setdefault("ELT_LOCK_TIMEOUT", "60")
# Two workers keep both cores busy: a second process parsing ahead would only add CPU (docs/operations.md).
# tests/orchestration/test_pipeline.py turns it on where it checks it.
os.environ.setdefault("ELT_PARSE_AHEAD", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Spark tests first (a stable sort). `--dist worksteal` gives each worker a contiguous half of the
    collection and an idle worker steals from the end of the other's queue: so the Spark tests run one after
    another in the first worker, in one JVM (each module's warehouse made once), while the other worker starts
    on the rest."""
    items.sort(key=lambda item: item.get_closest_marker("spark") is None)


def _postgres_required() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"} or os.environ.get("ELT_REQUIRE_POSTGRES") == "1"


def _admin_connect():
    return psycopg2.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD") or None,
        dbname="postgres",
        connect_timeout=5,
    )


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    """True if the Postgres server answers; fails the session under CI if it does not."""
    try:
        _admin_connect().close()
        return True
    except psycopg2.Error as exc:
        if _postgres_required():
            pytest.fail(f"Postgres is required in CI but unreachable: {exc}", pytrace=False)
        return False


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five CSVs and expected.json of `elt generate --seed 7` at scale 1 (generated once)."""
    out = tmp_path_factory.mktemp("sample-seed7")
    generate(out, scale=1, seed=7)
    return out


@pytest.fixture(scope="session")
def expected(sample_dir: Path) -> dict:
    """The generator's expected.json for `sample_dir`."""
    return json.loads((sample_dir / "expected.json").read_text())


def _fresh_database(prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    conn = _admin_connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'create database "{name}"')
    conn.close()
    return name


def _drop_database(name: str) -> None:
    conn = _admin_connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
    conn.close()


def copy_database(template: str, name: str) -> None:
    """A new Postgres database `name` copied from `template`.

    Nobody may be connected to `template`: sessions still on it (a build's last ones closing, a reader of an
    earlier test) are ended first, then the copy is made; a session that comes back in between is ended
    again on the next try (psycopg2.errors.ObjectInUse after 50 tries).
    """
    conn = _admin_connect()
    conn.autocommit = True
    try:
        for attempt in range(50):
            with conn.cursor() as cur:
                others = "select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
                cur.execute(f"select pg_terminate_backend(pid) from ({others}) sessions", (template,))
                try:
                    cur.execute(f'create database "{name}" template "{template}"')
                    return
                except psycopg2.errors.ObjectInUse:
                    if attempt == 49:
                        raise

    finally:
        conn.close()


def warehouse_env(target: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables of a brand-new, empty warehouse of `target` (dropped afterwards)."""
    env = {
        "ELT_TARGET": target,
        "ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "ELT_LINEAGE_DIR": str(tmp_path / "lineage"),  # the run's OpenLineage events (orchestration/lineage.py)
    }
    if target == "duckdb":
        yield env
        return
    name = _fresh_database("elt_test")
    try:
        yield {**env, "PGDATABASE": name}
    finally:
        _drop_database(name)


class PerTarget(Generic[T]):
    """Something slow to make (a built warehouse), made once per target on first use and torn down by
    close() (or at the end of a `with` block): `build(target)` is a generator that yields the thing, then
    cleans up when resumed."""

    def __init__(self, build: Callable[[str], Iterator[T]]):
        self.build = build
        self.built: dict[str, T] = {}
        self._builders: list[Iterator[T]] = []

    def get(self, target: str) -> T:
        """The thing for `target`, made now if this is the first call."""
        if target not in self.built:
            builder = self.build(target)
            self.built[target] = next(builder)
            self._builders.append(builder)
        return self.built[target]

    def close(self) -> None:
        """Run every builder's clean-up."""
        for builder in self._builders:
            next(builder, None)

    def __enter__(self) -> PerTarget[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per warehouse."""
    if request.param == "postgres" and not request.getfixturevalue("postgres_available"):
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    return request.param


@pytest.fixture
def wh_env(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh empty warehouse of `target`, exported to os.environ (for in-process `elt` calls)."""
    for env in warehouse_env(target, tmp_path):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield env


@pytest.fixture
def warehouse(wh_env: dict[str, str]) -> Warehouse:
    """The `Warehouse` of `wh_env`."""
    return Warehouse.from_env(environ={**os.environ, **wh_env})


@pytest.fixture(scope="session")
def built_apis(
    sample_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[PerTarget]:
    """Factory of warehouses after `elt run` of the sample (tests/api/conftest.py `BuiltApi`) for the API and
    browser tests, once per target per session (worker): each a private copy of the test run's one good build
    (tests/faults/conftest.py `GoldenWarehouses`, shared by all workers), never a run of its own. Defined here,
    at the root, so that both folders share it."""
    from tests.api.conftest import built_from_golden  # not at the top: these import this module
    from tests.faults.conftest import GoldenWarehouses

    golden = GoldenWarehouses.of_session(sample_dir, tmp_path_factory, request.config)
    workdir = tmp_path_factory.mktemp("api-warehouses")
    try:
        with PerTarget(lambda target: built_from_golden(golden, target, sample_dir, workdir / target)) as apis:
            yield apis
    finally:
        golden.release()
