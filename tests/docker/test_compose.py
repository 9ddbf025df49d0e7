"""docker/docker-compose.yml, checked without a Docker engine: every service has an image or a build,
postgres and the API have health checks, start order waits on health, every variable is defined in
docker/.env.example, the Airflow services share one YAML-anchored block, no secret is written in the
file, the profile `monitoring` runs Prometheus scraping the API's /metrics (docker/prometheus.yml), the
profile `celery` runs Redis, two Celery workers and Flower (with AIRFLOW_EXECUTOR=CeleryExecutor switching the
other Airflow services' executor), and the compose-spec parser (compose-spec on PyPI, the Rust compose_spec
crate) accepts it."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.config import ApiConfig
from api.main import create_app
from core.warehouse import Warehouse
from tests.docker.conftest import (
    AIRFLOW_SERVICES,
    COMPOSE_FILE,
    DOCKER,
    DOCKERFILE,
    ROOT,
    VARIABLE,
    env_example,
    interpolate,
)

SERVICES = {
    "postgres",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "api",
    "elt",
    "dbt-docs",
    "prometheus",
    "redis",
    "airflow-worker-1",
    "airflow-worker-2",
    "flower",
}
CELERY_WORKERS = ("airflow-worker-1", "airflow-worker-2")
CELERY_SERVICES = {"redis", *CELERY_WORKERS, "flower"}  # the profile `celery`
PROMETHEUS_IMAGE = re.compile(r"^prom/prometheus:v\d+\.\d+\.\d+$")  # the official image, a pinned release
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY)$")


def test_every_service_has_an_image_or_a_build_of_the_project(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["postgres"]["image"] == "postgres:16"
    assert PROMETHEUS_IMAGE.match(services["prometheus"]["image"]) and "build" not in services["prometheus"]
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        if name in ("postgres", "prometheus", "redis"):
            continue
        build = service["build"]  # one image for everything else, built from the repository
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
        assert service["image"] == "${ELT_IMAGE:-retail-elt:latest}"


def test_postgres_and_the_api_have_health_checks_that_ask_the_right_thing(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]["healthcheck"]["test"]
    assert postgres[0] == "CMD-SHELL" and postgres[1].startswith("pg_isready ")
    api = services["api"]["healthcheck"]["test"]
    assert api[:2] == ["CMD", "python"] and "http://127.0.0.1:8000/health" in api[-1]
    warehouse = Warehouse.from_env("duckdb", environ={})
    app = create_app(ApiConfig(api_key="k", warehouse=warehouse, dbt_target_path=ROOT / "missing"))
    assert "/health" in {route.path for route in app.routes}  # the route the check calls exists
    assert services["api"]["command"][-4:] == ["--port", "8000", "--workers", "2"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"


def test_start_order_waits_for_health_and_for_airflow_init(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        needs = service.get("depends_on", {})
        assert isinstance(needs, dict), f"{name}: depends_on must name conditions"
        for other, rule in needs.items():
            assert other in services and other != name, f"{name} depends on unknown {other}"
            assert rule["condition"] in CONDITIONS, f"{name} -> {other}"
            if "healthcheck" not in services[other]:
                assert rule["condition"] != "service_healthy", f"{other} has no health check to wait for"
        if name not in ("postgres", "prometheus", "redis"):
            assert needs["postgres"] == {"condition": "service_healthy"}, name
    assert services["prometheus"]["depends_on"] == {"api": {"condition": "service_healthy"}}  # what it scrapes
    for name in (*AIRFLOW_SERVICES[1:], *CELERY_WORKERS, "flower"):
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    assert "airflow-init" not in services["airflow-init"]["depends_on"]
    assert services["airflow-init"]["restart"] == "no"


def test_every_variable_is_defined_in_env_example_and_every_example_is_used(compose_text: str) -> None:
    used = {match.group(1) for match in VARIABLE.finditer(compose_text)}
    defined = env_example()
    assert used - set(defined) == set(), "used in the compose file, missing from docker/.env.example"
    assert set(defined) - used == set(), "in docker/.env.example, used nowhere"
    for match in VARIABLE.finditer(compose_text):  # secrets have no default: a missing .env stops compose
        if SECRET_NAME.search(match.group(1)) and match.group(1) != "AIRFLOW_FERNET_KEY":
            assert match.group(2) == ":?", f"${{{match.group(1)}}} must fail when unset"
    interpolate(yaml.safe_load(compose_text), defined)  # everything resolves with the example values
    with pytest.raises(KeyError, match="ELT_API_KEY"):
        interpolate(yaml.safe_load(compose_text), {k: v for k, v in defined.items() if k != "ELT_API_KEY"})


def test_the_airflow_services_share_one_anchored_block(compose_text: str, compose: dict[str, Any]) -> None:
    assert re.search(r"^x-airflow-common: &airflow-common$", compose_text, re.M)
    root = yaml.compose(compose_text)  # nodes: an alias is the very node its anchor names
    top = {key.value: node for key, node in root.value}
    common = top["x-airflow-common"]
    services = {key.value: node for key, node in top["services"].value}
    for name in AIRFLOW_SERVICES:
        merged = [node for key, node in services[name].value if key.value == "<<"]
        assert merged and merged[0] is common, f"{name} does not merge <<: *airflow-common"
    loaded = compose["services"]
    environments = [loaded[name]["environment"] for name in AIRFLOW_SERVICES]
    shared = {key: value for key, value in environments[1].items()}
    for environment in environments:  # the same settings everywhere (airflow-init adds the admin's login)
        assert {key: environment[key] for key in shared} == shared
    # LocalExecutor unless AIRFLOW_EXECUTOR says CeleryExecutor (test_the_celery_profile_...).
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert interpolate(shared["AIRFLOW__CORE__EXECUTOR"], env_example()) == "LocalExecutor"
    assert shared["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/elt/orchestration/dags"
    assert shared["ELT_TARGET"] == "postgres" and shared["PGHOST"] == "postgres"
    # Airflow's metadata in the same Postgres, in a database of its own (not the warehouse's).
    metadata = interpolate(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env_example())
    assert metadata == "postgresql+psycopg2://airflow:change-me-airflow-db@postgres:5432/airflow"
    assert interpolate(shared["PGDATABASE"], env_example()) == "warehouse"
    assert {loaded[name]["command"][0] for name in AIRFLOW_SERVICES[1:]} == {"airflow"}
    assert [loaded[name]["command"][1] for name in AIRFLOW_SERVICES[1:]] == ["api-server", "scheduler", "dag-processor"]


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if SECRET_NAME.search(str(key)) and isinstance(item, str) and item:
                    assert VARIABLE.fullmatch(item), f"{where}.{key} is written in the file: {item!r}"
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif isinstance(value, str) and "://" in value and "@" in value:  # a URL with credentials
            credentials = VARIABLE.sub("", value).split("://", 1)[1].split("@", 1)[0]
            assert credentials in ("", ":"), f"{where}: credentials written in the URL {value!r}"

    walk(compose, "compose")
    assert "docker/.env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "docker/.env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_compose_spec_parser_accepts_the_file(compose: dict[str, Any]) -> None:
    resolved = interpolate(compose, env_example())
    parsed = json.loads(PyCompose.from_json(json.dumps(resolved)).to_json())
    assert set(parsed["services"]) == SERVICES
    assert parsed["services"]["api"]["ports"]
    broken = copy.deepcopy(resolved)  # the parser is strict: a typo or a bad value is refused
    broken["services"]["api"]["healthcheck"]["intervall"] = "15s"
    with pytest.raises(ValueError, match="intervall"):
        PyCompose.from_json(json.dumps(broken))
    broken = copy.deepcopy(resolved)
    broken["services"]["api"]["depends_on"]["postgres"]["condition"] = "service_ready"
    with pytest.raises(ValueError, match="service_ready"):
        PyCompose.from_json(json.dumps(broken))


def test_published_ports_are_the_documented_ones(compose: dict[str, Any]) -> None:
    ports = {name: service.get("ports", []) for name, service in compose["services"].items()}
    assert ports == {
        "postgres": ["${POSTGRES_PORT:-5433}:5432"],
        "airflow-init": [],
        "airflow-apiserver": ["${AIRFLOW_PORT:-8080}:8080"],
        "airflow-scheduler": [],
        "airflow-dag-processor": [],
        "api": ["${API_PORT:-8000}:8000"],
        "elt": [],
        "dbt-docs": ["${DBT_DOCS_PORT:-8081}:8081"],
        "prometheus": ["127.0.0.1:9090:9090"],  # no login: the host's loopback only
        "redis": [],  # reached by the Airflow services only, on the compose network
        "airflow-worker-1": [],
        "airflow-worker-2": [],
        "flower": ["127.0.0.1:5555:5555"],  # no login: the host's loopback only
    }
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    header = COMPOSE_FILE.read_text(encoding="utf-8")
    for published in ("5433", "8080", "8000", "8081"):
        assert f"localhost:{published}" in readme or f":{published}" in readme, published
        assert f":-{published}" in header
    assert "127.0.0.1:9090" in header and "localhost:9090" in (ROOT / "docs" / "monitoring.md").read_text()
    assert "127.0.0.1:5555" in header and "localhost:5555" in (ROOT / "docs" / "airflow.md").read_text()


# ------------------------------------------------------------------------------------ the monitoring profile


def test_the_monitoring_profile_runs_prometheus_scraping_the_api(compose: dict[str, Any]) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]  # `docker compose up` alone does not start it
    assert [name for name, service in services.items() if "monitoring" in service.get("profiles", [])] == ["prometheus"]
    mounts = {}
    for volume in prometheus["volumes"]:
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode)
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    source, mode = mounts[config_file]  # the file Prometheus reads is docker/prometheus.yml, read-only
    assert (COMPOSE_FILE.parent / source).resolve() == DOCKER / "prometheus.yml" and mode == ["ro"]
    storage = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--storage.tsdb.path="))
    assert mounts[storage][0] in compose["volumes"]  # its data survives a restart, in a named volume

    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    (static,) = job["static_configs"]
    (target,) = static["targets"]
    host, port = target.split(":")
    api = services["api"]
    assert host == "api" and job.get("scheme", "http") == "http"
    assert port == api["command"][api["command"].index("--port") + 1]  # the port `elt serve` listens on
    assert any(mapping.endswith(f":{port}") for mapping in api["ports"])
    assert job["metrics_path"] == "/metrics" and "authorization" not in job and "basic_auth" not in job

    # The path is the API's metrics route, which answers without a key (as /health does).
    warehouse = Warehouse.from_env("duckdb", environ={})
    app = create_app(ApiConfig(api_key="k", warehouse=warehouse, dbt_target_path=ROOT / "missing"))
    assert job["metrics_path"] in {route.path for route in app.routes}
    with TestClient(app) as client:
        scraped = client.get(job["metrics_path"])
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert {family.name for family in text_string_to_metric_families(scraped.text)} >= {
        "elt_http_requests",
        "elt_warehouse_up",
    }


# ------------------------------------------------------------------------------------------ the celery profile


def test_the_celery_profile_runs_redis_two_workers_and_flower(compose_text: str, compose: dict[str, Any]) -> None:
    services = compose["services"]
    in_profile = {name for name, service in services.items() if "celery" in service.get("profiles", [])}
    assert in_profile == CELERY_SERVICES  # `docker compose up` alone starts none of them
    assert all(services[name]["profiles"] == ["celery"] for name in CELERY_SERVICES)

    # Redis, the broker: the official image, a health check the workers wait for, nothing kept on disk.
    redis = services["redis"]
    assert re.fullmatch(r"redis:\d+(\.\d+)*", redis["image"]) and "build" not in redis
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["command"][0] == "redis-server" and "--save" in redis["command"]

    # The workers and Flower are Airflow services like the others: the shared block, the same settings.
    root = yaml.compose(compose_text)
    top = {key.value: node for key, node in root.value}
    common = top["x-airflow-common"]
    nodes = {key.value: node for key, node in top["services"].value}
    for name in ("airflow-worker-1", "flower"):  # airflow-worker-2 merges airflow-worker-1's block
        merged = [node for key, node in nodes[name].value if key.value == "<<"]
        assert merged and merged[0] is common, f"{name} does not merge <<: *airflow-common"
    shared = services["airflow-apiserver"]["environment"]
    for name in (*CELERY_WORKERS, "flower"):
        environment = services[name]["environment"]
        assert {k: v for k, v in environment.items() if k != "AIRFLOW__CORE__EXECUTOR"} == {
            k: v for k, v in shared.items() if k != "AIRFLOW__CORE__EXECUTOR"
        }, name
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name  # whatever AIRFLOW_EXECUTOR says
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name
        assert services[name]["volumes"] == services["airflow-scheduler"]["volumes"], name  # data, dbt target, logs

    # Two workers, each its own host name: the name the task instances record and Celery's `celery@<host>`,
    # which each health check pings.
    hostnames = [services[name]["hostname"] for name in CELERY_WORKERS]
    assert hostnames == list(CELERY_WORKERS)
    for name in CELERY_WORKERS:
        worker = services[name]
        assert worker["command"][:3] == ["airflow", "celery", "worker"], name
        check = worker["healthcheck"]["test"]
        assert check[0] == "CMD" and check[1] == "celery" and "ping" in check, name
        assert check[check.index("--destination") + 1] == f"celery@{worker['hostname']}", name
    assert services["flower"]["command"][:3] == ["airflow", "celery", "flower"]

    # The broker is the redis service; results go to Airflow's metadata database (as Celery's `db+` URL).
    defined = env_example()
    broker = interpolate(shared["AIRFLOW__CELERY__BROKER_URL"], defined)
    assert re.fullmatch(r"redis://redis:6379/\d+", broker)
    backend = interpolate(shared["AIRFLOW__CELERY__RESULT_BACKEND"], defined)
    metadata = interpolate(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], defined)
    assert backend == f"db+{metadata}"

    # AIRFLOW_EXECUTOR switches the scheduler and the rest of the default profile to the workers.
    for name in AIRFLOW_SERVICES:
        executor = services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"]
        assert interpolate(executor, defined) == "LocalExecutor", name
        assert interpolate(executor, {**defined, "AIRFLOW_EXECUTOR": "CeleryExecutor"}) == "CeleryExecutor", name
    assert "AIRFLOW_EXECUTOR=CeleryExecutor docker compose -f docker/docker-compose.yml --profile celery up" in (
        compose_text
    )
    assert importlib.util.find_spec("airflow.providers.celery") is not None  # a dependency: in the image too
