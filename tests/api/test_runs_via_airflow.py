"""`POST /runs {"via": "airflow"}` says why it cannot trigger the DAG: which setting is missing (503), that
Airflow does not answer (503), that `select`/`full_refresh` are not for the DAG (422). The real thing, a
run triggered through a running Airflow and followed to its end, is in tests/orchestration/test_make_airflow.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from api.main import create_app
from core.audit import new_id
from core.warehouse import Warehouse
from tests.api.conftest import API_KEY, KEY

AIRFLOW = {"via": "airflow"}


def _client(tmp_path: Path, **airflow: str) -> TestClient:
    """An API over an empty DuckDB warehouse, with these ELT_AIRFLOW_* settings."""
    environ = {"ELT_TARGET": "duckdb", "ELT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"), **airflow}
    warehouse = Warehouse.from_env(environ=environ)
    return TestClient(create_app(ApiConfig(API_KEY, warehouse, tmp_path / "target" / "duckdb")))


@pytest.mark.parametrize(
    ("airflow", "missing"),
    [
        ({}, "ELT_AIRFLOW_URL (or ELT_AIRFLOW_API_URL), ELT_AIRFLOW_USERNAME, ELT_AIRFLOW_PASSWORD are not set"),
        ({"ELT_AIRFLOW_URL": "http://127.0.0.1:8080"}, "ELT_AIRFLOW_USERNAME, ELT_AIRFLOW_PASSWORD are not set"),
        (
            {"ELT_AIRFLOW_URL": "http://127.0.0.1:8080", "ELT_AIRFLOW_USERNAME": "admin"},
            "ELT_AIRFLOW_PASSWORD is not set",
        ),
    ],
)
def test_unconfigured_airflow_is_refused_naming_the_missing_settings(
    tmp_path: Path, airflow: dict[str, str], missing: str
) -> None:
    with _client(tmp_path, **airflow) as client:
        refused = client.post("/runs", headers=KEY, json=AIRFLOW)
        assert refused.status_code == 503
        assert refused.json() == {
            "detail": "triggering through Airflow needs ELT_AIRFLOW_URL, ELT_AIRFLOW_USERNAME and"
            f" ELT_AIRFLOW_PASSWORD: {missing}"
        }
        assert client.post("/runs", json=AIRFLOW).status_code == 401  # the key first, as for every route


def test_airflow_not_answering_and_wrong_requests(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the connection is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = {"ELT_AIRFLOW_URL": url, "ELT_AIRFLOW_USERNAME": "admin", "ELT_AIRFLOW_PASSWORD": "secret"}
    with _client(tmp_path, **settings) as client:
        for body in ({"via": "airflow", "select": ["stg_stores"]}, {"via": "airflow", "full_refresh": True}):
            wrong = client.post("/runs", headers=KEY, json=body)
            assert wrong.status_code == 422
            assert (
                wrong.json()["detail"]
                == "select and full_refresh are for via elt: the Airflow DAG runs the whole pipeline"
            )
        assert client.post("/runs", headers=KEY, json={"via": "cron"}).status_code == 422

        unreachable = client.post("/runs", headers=KEY, json=AIRFLOW)
        assert unreachable.status_code == 503
        assert unreachable.json()["detail"].startswith(f"Airflow at {url} cannot be reached: ")
        # A run id this API could have made is asked of Airflow, which cannot answer: 503 saying so.
        asked = client.get(f"/runs/{new_id()}", headers=KEY)
        assert asked.status_code == 503 and asked.json()["detail"].startswith(f"Airflow at {url} cannot be reached")
