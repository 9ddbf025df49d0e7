"""Postgres reads over real HTTP against a live `elt serve`: the API keeps its sessions (a request reuses one
instead of connecting anew), a report page read once is answered again without a page query, a build or
publish that replaces the report tables is seen by the very next read, and the run audit is never cached.
The report tables are built with an index on each one's key (the default sort) and with statistics.

Each test serves a private copy of the session's Postgres warehouse (a database made from it as a
template), so what a test locks or publishes there touches no other test. A lock taken by the test on a
report table makes any page query of the API wait: a request that is answered while the lock is held ran
none, and requests blocked by it hold their sessions, which shows how many the API opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg2
import pytest

from core.errors import CONNECTION_LOST
from core.warehouse import Warehouse
from orchestration.publish import prepare_build, publish
from orchestration.run_audit import RunRecord, start_run
from tests.api.conftest import KEY, BuiltApi
from tests.api.live import LiveServer, live_server
from tests.conftest import _drop_database, copy_database
from tests.reports_contract import AUDIT_VIEWS, REPORTS

pytestmark = pytest.mark.postgres

POOL_SIZE = 8  # api.config.ApiConfig.pool_size: requests holding a session at once
BENCH_SORT = {"customer_summary": ["revenue_usd DESC NULLS LAST, customer_key"]}  # bench/api.py's page, indexed too
WAIT_S = 240.0  # overall bound on waiting for an event (sessions blocked, a template free); never reached


@pytest.fixture
def private(built_apis, postgres_available: bool) -> Iterator[BuiltApi]:
    """A copy of the session's Postgres warehouse in a database of its own (dropped afterwards)."""
    if not postgres_available:
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    built = built_apis.get("postgres")
    name = f"elt_reads_{os.getpid()}_{secrets.token_hex(4)}"
    copy_database(built.env["PGDATABASE"], name)
    env = {**built.env, "PGDATABASE": name}
    try:
        yield BuiltApi(Warehouse.from_env(environ={**os.environ, **env}), built.target_path, env)
    finally:
        _drop_database(name)


@pytest.fixture
def server(private: BuiltApi) -> Iterator[LiveServer]:
    """`elt serve` over the private copy."""
    with live_server(private) as running:
        yield running


def test_the_api_keeps_its_sessions_reuses_them_and_replaces_ended_ones(private: BuiltApi, server: LiveServer) -> None:
    pages = [f"/reports/product_performance?page={page}&page_size=5" for page in range(1, POOL_SIZE + 1)]
    with httpx.Client(base_url=server.url, headers=KEY, timeout=WAIT_S) as http, ThreadPoolExecutor(50) as pool:
        with _locked(private, "reports.product_performance"):
            blocked = [pool.submit(http.get, page) for page in pages]  # each holds a session, waiting on the lock
            waiting = _wait_for(lambda: _api_sessions(private, waiting_on_lock=True), POOL_SIZE, "blocked requests")
        assert [f.result().status_code for f in blocked] == [200] * POOL_SIZE
        opened = _api_sessions(private)
        assert opened == waiting  # the 8 sessions stay open once their requests are answered

        urls = [f"/reports/customer_summary?page={page}&page_size=7&sort=-revenue_usd" for page in range(1, 51)]
        answers = list(pool.map(http.get, urls))
        assert [a.status_code for a in answers] == [200] * 50
        assert [a.json()["total"] for a in answers] == [_count(private, "reports.customer_summary")] * 50
        assert _api_sessions(private) == opened  # 50 more requests, not one new session

        # The server ends every session (as a restart does): none is handed out again, each is replaced.
        _end_api_sessions(private)
        answers = list(pool.map(http.get, urls[:POOL_SIZE]))
        assert [a.status_code for a in answers] == [200] * POOL_SIZE
        assert not (reopened := _api_sessions(private)) & opened

        # Sessions ended while their requests use them: those requests get 503, and the next ones sessions anew.
        with _locked(private, "reports.product_performance"):
            blocked = [pool.submit(http.get, f"{page}&sort=-units") for page in pages]
            _wait_for(lambda: _api_sessions(private, waiting_on_lock=True), POOL_SIZE, "blocked requests")
            _end_api_sessions(private)
        lost = [f.result() for f in blocked]
        assert [(r.status_code, r.json()["detail"].split(":")[0]) for r in lost] == [(503, CONNECTION_LOST)] * POOL_SIZE
        answers = list(pool.map(http.get, urls[:POOL_SIZE]))
        assert [a.status_code for a in answers] == [200] * POOL_SIZE
        assert not _api_sessions(private) & reopened


def test_a_page_read_once_is_answered_again_without_a_page_query(private: BuiltApi, server: LiveServer) -> None:
    page = "/reports/customer_summary?page=2&page_size=25&sort=-revenue_usd&filter=orders:gte:1"
    with httpx.Client(base_url=server.url, headers=KEY, timeout=WAIT_S) as http:
        first, listing = http.get(page), http.get("/reports")
        assert first.status_code == listing.status_code == 200
        with _locked(private, "reports.customer_summary"):  # any query of the table now waits for the lock
            again, listed = http.get(page), http.get("/reports")
        assert (again.status_code, again.json()) == (200, first.json())
        assert (listed.status_code, listed.json()) == (200, listing.json())
        rows = {r["name"]: r["rows"] for r in listed.json()["items"]}
        assert rows["customer_summary"] == _count(private, "reports.customer_summary")


