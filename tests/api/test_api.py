"""Every endpoint over real HTTP (TestClient through the whole ASGI stack) on a warehouse built by
`elt run` from generated data, on DuckDB and Postgres: figures pinned to the generator's expected.json."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from core.data_docs import DataDocs
from ingestion.contract import SOURCES
from ingestion.data_docs import read_entries
from tests.api.conftest import KEY, BuiltApi
from tests.dbt.conftest import rows
from tests.reports_contract import REPORTS

MODELS = 36
DATA_TESTS = 258  # data tests and unit tests of the project
NODES_PER_BUILD = MODELS + DATA_TESTS

KEYED_GETS = [
    "/runs",
    "/runs/x",
    "/runs/x/nodes",
    "/models",
    "/models/dim_customers",
    "/models/dim_customers/history",
    "/tests/x/history",
    "/lineage",
    "/tests",
    "/sources",
    "/reports",
    "/reports/customer_summary",
    "/reports/customer_summary.csv",
    "/rejected",
    "/artifacts/manifest",
]


def get(client: TestClient, url: str, expect: int = 200, **params) -> dict:
    response = client.get(url, headers=KEY, params=params)
    assert response.status_code == expect, f"{url} {params}: {response.status_code} {response.text[:500]}"
    return response.json()


def count(built: BuiltApi, relation: str) -> int:
    return rows(built.warehouse, f"select count(*) as n from {relation}")[0]["n"]


# ---------------------------------------------------------------------------------------------- auth


def test_every_route_but_health_and_the_openapi_docs_needs_the_key(client: TestClient) -> None:
    for url in KEYED_GETS:
        missing = client.get(url)
        wrong = client.get(url, headers={"X-API-Key": "not-the-key"})
        assert missing.status_code == wrong.status_code == 401, url
        assert wrong.json() == {"detail": "missing or wrong X-API-Key header"}
    assert client.post("/runs", json={}).status_code == 401
    assert client.post("/runs", json={}, headers={"X-API-Key": KEY["X-API-Key"] + "x"}).status_code == 401
    for url in ("/health", "/docs", "/openapi.json"):
        assert client.get(url).status_code == 200, url
    for url in ("/dbt-docs/", "/dbt-docs/manifest.json", "/gx-docs/", "/health/details"):  # see test_access.py
        assert client.get(url).status_code == 401, url


def test_the_api_refuses_to_start_without_a_key_unless_dev() -> None:
    from api.config import ApiConfig, ConfigError

    with pytest.raises(ConfigError, match="ELT_API_KEY is not set"):
        ApiConfig.from_env(environ={})
    dev = ApiConfig.from_env(dev=True, environ={})
    assert dev.generated_key and len(dev.api_key) >= 32
    assert ApiConfig.from_env(environ={"ELT_API_KEY": "k"}).api_key == "k"


# -------------------------------------------------------------------------------------- health, runs


def test_health_reports_the_warehouse_and_the_last_run(client: TestClient, built: BuiltApi) -> None:
    assert client.get("/health").json() == {"status": "ok", "target": built.warehouse.target}
    body = get(client, "/health/details")
    assert body["status"] == "ok" and body["target"] == built.warehouse.target
    assert body["last_run"]["status"] == "success" and body["last_run"]["command"] == "run"


def test_runs_list_detail_and_nodes(client: TestClient, expected: dict) -> None:
    runs = get(client, "/runs", trigger="cli")
    assert runs["total"] == 1 and runs["page"] == 1 and runs["page_size"] == 50
    run = runs["items"][0]
    assert (run["status"], run["command"], run["models_built"], run["tests_failed"]) == ("success", "run", MODELS, 0)
    assert run["rows_loaded"] == sum(f["rows"] for f in expected["files"].values())
    detail = get(client, f"/runs/{run['run_id']}")
    assert set(detail["seconds_per_step"]) == {"generate", "load", "data_docs", "validate", "build", "export", "docs"}
    nodes = get(client, f"/runs/{run['run_id']}/nodes", page_size=500)
    assert nodes["total"] == len(nodes["items"]) == NODES_PER_BUILD
    models = get(client, f"/runs/{run['run_id']}/nodes", resource_type="model", status="success")
    assert models["total"] == MODELS
    assert get(client, f"/runs/{run['run_id']}/nodes", status="fail")["total"] == 0
    get(client, "/runs/no-such-run", 404)
    get(client, "/runs/no-such-run/nodes", 404)
    get(client, "/runs", 422, status="bogus")


# ------------------------------------------------------------------------------------ dbt resources


def test_models_keyed_by_unique_id_with_definition_apart_from_applied(client: TestClient, expected: dict) -> None:
    models = get(client, "/models", page_size=500)
    assert models["total"] == len(models["items"]) == MODELS
    assert all(m["unique_id"].startswith("model.retail_elt.") for m in models["items"])
    assert all(m["applied"]["last_attempt"]["status"] == "success" for m in models["items"])
    assert get(client, "/models", schema="reports")["total"] == len(REPORTS)

    model = get(client, "/models/dim_customers")
    assert get(client, "/models/model.retail_elt.dim_customers") == model
    definition, applied = model["definition"], model["applied"]
    assert definition["schema_name"] == "marts" and definition["materialized"] == "table"
    assert "from" in definition["raw_code"] and definition["description"]
    columns = {c["name"]: c for c in definition["columns"]}
    assert columns["customer_key"]["description"] and columns["customer_key"]["data_type"]  # typed by the catalog
    assert "model.retail_elt.int_customers_deduplicated" in definition["parents"]
    assert "model.retail_elt.customer_summary" in definition["children"]
    assert any(t.startswith("test.retail_elt.unique_dim_customers_customer_key") for t in definition["tests"])
    assert applied["last_attempt"] == applied["last_success"]
    assert applied["last_attempt"]["row_count"] == expected["customers"]["distinct_keys"]
    history = get(client, "/models/dim_customers/history")
    assert history["total"] == 1 and history["items"][0] == applied["last_attempt"]
    get(client, "/models/no_such_model", 404)
    get(client, "/models/no_such_model/history", 404)


def test_lineage_of_a_node_and_of_the_whole_graph(client: TestClient) -> None:
    graph = get(client, "/lineage", node="fct_sales")
    ids = {n["unique_id"] for n in graph["nodes"]}
    assert graph["node"] == "model.retail_elt.fct_sales"
    assert {"source.retail_elt.raw.sales", "model.retail_elt.stg_sales", "model.retail_elt.order_status"} <= ids
    assert "model.retail_elt.dim_stores" not in ids or "model.retail_elt.stg_stores" in ids
    assert not any(i.startswith("test.") for i in ids)
    assert {"parent": "model.retail_elt.stg_sales", "child": "model.retail_elt.int_sales_classified"} in graph[
        "edges"
    ] or any(e["parent"] == "model.retail_elt.stg_sales" for e in graph["edges"])
    assert all(e["parent"] in ids and e["child"] in ids for e in graph["edges"])
    whole = get(client, "/lineage")
    assert whole["node"] is None and len([n for n in whole["nodes"] if n["resource_type"] == "model"]) == MODELS
    assert get(client, "/lineage", node="source.retail_elt.raw.customers")["nodes"]
    get(client, "/lineage", 404, node="nothing_here")


def test_tests_with_their_last_status(client: TestClient) -> None:
    every = get(client, "/tests", page_size=500)
    assert every["total"] == DATA_TESTS
    assert get(client, "/tests", status="pass", page_size=1)["total"] == DATA_TESTS
    assert get(client, "/tests", status="fail")["total"] == 0
    about = get(client, "/tests", model="dim_customers", page_size=500)
    assert about["total"] > 0 and all(t["definition"]["attached_model"] == "dim_customers" for t in about["items"])
    kinds = {t["definition"]["test_type"] for t in every["items"]}
    assert kinds == {"generic", "singular", "unit"}
    test = every["items"][0]
    history = get(client, f"/tests/{test['name']}/history")
    assert history["total"] == 1 and history["items"][0] == test["applied"]["last_attempt"]
    get(client, "/tests/no_such_test/history", 404)
    get(client, "/tests", 422, status="bogus")


def test_sources_with_loads_and_freshness(client: TestClient, built: BuiltApi, expected: dict) -> None:
    """Loads come from audit.loads; freshness is dbt's (`dbt source freshness` after the build): every raw
    table passes, its data dated by the load's start, the UTC time `_load_id` begins with."""
    sources = {s["unique_id"]: s for s in get(client, "/sources")["items"]}
    load_ids = rows(built.warehouse, "select distinct _load_id as load_id from raw.sales")
    assert len(load_ids) == 1
    load_id = load_ids[0]["load_id"]
    started = datetime.strptime(load_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)  # 20261125T012233
    for file, info in expected["files"].items():
        raw = sources[f"source.retail_elt.raw.{info['table']}"]
        assert raw["definition"]["relation_name"] and raw["definition"]["columns"], file
        applied = raw["applied"]
        assert applied["last_successful_load"]["rows"] == info["rows"] and applied["last_load"]["status"] == "loaded"
        assert applied["last_successful_load"]["sha256"] == info["sha256"]
        assert applied["last_successful_load"]["load_id"] == load_id
        freshness = applied["freshness"]
        assert freshness["status"] == "pass", (file, freshness)
        loaded_at = datetime.fromisoformat(freshness["max_loaded_at"])
        assert loaded_at.replace(microsecond=0) == started, (file, freshness["max_loaded_at"], load_id)
        checked = datetime.fromisoformat(freshness["snapshotted_at"])
        assert checked > loaded_at and freshness["age_seconds"] == pytest.approx((checked - loaded_at).total_seconds())
        assert (freshness["warn_after_seconds"], freshness["error_after_seconds"]) == (36 * 3600, 72 * 3600)
        assert freshness["message"] is None
    audit = sources["source.retail_elt.audit.runs"]["applied"]
    assert audit["freshness"] == {
        "status": "not_tracked",
        "max_loaded_at": None,
        "snapshotted_at": None,
        "age_seconds": None,
        "warn_after_seconds": None,
        "error_after_seconds": None,
        "message": None,
    }
    assert audit["last_load"] is None and audit["last_successful_load"] is None


