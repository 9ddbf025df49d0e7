"""Who may read what. One rule over every route: a route is public only if what it answers is public
anyway (the API's shape, the login form, whether the server is up, and its metrics for Prometheus: counts,
durations and statuses, no path, host, error text, run id or value of the data); everything else drawn from
the warehouse or from dbt's and Great Expectations' files needs the X-API-Key header or a login session. The
dbt docs and the Data Docs hold model SQL, absolute server paths and raw failing values, so they are keyed
too: a browser logs in once at /login and gets a signed session cookie.

Route by route through the TestClient; the login flow over real HTTP against a live `elt serve`."""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from starlette.routing import Route

from api.config import ApiConfig
from api.main import create_app
from api.routes.session import signing_key
from core.data_docs import DataDocs
from core.warehouse import Warehouse
from ingestion.data_docs import publish_data_docs, read_entries
from ingestion.loader import load
from tests.api.conftest import API_KEY, KEY, BuiltApi
from tests.api.live import live_server
from tests.api.test_metrics import check_workers_add_up
from tests.dbt.conftest import copy_sample

# Routes open to anyone: the API's shape, the login form, whether the server is up, and its metrics.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/metrics"),  # Prometheus scrapes without a key, as load balancers call /health (docs/monitoring.md)
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/docs/assets/{name}"),  # Swagger UI's and ReDoc's scripts and styles, from installed packages
    ("GET", "/"),  # a redirect to the dashboard
    ("GET", "/ui/static/{file}"),  # the dashboard's stylesheet, script and icon
}
BROWSER_PAGES = ("/dbt-docs", "/gx-docs", "/ui/")  # without key or session, a browser is sent to /login
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PLANTED = "SSN 123-45-6781"  # a raw value a failing expectation shows verbatim on its Data Docs page
SESSION_HOURS = 8


def every_route(client: TestClient) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app, HEAD left out (Starlette adds it to GET)."""
    found = []
    for route in client.app.routes:
        assert isinstance(route, APIRoute | Route), f"a kind of route this test does not know: {route!r}"
        found += [(method, route.path) for method in sorted(route.methods - {"HEAD"})]
    return found


def concrete(path: str) -> str:
    """A URL of a route template: every path parameter filled with `x` (`/reports/{name}.csv` -> `/reports/x.csv`)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_needs_the_key_or_a_session_but_the_public_few(client: TestClient) -> None:
    routes = every_route(client)
    assert set(routes) >= PUBLIC, "a public route listed here no longer exists"
    keyed = [(method, path) for method, path in routes if (method, path) not in PUBLIC]
    # The resource routes, the two docs sites, the dashboard's pages, /health/details: look here on a change.
    assert len(keyed) == 31
    for method, path in keyed:
        url = concrete(path)
        for headers in ({}, {"X-API-Key": "not-the-key"}, {"X-API-Key": API_KEY + "x"}, {"Cookie": "elt_session=x"}):
            refused = client.request(method, url, headers={"Accept": "application/json", **headers})
            assert refused.status_code == 401, f"{method} {url} {headers}: {refused.status_code} {refused.text[:200]}"
            assert refused.json() == {"detail": "missing or wrong X-API-Key header"}
            assert refused.headers["www-authenticate"] == "APIKey"
        as_browser = client.request(method, url, headers=HTML, follow_redirects=False)
        if path.startswith(BROWSER_PAGES):
            assert as_browser.status_code == 303, f"{method} {url}"
            assert as_browser.headers["location"] == "/login?next=" + quote(url, safe=""), url
        else:  # an API route: a browser without the key gets the same 401 as any client
            assert as_browser.status_code == 401, f"{method} {url}: {as_browser.status_code}"
    for method, path in PUBLIC:  # answered, never refused for want of the key
        answer = client.request(method, path, headers={"Accept": "application/json"}, follow_redirects=False)
        assert "www-authenticate" not in answer.headers and answer.status_code < 500, (method, path)


def test_docs_sites_need_the_key(client: TestClient, built: BuiltApi) -> None:
    for url in ("/dbt-docs/", "/dbt-docs/index.html", "/dbt-docs/manifest.json", "/dbt-docs/catalog.json"):
        assert client.get(url).status_code == 401, url
        opened = client.get(url, headers=KEY)
        assert opened.status_code == 200, url
        assert opened.content == (built.target_path / (url.rsplit("/", 1)[1] or "index.html")).read_bytes(), url
    entries = read_entries(DataDocs.of(built.warehouse))
    assert len(entries) == 5
    for url in ["/gx-docs/", *(f"/gx-docs/{e.page}" for e in entries)]:
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers=KEY).status_code == 200, url
    # The manifest without a key was the keyed /artifacts/manifest byte for byte: model SQL, server paths.
    manifest = (built.target_path / "manifest.json").read_text()
    assert '"raw_code": "' in manifest and f'"{built.target_path.parent}/' in manifest