def test_a_publish_or_a_replaced_table_is_seen_at_once_and_runs_are_never_cached(
    private: BuiltApi, server: LiveServer
) -> None:
    top = "/reports/customer_summary?page=1&page_size=1&sort=-revenue_usd"
    with httpx.Client(base_url=server.url, headers=KEY, timeout=WAIT_S) as http:

        def read(url: str) -> dict:
            response = http.get(url)
            assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
            return response.json()

        (before,) = read(top)["items"]
        customer, revenue = before["customer_key"], before["revenue_usd"]
        assert read(top)["items"] == [before]  # now cached

        # Write-audit-publish as a build does it: the reports copied into reports__build, changed there (as a
        # build would), then the build schema renamed over the published one in one transaction.
        manifest = json.loads((private.target_path / "manifest.json").read_text())
        reports_only = {
            "nodes": {k: v for k, v in manifest["nodes"].items() if (v.get("config") or {}).get("schema") == "reports"}
        }
        prepare_build(private.warehouse, reports_only, copy_all=True)
        _execute(
            private,
            "update reports__build.customer_summary set revenue_usd = revenue_usd + 1000 where customer_key = %s",
            (customer,),
        )
        publish(private.warehouse)
        assert read(top)["items"] == [{**before, "revenue_usd": pytest.approx(revenue + 1000, abs=0.005)}]

        # dbt run by hand replaces a table in place: a new table renamed over the old one.
        _execute(
            private,
            "create table reports.customer_summary__dbt_tmp as select * from reports.customer_summary;"
            " update reports.customer_summary__dbt_tmp set revenue_usd = revenue_usd + 1000 where customer_key = %s;"
            " alter table reports.customer_summary rename to customer_summary__dbt_backup;"
            " alter table reports.customer_summary__dbt_tmp rename to customer_summary;"
            " drop table reports.customer_summary__dbt_backup",
            (customer,),
        )
        assert read(top)["items"] == [{**before, "revenue_usd": pytest.approx(revenue + 2000, abs=0.005)}]

        # A run recorded in audit (in place: no report table changes) shows at once in /runs and in the
        # run summary report, a view over audit.runs.
        newest = "/reports/dag_execution_summary?sort=-started_at&page_size=1"
        runs, summary = read("/runs")["total"], read(newest)["total"]
        run = RunRecord(trigger="cli", command="build", target="postgres")
        start_run(private.warehouse, run)
        assert read("/runs")["total"] == runs + 1
        assert read(f"/runs/{run.run_id}")["status"] == "running"
        now = read(newest)
        assert (now["total"], now["items"][0]["run_id"]) == (summary + 1, run.run_id)


def test_each_report_table_has_an_index_on_its_key_and_fresh_statistics(built_apis, postgres_available: bool) -> None:
    if not postgres_available:
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    built = built_apis.get("postgres")
    conn = _connect(built)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select c.relname, c.reltuples::bigint, array_agg(pg_get_indexdef(i.indexrelid) order by 1)"
                " from pg_class c left join pg_index i on i.indrelid = c.oid"
                " where c.relnamespace = 'reports'::regnamespace and c.relkind = 'r' group by 1, 2"
            )
            found = {name: (tuples, indexes) for name, tuples, indexes in cur.fetchall()}
    finally:
        conn.close()
    assert set(found) == set(REPORTS) - set(AUDIT_VIEWS)
    for name, (tuples, indexes) in found.items():
        assert tuples == _count(built, f"reports.{name}"), name  # analysed when built: the exact row count
        keys = {re.sub(r".* USING btree \((.*)\)$", r"\1", index or "") for index in indexes}
        assert keys == {", ".join(REPORTS[name]), *BENCH_SORT.get(name, ())}, name


# ------------------------------------------------------------------------------------------------ helpers


def _connect(built: BuiltApi) -> Any:
    conn = psycopg2.connect(**built.warehouse.postgres.connect_kwargs(), application_name="elt-test")
    conn.autocommit = True
    return conn


def _execute(built: BuiltApi, statement: str, params: tuple = ()) -> None:
    conn = _connect(built)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)  # statements sent as one string run as one transaction
    finally:
        conn.close()


def _count(built: BuiltApi, relation: str) -> int:
    conn = _connect(built)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from {relation}")
            return cur.fetchone()[0]
    finally:
        conn.close()


@contextlib.contextmanager
def _locked(built: BuiltApi, table: str) -> Iterator[None]:
    """Hold an access exclusive lock on `table` for the block: every query reading it waits meanwhile."""
    conn = psycopg2.connect(**built.warehouse.postgres.connect_kwargs(), application_name="elt-test")
    try:
        with conn.cursor() as cur:
            cur.execute(f"lock table {table} in access exclusive mode")  # in a transaction, held until rollback
        yield
    finally:
        conn.rollback()
        conn.close()


def _api_sessions(built: BuiltApi, waiting_on_lock: bool = False) -> set[tuple[int, Any]]:
    """(pid, start time) of the API's sessions on the database (only those waiting for a lock, if asked)."""
    conn = _connect(built)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select pid, backend_start from pg_stat_activity where datname = current_database()"
                " and application_name = 'elt-api' and (not %s or wait_event_type = 'Lock')",
                (waiting_on_lock,),
            )
            return set(cur.fetchall())
    finally:
        conn.close()


def _end_api_sessions(built: BuiltApi) -> None:
    """End every session of the API on the database, as a server restart does, and wait until they are gone."""
    _execute(
        built,
        "select pg_terminate_backend(pid) from pg_stat_activity"
        " where datname = current_database() and application_name = 'elt-api'",
    )
    _wait_for(lambda: _api_sessions(built), 0, "ended sessions gone")


def _wait_for(found: Callable[[], set], size: int, what: str) -> set:
    """Poll `found()` until it holds `size` items (the event awaited), within WAIT_S seconds."""
    deadline = time.monotonic() + WAIT_S
    while len(items := found()) != size:
        assert time.monotonic() < deadline, f"{what}: {len(items)}, not {size}, after {WAIT_S} s"
        time.sleep(0.05)
    return items