# ------------------------------------------------------------------------------------------ reports


def test_reports_list_and_totals_equal_the_tables(client: TestClient, built: BuiltApi) -> None:
    listed = get(client, "/reports")
    assert listed["total"] == 9 and [r["name"] for r in listed["items"]] == list(REPORTS)
    for report in listed["items"]:
        name = report["name"]
        table_rows = count(built, f"reports.{name}")
        assert report["rows"] == table_rows and report["columns"] and report["description"], name
        page = get(client, f"/reports/{name}", page_size=500)
        assert page["total"] == table_rows, name
        assert len(page["items"]) == min(500, table_rows)
        assert list(page["items"][0]) == [c["name"] for c in report["columns"]]


def test_report_pages_tile_the_whole_report(client: TestClient, expected: dict) -> None:
    seen = []
    page = 1
    while True:
        body = get(client, "/reports/store_performance", page=page, page_size=20)
        seen += body["items"]
        if len(body["items"]) < 20:
            break
        page += 1
    assert len(seen) == len({r["store_key"] for r in seen}) == expected["stores"]["rows"]
    assert get(client, "/reports/store_performance", page=99, page_size=20)["items"] == []


def test_report_sort_and_filter(client: TestClient, expected: dict) -> None:
    top = get(client, "/reports/customer_summary", sort="-revenue_usd", page_size=10)["items"]
    revenues = [r["revenue_usd"] for r in top]
    assert revenues == sorted(revenues, reverse=True)
    germany = expected["customers"]["by_country"]["Germany"]
    found = get(client, "/reports/customer_summary", filter="country:eq:Germany", page_size=5)
    assert found["total"] <= germany and all(r["country"] == "Germany" for r in found["items"])
    both = get(client, "/reports/customer_summary", filter=["country:eq:Germany", "orders:gte:10"], sort="orders")
    assert all(r["orders"] >= 10 for r in both["items"]) and both["total"] < found["total"]
    orders = [r["orders"] for r in both["items"]]
    assert orders == sorted(orders)
    pending = get(client, "/reports/order_status", filter="delivery_date:null")
    assert (
        pending["total"]
        == expected["sales"]["orders"] - get(client, "/reports/order_status", filter="delivery_date:notnull")["total"]
    )
    assert all(r["status"] == "pending" for r in pending["items"])
    day = get(client, "/reports/sales_trends_daily", filter="date_day:gte:2025-12-25")
    assert day["total"] == 7
    contains = get(client, "/reports/customer_summary", filter="name:contains:%")
    assert contains["total"] == 0  # % is a character to find, not a wildcard


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": -1},
        {"page": "x"},
        {"page_size": 0},
        {"page_size": 501},
        {"sort": "no_such_column"},
        {"sort": "revenue_usd desc"},
        {"sort": "a,b,c,d,e,f"},
        {"filter": "no_such_column:eq:1"},
        {"filter": "orders:between:1"},
        {"filter": "orders:eq:ten"},
        {"filter": "orders:eq:99999999999999999999999"},
        {"filter": "first_order_date:gt:yesterday"},
        {"filter": "revenue_usd:lt:NaN"},
        {"filter": "orders:contains:1"},
        {"filter": "orders"},
        {"filter": "orders:null:1"},
    ],
)
def test_bad_page_sort_or_filter_is_422(client: TestClient, params: dict) -> None:
    response = client.get("/reports/customer_summary", headers=KEY, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


INJECTIONS = [
    "revenue_usd; drop table reports.customer_summary",
    "1; drop table reports.customer_summary --",
    "(select 1)",
    'revenue_usd" desc, (select pg_sleep(1)) --',
    "customer_key--",
]


def test_sql_injection_in_sort_and_filter_is_rejected_and_harmless(client: TestClient, built: BuiltApi) -> None:
    before = count(built, "reports.customer_summary")
    for text in INJECTIONS:
        assert client.get("/reports/customer_summary", headers=KEY, params={"sort": text}).status_code == 422
        assert client.get("/reports/customer_summary", headers=KEY, params={"filter": text}).status_code == 422
    # A value is only ever a bound parameter: it matches nothing, and changes nothing.
    for text in ("x' or '1'='1", "'; drop table reports.customer_summary; --", "\\'; select 1; --"):
        body = get(client, "/reports/customer_summary", filter=f"country:eq:{text}")
        assert body["total"] == 0
        assert get(client, "/reports/customer_summary", filter=f"name:contains:{text}")["total"] == 0
    assert count(built, "reports.customer_summary") == before


def test_unknown_report_is_404(client: TestClient) -> None:
    for url in ("/reports/no_such_report", "/reports/no_such_report.csv", "/reports/audit.runs"):
        assert client.get(url, headers=KEY).status_code == 404, url


def test_csv_download_has_every_report_row(client: TestClient, built: BuiltApi) -> None:
    for name in REPORTS:
        response = client.get(f"/reports/{name}.csv", headers=KEY)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert f'filename="{name}.csv"' in response.headers["content-disposition"]
        records = list(csv.DictReader(io.StringIO(response.text)))
        assert len(records) == count(built, f"reports.{name}"), name
    page = get(client, "/reports/customer_summary", filter="country:eq:Germany", sort="-revenue_usd", page_size=500)
    response = client.get(
        "/reports/customer_summary.csv", headers=KEY, params={"filter": "country:eq:Germany", "sort": "-revenue_usd"}
    )
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert len(records) == page["total"]
    assert [int(r["customer_key"]) for r in records[:500]] == [r["customer_key"] for r in page["items"]]
    assert client.get("/reports/customer_summary.csv", headers=KEY, params={"sort": "nope"}).status_code == 422


# ------------------------------------------------------------------------------ rejected, artifacts


def test_rejected_records_filter_by_source_and_reason(client: TestClient, expected: dict, built: BuiltApi) -> None:
    every = get(client, "/rejected", page_size=500)
    assert every["total"] == count(built, "marts.rejected_records")
    for source, info in expected["sources"].items():
        assert get(client, "/rejected", source=source)["total"] == sum(info["rejected"].values()), source
        for reason, n in info["rejected"].items():
            body = get(client, "/rejected", source=source, reason=reason)
            assert body["total"] == n and all(r["reason"] == reason for r in body["items"])
            assert all(json.loads(r["raw_record"]) for r in body["items"])
    assert get(client, "/rejected", reason="no_such_reason")["total"] == 0
    get(client, "/rejected", 422, source="nowhere")


def test_artifacts_are_the_files_dbt_wrote(client: TestClient, built: BuiltApi) -> None:
    for name in ("manifest", "run_results", "catalog", "sources"):  # sources: `dbt source freshness` after the build
        response = client.get(f"/artifacts/{name}", headers=KEY)
        assert response.status_code == 200, name
        assert response.content == (built.target_path / f"{name}.json").read_bytes()
    unknown = client.get("/artifacts/graph", headers=KEY)
    assert unknown.status_code == 404 and "artifacts are manifest, run_results, catalog, sources" in unknown.text


TRAVERSALS = [
    "/artifacts/..%2F..%2Fprofiles.yml",
    "/artifacts/%2e%2e%2fmanifest",
    "/artifacts/manifest.json",
    "/artifacts/../../dbt_project.yml",
    "/dbt-docs/..%2F..%2Fprofiles.yml",
    "/dbt-docs/%2e%2e/%2e%2e/profiles.yml",
    "/dbt-docs/run_results.json",
    "/dbt-docs/compiled",
    "/dbt-docs/graph.gpickle",
    "/dbt-docs/../../../etc/passwd",
    "/dbt-docs/%2Fetc%2Fpasswd",
    "/gx-docs/..%2Findex.json",  # the index's data, beside the site
    "/gx-docs/%2e%2e/results/.ge_store_backend_id",
    "/gx-docs/..%2F..%2F..%2F..%2Fprofiles.yml",
    "/gx-docs/%2Fetc%2Fpasswd",
    "/gx-docs/../../../etc/passwd",
    "/gx-docs/.lock",
]


def test_path_traversal_in_artifact_and_docs_routes_is_refused(client: TestClient) -> None:
    for url in TRAVERSALS:
        response = client.get(url, headers=KEY)
        assert response.status_code == 404, f"{url}: {response.status_code}"
        assert "root:" not in response.text and "retail_elt:" not in response.text and "outputs" not in response.text
        assert '"evaluated":' not in response.text and "store_backend_id = " not in response.text


def test_data_contract_docs_are_served(client: TestClient, built: BuiltApi) -> None:
    docs = DataDocs.of(built.warehouse)  # a folder of its own, outside dbt's target folder
    assert not docs.root.is_relative_to(built.target_path.parent)
    entries = read_entries(docs)  # the one `elt run`: five files validated, all passed
    assert [(e.file, e.status) for e in entries] == [(s.file, "passed") for s in SOURCES]
    index = client.get("/gx-docs/", headers=KEY)  # a browser opens it with a login session (test_access.py)
    assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.content == docs.index.read_bytes() and index.text.count('class="passed-row"') == 5
    links = re.findall(r'href="([^"]+)"', index.text)
    assert sorted(link for link in links if link.startswith("validations/")) == sorted(e.page for e in entries)
    assert len([link for link in links if link.startswith("expectations/")]) == 5
    for link in links:
        page = client.get(f"/gx-docs/{link}", headers=KEY)
        assert page.status_code == 200 and page.content == (docs.site / link).read_bytes(), link
    sales = client.get(f"/gx-docs/{next(e.page for e in entries if e.source == 'sales')}", headers=KEY)
    assert sales.headers["content-type"] == "text/html; charset=utf-8" and "raw_sales" in sales.text
    css = client.get("/gx-docs/static/styles/data_docs_default_styles.css", headers=KEY)
    assert css.status_code == 200 and css.headers["content-type"] == "text/css; charset=utf-8"
    missing = client.get("/gx-docs/validations/raw_sales/none.html", headers=KEY)
    assert missing.status_code == 404 and missing.json() == {
        "detail": "the data contract docs have no file 'validations/raw_sales/none.html'"
    }
    redirect = client.get("/gx-docs", headers=KEY, follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/gx-docs/"


def test_dbt_docs_site_is_served(client: TestClient, built: BuiltApi) -> None:
    index = client.get("/dbt-docs/", headers=KEY)
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert index.content == (built.target_path / "index.html").read_bytes()
    assert client.get("/dbt-docs/manifest.json", headers=KEY).json()["metadata"]["project_name"] == "retail_elt"
    assert client.get("/dbt-docs/catalog.json", headers=KEY).status_code == 200
    redirect = client.get("/dbt-docs", headers=KEY, follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "/dbt-docs/"