def test_health_shows_no_warehouse_path_and_details_need_the_key(client: TestClient, built: BuiltApi) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "target": built.warehouse.target}
    assert built.warehouse.describe() not in health.text
    assert client.get("/health/details").status_code == 401
    details = client.get("/health/details", headers=KEY).json()
    assert (details["status"], details["target"], details["warehouse"]) == (
        "ok",
        built.warehouse.target,
        built.warehouse.describe(),
    )
    assert (details["last_run"]["status"], details["last_run"]["command"]) == ("success", "run")


def test_health_of_an_unreachable_warehouse_names_no_path(tmp_path: Path) -> None:
    missing = tmp_path / "secret-folder" / "wh.duckdb"
    settings = ApiConfig.from_env("duckdb", environ={"ELT_API_KEY": API_KEY, "ELT_DUCKDB_PATH": str(missing)})
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json() == {"status": "unreachable", "target": "duckdb"}
        details = client.get("/health/details", headers=KEY)
        assert details.status_code == 503 and str(missing) in details.json()["detail"]


# ---------------------------------------------------------------------------------- a planted value


@pytest.fixture(scope="module")
def planted_docs(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDocs:
    """Data Docs of a Customers.csv whose first birthday is a planted social security number: the file
    loads (one value off its shape is a warning) and GX's page of it lists the value among the unexpected."""
    folder = tmp_path_factory.mktemp("planted")
    data = copy_sample(sample_dir, folder / "data")
    with (data / "Customers.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))
    lines[1][lines[0].index("Birthday")] = PLANTED
    with (data / "Customers.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(lines)
    scratch = Warehouse.from_env(
        environ={
            "ELT_TARGET": "duckdb",
            "ELT_DUCKDB_PATH": str(folder / "wh.duckdb"),
            "ELT_DATA_DOCS_DIR": str(folder / "data_docs"),
        }
    )
    loaded = load(scratch, data, sources=["customers"])
    assert len(publish_data_docs(scratch, loaded.load_id).entries) == 1
    return DataDocs.of(scratch)


def test_a_raw_value_on_the_data_docs_is_not_shown_without_authentication(
    planted_docs: DataDocs, built: BuiltApi, tmp_path: Path
) -> None:
    warehouse = Warehouse.from_env(environ={**os.environ, **built.env, "ELT_DATA_DOCS_DIR": str(tmp_path / "docs")})
    shutil.copytree(planted_docs.root, DataDocs.of(warehouse).root)
    settings = ApiConfig(api_key=API_KEY, warehouse=warehouse, dbt_target_path=built.target_path)
    (entry,) = read_entries(planted_docs)
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/gx-docs/{entry.page}", headers=KEY)
        assert page.status_code == 200 and PLANTED in page.text  # the plant took
        for url in ("/gx-docs/", f"/gx-docs/{entry.page}"):
            for headers in ({}, HTML, {"X-API-Key": "wrong"}):
                response = client.get(url, headers=headers, follow_redirects=False)
                assert response.status_code == (303 if headers == HTML else 401), (url, headers)
                assert PLANTED not in response.text
        for method, url in PUBLIC:
            assert PLANTED not in client.request(method, url).text, url


# ---------------------------------------------------------------------------------------- sessions


def test_a_session_works_in_every_worker_and_ends_with_the_key_or_its_lifetime(built: BuiltApi) -> None:
    settings = built.settings()
    one_app = create_app(settings)
    signing_key.cache_clear()  # as in another process: the signing key derived anew
    with TestClient(one_app) as one, TestClient(create_app(settings)) as other:
        login = one.post("/login", data={"key": API_KEY}, follow_redirects=False)
        assert login.status_code == 303
        cookie = one.cookies["elt_session"]
        # Another process with the same settings (another uvicorn worker, or after a restart) signs alike.
        assert other.get("/runs", headers=session(cookie)).status_code == 200
        tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
        assert other.get("/runs", headers=session(tampered)).status_code == 401
        # A session older than its lifetime is refused (signed with the server's own signer, 8 h + 1 s ago).
        stale = _signer_at(other, time.time() - SESSION_HOURS * 3600 - 1).sign("old").decode()
        assert other.get("/runs", headers=session(stale)).status_code == 401
        fresh = _signer_at(other, time.time()).sign("new").decode()
        assert other.get("/runs", headers=session(fresh)).status_code == 200
    rotated = ApiConfig(api_key=API_KEY + "-new", warehouse=built.warehouse, dbt_target_path=built.target_path)
    with TestClient(create_app(rotated)) as after_rotation:  # a new key ends every session of the old one
        assert after_rotation.get("/runs", headers=session(cookie)).status_code == 401


def session(cookie: str) -> dict[str, str]:
    """Headers sending `cookie` as the session cookie."""
    return {"Cookie": f"elt_session={cookie}"}


def _signer_at(client: TestClient, when: float) -> TimestampSigner:
    """The app's own cookie signer, with its clock set to `when` (Unix seconds)."""
    signer = client.app.state.sessions.signer

    class At(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(when)

    return At(signer.secret_keys[-1], salt=signer.salt, digest_method=signer.digest_method)


def test_a_login_over_https_sets_a_secure_cookie_and_a_big_form_is_refused(built: BuiltApi) -> None:
    with TestClient(create_app(built.settings()), base_url="https://testserver") as client:
        login = client.post("/login", data={"key": API_KEY}, follow_redirects=False)
        assert login.status_code == 303 and "; secure" in login.headers["set-cookie"].lower()
        big = client.post("/login", data={"key": "k" * 5000}, follow_redirects=False)
        assert big.status_code == 413 and "set-cookie" not in big.headers


def test_login_session_and_logout_over_real_http(built: BuiltApi) -> None:
    workers = "2" if built.warehouse.target == "postgres" else "1"  # sessions hold across workers
    with live_server(built, "--workers", workers) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        sent = http.get("/dbt-docs/", headers=HTML)
        assert sent.status_code == 303 and sent.headers["location"] == "/login?next=%2Fdbt-docs%2F"
        form = http.get(sent.headers["location"])
        assert form.status_code == 200 and form.headers["content-type"] == "text/html; charset=utf-8"
        assert '<form method="post" action="/login">' in form.text and 'name="next" value="/dbt-docs/"' in form.text
        assert "<script" not in form.text and "http" not in form.text  # nothing loaded from another server
        assert form.headers["cache-control"] == "no-store"

        wrong = http.post("/login", data={"key": "not-the-key", "next": "/dbt-docs/"})
        assert wrong.status_code == 401 and "wrong key" in wrong.text and "set-cookie" not in wrong.headers
        assert not http.cookies

        login = http.post("/login", data={"key": API_KEY, "next": "/dbt-docs/"})
        assert login.status_code == 303 and login.headers["location"] == "/dbt-docs/"
        attributes = {a.strip().split("=")[0].lower() for a in login.headers["set-cookie"].split(";")}
        assert attributes == {"elt_session", "httponly", "max-age", "path", "samesite"}  # no Secure over http
        assert f"Max-Age={SESSION_HOURS * 3600}" in login.headers["set-cookie"]
        assert "SameSite=lax" in login.headers["set-cookie"] and "Path=/" in login.headers["set-cookie"]

        # The cookie opens the docs site and the site's own fetches, on fresh connections (any worker).
        for url, file in (("/dbt-docs/", "index.html"), ("/dbt-docs/manifest.json", "manifest.json")):
            for _ in range(4):
                with httpx.Client(base_url=server.url, timeout=120, cookies=http.cookies) as fresh:
                    opened = fresh.get(url, headers={"Accept": "application/json, text/plain, */*"})
                    assert opened.status_code == 200 and opened.content == (built.target_path / file).read_bytes()
        assert http.get("/dbt-docs/catalog.json").status_code == 200
        assert http.get("/gx-docs/").status_code == 200
        assert http.get("/runs", params={"trigger": "cli"}).json()["total"] == 1  # an API route takes it too
        assert http.get("/runs", headers={"X-API-Key": "wrong"}).status_code == 401  # a wrong key is not overruled

        # Another site cannot log the browser out: a valid session ends only with its CSRF token.
        assert http.post("/logout").status_code == 403 and http.get("/runs").status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/ui/", headers=HTML).text).group(1)
        assert http.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        logout = http.post("/logout", data={"csrf_token": token})  # ends the session (a copy of its cookie lives on)
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert 'elt_session=""' in logout.headers["set-cookie"] and "Max-Age=0" in logout.headers["set-cookie"]
        assert not http.cookies
        assert http.get("/dbt-docs/manifest.json").status_code == 401
        assert http.get("/dbt-docs/", headers=HTML).status_code == 303

        for elsewhere in ("https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""):
            moved = http.post("/login", data={"key": API_KEY, "next": elsewhere})
            assert moved.status_code == 303 and moved.headers["location"] == "/ui/", elsewhere
        deep = "/gx-docs/validations/raw_sales/x.html?a=1"
        assert http.post("/login", data={"key": API_KEY, "next": deep}).headers["location"] == deep

        check_workers_add_up(server.url)  # /metrics, public, adds up the workers' counts (tests/api/test_metrics.py)
