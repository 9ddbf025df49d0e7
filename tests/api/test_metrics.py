"""GET /metrics over real HTTP, parsed with prometheus_client's own parser: the pipeline gauges are what the
audit tables (and marts.rejected_records) hold, pinned to the generator's expected.json, on DuckDB and Postgres;
the request metrics count each request once under its route template; several `elt serve` workers add up
their counts; a warehouse nothing ran on, or one that cannot be read, scrapes without error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from api.config import ApiConfig
from api.main import create_app
from api.metrics import GAUGES, RUN_STATUSES, multiprocess_directory, unix_time
from core.audit import ensure_audit_tables, utc_now
from core.errors import ConfigError
from core.warehouse import Warehouse
from tests.api.conftest import API_KEY, KEY, BuiltApi
from tests.dbt.conftest import rows

Families = dict[str, Metric]
RUN_GAUGES = ("elt_last_run_duration_seconds", "elt_last_run_start_timestamp_seconds", "elt_last_run_tests_failed")


def parse(text: str) -> Families:
    """The metric families of a scrape in Prometheus' text format, by name."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def scrape(client: TestClient | httpx.Client) -> Families:
    """GET /metrics without a key (as Prometheus does), parsed."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def samples(families: Families, name: str, sample: str | None = None) -> dict[tuple[str, ...], float]:
    """The values of family `name`'s samples called `sample` (default: the family's name), by their label
    values in label-name order; {} when there are none."""
    family = families.get(name)
    found = {}
    for s in family.samples if family else []:
        if s.name == (sample or name):
            found[tuple(value for _, value in sorted(s.labels.items()))] = s.value
    return found


def requests(families: Families, method: str, route: str, status: int) -> float:
    """elt_http_requests_total{method, route, status} (0 when never counted)."""
    return samples(families, "elt_http_requests", "elt_http_requests_total").get((method, route, str(status)), 0.0)


# -------------------------------------------------------------------------------------------- the pipeline


def test_the_pipeline_gauges_are_what_audit_holds(client: TestClient, built: BuiltApi, expected: dict) -> None:
    before = utc_now()
    families = scrape(client)
    after = utc_now()
    assert samples(families, "elt_warehouse_up") == {(): 1.0}

    runs = rows(
        built.warehouse,
        "select trigger, status, started_at, seconds, tests_failed from audit.runs r where started_at ="
        " (select max(started_at) from audit.runs o where o.trigger = r.trigger)",
    )
    by_trigger = {run["trigger"]: run for run in runs}
    assert set(by_trigger) == {"cli"}  # the session's one `elt run`, which built everything and failed no test
    assert (by_trigger["cli"]["status"], by_trigger["cli"]["tests_failed"]) == ("success", 0)
    status = {
        (state, trigger): 1.0 if state == run["status"] else 0.0
        for trigger, run in by_trigger.items()
        for state in RUN_STATUSES
    }
    assert samples(families, "elt_last_run_status") == status
    assert samples(families, "elt_last_run_duration_seconds") == {
        (t,): float(r["seconds"]) for t, r in by_trigger.items()
    }
    assert samples(families, "elt_last_run_start_timestamp_seconds") == {
        (t,): unix_time(r["started_at"]) for t, r in by_trigger.items()
    }
    assert samples(families, "elt_last_run_tests_failed") == {
        (t,): float(r["tests_failed"]) for t, r in by_trigger.items()
    }

    loads = rows(
        built.warehouse,
        "select source, rows, finished_at from audit.loads l where status = 'loaded' and finished_at ="
        " (select max(finished_at) from audit.loads o where o.source = l.source and o.status = 'loaded')",
    )
    assert {(load["source"],): float(load["rows"]) for load in loads} == samples(families, "elt_last_load_rows")
    assert samples(families, "elt_last_load_rows") == {
        (source,): float(info["raw_rows"]) for source, info in expected["sources"].items()
    }
    finished = {load["source"]: load["finished_at"] for load in loads}
    assert samples(families, "elt_last_successful_load_timestamp_seconds") == {
        (source,): unix_time(at) for source, at in finished.items()
    }
    ages = samples(families, "elt_last_successful_load_age_seconds")
    assert set(ages) == {(source,) for source in finished}
    for (source,), age in ages.items():  # as of the scrape, which happened between `before` and `after`
        assert seconds(before, finished[source]) <= age <= seconds(after, finished[source]), source

    rejected = rows(built.warehouse, "select source, reason, count(*) as n from marts.rejected_records group by 1, 2")
    assert samples(families, "elt_rejected_rows") == {(r["reason"], r["source"]): float(r["n"]) for r in rejected}
    assert samples(families, "elt_rejected_rows") == {
        (reason, source): float(n)
        for source, info in expected["sources"].items()
        for reason, n in info["rejected"].items()
        if n
    }


def seconds(later: datetime, earlier: datetime) -> float:
    """`later - earlier` in seconds."""
    return (later - earlier).total_seconds()


def test_a_warehouse_nothing_ran_on_scrapes_without_pipeline_figures(warehouse: Warehouse, tmp_path: Path) -> None:
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=tmp_path / "target")
    if warehouse.target == "duckdb":
        warehouse.connect().close()  # the file exists, empty (a missing file is unreachable: see below)
    for step in ("empty", "audit tables, no row"):
        if step != "empty":
            conn = warehouse.connect()
            ensure_audit_tables(conn)
            conn.close()
        with TestClient(create_app(settings)) as client:
            families = scrape(client)
        assert samples(families, "elt_warehouse_up") == {(): 1.0}, step
        assert samples(families, "elt_warehouse_busy") == {(): 0.0}, step
        for name in set(GAUGES) - {"elt_warehouse_up", "elt_warehouse_busy"}:
            assert name in families and samples(families, name) == {}, (step, name)


def test_a_warehouse_that_cannot_be_read_scrapes_with_up_0(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "wh.duckdb"
    settings = ApiConfig.from_env("duckdb", environ={"ELT_API_KEY": API_KEY, "ELT_DUCKDB_PATH": str(missing)})
    with TestClient(create_app(settings)) as client:
        families = scrape(client)
        assert samples(families, "elt_warehouse_up") == {(): 0.0}
        assert samples(families, "elt_warehouse_busy") == {(): 0.0}
        assert all(samples(families, name) == {} for name in set(GAUGES) - {"elt_warehouse_up", "elt_warehouse_busy"})
        assert str(missing) not in client.get("/metrics").text  # the reason is logged, not shown
        assert requests(scrape(client), "GET", "/metrics", 200) == 2


# -------------------------------------------------------------------------------------------- requests


def test_each_request_is_counted_once_under_its_route_template(client: TestClient, built: BuiltApi) -> None:
    run_id = rows(built.warehouse, "select run_id from audit.runs where trigger = 'cli'")[0]["run_id"]
    before = scrape(client)
    t0 = utc_now()
    for _ in range(3):
        assert client.get(f"/runs/{run_id}", headers=KEY).status_code == 200
    assert client.get("/runs/no-such-run", headers=KEY).status_code == 404
    assert client.get(f"/runs/{run_id}").status_code == 401
    assert client.get(f"/no/such/{run_id}").status_code == 404
    assert client.request("BREW", "/health").status_code == 405
    assert client.get("/health?x=%00").status_code == 422  # refused before routing (api.server.RefuseNul)
    elapsed = seconds(utc_now(), t0)
    after = scrape(client)

    def counted(method: str, route: str, status: int) -> float:
        return requests(after, method, route, status) - requests(before, method, route, status)

    assert counted("GET", "/runs/{run_id}", 200) == 3
    assert counted("GET", "/runs/{run_id}", 404) == 1
    assert counted("GET", "/runs/{run_id}", 401) == 1
    assert counted("GET", "unmatched", 404) == 1
    assert counted("other", "/health", 405) == 1  # a method outside HTTP's own is `other`: bounded labels
    assert counted("GET", "unmatched", 422) == 1
    assert counted("GET", "/metrics", 200) == 1  # the first scrape, counted before its answer ended
    every = samples(after, "elt_http_requests", "elt_http_requests_total")
    assert sum(every.values()) - sum(samples(before, "elt_http_requests", "elt_http_requests_total").values()) == 9
    assert not any(run_id in value for labels in every for value in labels)  # templates, never the path asked

    duration = "elt_http_request_duration_seconds"
    key = ("GET", "/runs/{run_id}", "200")
    assert samples(after, duration, f"{duration}_count")[key] == 3
    assert samples(after, duration, f"{duration}_bucket")[("+Inf", *key)] == 3
    assert 0 < samples(after, duration, f"{duration}_sum")[key] <= elapsed

    as_openmetrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert as_openmetrics.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name: f for f in openmetrics_families(as_openmetrics.text)}
    assert samples(families, "elt_http_requests", "elt_http_requests_total")[key] == 3


def test_metrics_need_no_key_and_are_in_the_openapi_schema(client: TestClient, built: BuiltApi) -> None:
    public = client.get("/metrics", headers={"X-API-Key": "wrong"})  # public: a key is not even looked at
    assert public.status_code == 200 and public.headers["cache-control"] == "no-store"
    run_id = rows(built.warehouse, "select run_id from audit.runs")[0]["run_id"]
    for private in (built.warehouse.describe(), str(built.target_path), run_id, API_KEY):
        assert private not in public.text
    operation = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/plain", "application/openmetrics-text"}


# -------------------------------------------------------------------------------------------- several workers


def check_workers_add_up(url: str, health: int = 10, scrapes: int = 6) -> None:
    """Against a live `elt serve` at `url`: `health` requests to /health, then `scrapes` scrapes, each on a new
    connection (any worker may answer any of them). Every scrape must count every request answered before it,
    whichever worker answered: the workers' counts added up (prometheus_client's multiprocess mode).

    Called by the live-server test of tests/api/test_access.py, whose server runs two workers on Postgres (one
    server start fewer for the suite)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        first = scrape(http)
    for _ in range(health):
        assert httpx.get(f"{url}/health", timeout=120).status_code == 200
    seen = []
    for _ in range(scrapes):
        with httpx.Client(base_url=url, timeout=120) as http:
            seen.append(scrape(http))
    health_before, metrics_before = requests(first, "GET", "/health", 200), requests(first, "GET", "/metrics", 200)
    assert [requests(s, "GET", "/health", 200) - health_before for s in seen] == [health] * scrapes
    assert [requests(s, "GET", "/metrics", 200) - metrics_before for s in seen] == list(range(1, scrapes + 1))
    assert all(samples(s, "elt_warehouse_up") == {(): 1.0} for s in seen)
    assert all(samples(s, "elt_last_load_rows") == samples(first, "elt_last_load_rows") != {} for s in seen)


def test_a_given_multiprocess_folder_is_emptied_of_old_metric_files(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("kept")
    with multiprocess_directory(2, {"PROMETHEUS_MULTIPROC_DIR": str(folder)}) as used:
        assert used == folder and sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    environ: dict[str, str] = {}
    with multiprocess_directory(2, environ) as made:  # none given, several workers: a folder of its own
        assert made is not None and made.is_dir() and environ == {"PROMETHEUS_MULTIPROC_DIR": str(made)}
    assert not made.exists() and environ == {}
    with multiprocess_directory(1, environ) as none:
        assert none is None and environ == {}
    (tmp_path / "a-file").write_text("")
    given = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "a-file")}
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR=.*a-file"), multiprocess_directory(2, given):
        pass
