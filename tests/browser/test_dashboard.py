"""The dashboard (/ui/) in a real browser: Debian's Chromium driven by Playwright, against a real `elt serve`
over the session's warehouse of each target (tests/browser/conftest.py), with the network cut off from
everything but this machine.

The data pages (overview, run, reports, data quality) run on both targets; the figures they show are pinned
to the generator's expected.json or compared with what the REST API answers for the same question. Starting a
build runs once, on DuckDB, on a copy of the session's warehouse (a build takes about 40 s, and the other tests
must keep reading what they expect). Every page is written to test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from core.warehouse import Warehouse
from tests.api.conftest import API_KEY, BuiltApi
from tests.api.live import LiveServer, live_server
from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, log_in
from tests.conftest import PerTarget
from tests.reports_contract import REPORTS

KEY = {"X-API-Key": API_KEY}
LOG_TAIL = 200  # lines of the log the run page shows (api.ui.runs.LOG_TAIL)
BUILD_TIMEOUT_MS = 600_000  # hang guard for a whole `elt build` (about 40 s)
AIRFLOW_URL = "http://127.0.0.1:9/airflow"  # ELT_AIRFLOW_URL of the build test's server: only linked, never opened

# `expect` waits for its condition; this is only its hang guard (Playwright's default, 5 s, is short on a busy machine).
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def api(live_api: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of the same server with the API key: what the REST API answers."""
    with httpx.Client(base_url=live_api.url, headers=KEY, timeout=120) as client:
        yield client


@pytest.fixture
def console_errors(offline_page: Page) -> list[str]:
    """Errors the page's console reports (a CSP violation, a missing file, a script error)."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    offline_page.on("console", record)
    return errors


def table(page: Page, selector: str) -> list[list[str]]:
    """The text of every cell of the table's body, row by row."""
    return page.locator(f"{selector} tbody tr").evaluate_all(
        "rows => rows.map(row => Array.from(row.cells, cell => cell.textContent.trim()))"
    )


def page_width(page: Page) -> int:
    """How wide the page's content is, in CSS pixels (more than the viewport when something runs off it)."""
    return page.evaluate("document.documentElement.scrollWidth")


def csv_of(page: Page, server: LiveServer) -> list[list[str]]:
    """The rows (header first) of the CSV the page's download link (`#csv`) gives, fetched with the page's
    session cookie."""
    answer = page.request.get(f"{server.url}{page.locator('#csv').get_attribute('href')}")
    assert answer.status == 200, answer.text()
    return list(csv.reader(io.StringIO(answer.text(), newline="")))


def column(rows: list[list[str]], header: list[str], name: str) -> list[str]:
    """The cells of column `name` of `rows`."""
    return [row[header.index(name)] for row in rows]


def same_value(shown: str, other: object) -> bool:
    """True if a cell's text shows `other` (a CSV field or a JSON value): numbers compared as numbers (the API
    sends a decimal as a float, the CSV writes it as it is), anything else as text (None as empty)."""
    text = "" if other is None else str(other)
    try:
        return math.isclose(float(shown), float(text), rel_tol=1e-12)
    except ValueError:
        return shown == text


def same_rows(shown: list[list[str]], others: list[list[object]]) -> bool:
    """True if the table's rows show exactly the other rows."""
    return len(shown) == len(others) and all(
        len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(shown, others, strict=True)
    )


def test_the_overview_after_logging_in_shows_the_last_run_then_logging_out_locks_it(
    target: str,
    live_api: LiveServer,
    api: httpx.Client,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
    expected: dict,
) -> None:
    page = offline_page
    page.goto(f"{live_api.url}/")  # the front page is the dashboard, which wants a login first
    expect(page).to_have_url(f"{live_api.url}/login?next=%2Fui%2F")
    page.locator("input[name=key]").fill(API_KEY)
    with page.expect_navigation():
        page.locator("form[action='/login'] [type=submit]").click()
    expect(page).to_have_url(f"{live_api.url}/ui/")
    opened = page.goto(f"{live_api.url}/ui/")
    assert opened is not None and opened.status == 200
    policy = opened.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert opened.headers["cache-control"] == "no-store"

    runs = api.get("/runs").json()
    last = runs["items"][0]
    first_row = page.locator("#runs tbody tr").first
    expect(first_row).to_have_attribute("data-run-id", last["run_id"])
    expect(first_row.locator("td").nth(1)).to_have_text("success")
    expect(first_row.locator("td").nth(2)).to_have_text("cli")
    loaded = sum(f["rows"] for f in expected["files"].values())
    expect(first_row.locator("td").nth(6)).to_have_text(f"{loaded:,}")
    # One point per run in the charts over time.
    expect(page.locator("#chart-run-seconds circle.mark")).to_have_count(runs["total"])
    expect(page.locator("#chart-rows-loaded circle.mark")).to_have_count(runs["total"])
    expect(page.locator(f"#chart-rows-loaded circle.mark[data-key='{last['run_id']}']")).to_have_attribute(
        "data-value", str(float(loaded))
    )

    expect(page.locator("#tests-passed")).to_have_text(f"{last['tests_passed']:,}")
    expect(page.locator("#tests-failed")).to_have_text("0")

    scorecard = {row[0]: row for row in table(page, "#scorecard")}
    assert set(scorecard) == set(expected["sources"])
    for source, figures in expected["sources"].items():
        raw, clean, duplicates, rejected = scorecard[source][2:6]
        assert (raw, clean, duplicates) == tuple(
            f"{figures[k]:,}" for k in ("raw_rows", "clean_rows", "exact_duplicates")
        )
        assert rejected == f"{sum(figures.get('rejected', {}).values()):,}", source
    freshness = table(page, "#freshness")
    assert len(freshness) == api.get("/sources").json()["total"]
    assert {row[1] for row in freshness if row[0].startswith("raw.")} == {"pass"}

    expect(page.locator("a[href='/dbt-docs/']").first).to_be_visible()
    expect(page.locator("a[href='/gx-docs/']").first).to_be_visible()
    expect(page.get_by_role("link", name="Airflow")).to_have_count(0)  # ELT_AIRFLOW_URL is not set here
    assert page_width(page) <= VIEWPORT["width"], "the overview runs off a 1280 px window"
    page.screenshot(path=screenshots / f"overview-{target}.png", full_page=True)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_api.url}/login")
    page.goto(f"{live_api.url}/ui/")
    expect(page).to_have_url(f"{live_api.url}/login?next=%2Fui%2F")
    assert blocked_requests == [] and console_errors == []


def test_a_run_page_shows_every_node_and_the_log(
    target: str,
    live_api: LiveServer,
    api: httpx.Client,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
) -> None:
    page = offline_page
    log_in(page, live_api, "/ui/")
    run = api.get("/runs", params={"trigger": "cli"}).json()["items"][0]
    page.locator(f"#runs a[href='/ui/runs/{run['run_id']}']").click()
    expect(page).to_have_url(f"{live_api.url}/ui/runs/{run['run_id']}")
    expect(page.locator("#run-status")).to_have_text("success")

    nodes = api.get(f"/runs/{run['run_id']}/nodes", params={"page_size": 500}).json()
    assert nodes["total"] == len(nodes["items"])
    rows = table(page, "#nodes")
    assert [(r[0], r[1], r[2]) for r in rows] == [(n["name"], n["resource_type"], n["status"]) for n in nodes["items"]]
    timed = [n for n in nodes["items"] if n["started_at"] and n["completed_at"]]
    expect(page.locator("#chart-nodes rect.mark")).to_have_count(len(timed))
    expect(page.locator("#chart-steps rect.mark")).to_have_count(
        len(api.get(f"/runs/{run['run_id']}").json()["seconds_per_step"])
    )
    expect(page.locator("#failure")).to_have_count(0)  # nothing failed

    log = api.get(f"/runs/{run['run_id']}/log")
    assert log.status_code == 200
    lines = log.text.splitlines()
    assert lines, "the run has a log"
    shown = page.locator("#log").text_content().splitlines()
    assert shown == lines[-LOG_TAIL:]
    full = page.locator("#full-log")
    assert full.get_attribute("href") == f"/runs/{run['run_id']}/log"
    whole = page.request.get(f"{live_api.url}/runs/{run['run_id']}/log")  # the session cookie opens it
    assert whole.status == 200 and whole.text() == log.text
    page.screenshot(path=screenshots / f"run-{target}.png", full_page=True)
    assert blocked_requests == [] and console_errors == []


def test_a_report_sorts_pages_filters_and_downloads_the_rows_it_shows(
    target: str,
    live_api: LiveServer,
    api: httpx.Client,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
    expected: dict,
    tmp_path: Path,
) -> None:
    page = offline_page
    log_in(page, live_api, "/ui/reports")
    listed = table(page, "#reports")
    assert [row[0] for row in listed] == list(REPORTS)
    page.get_by_role("link", name="customer_summary", exact=True).click()
    expect(page.locator("#total-rows")).to_have_text(f"{expected['customers']['distinct_keys']:,}")
    header = page.locator("#report-table thead th")
    columns = [c.strip().rstrip("▲▼").strip() for c in header.all_text_contents()]

    revenue = page.locator("#report-table th[data-column='revenue_usd']")
    revenue.get_by_role("link").click()
    expect(revenue).to_have_attribute("aria-sort", "ascending")
    revenue.get_by_role("link").click()
    expect(revenue).to_have_attribute("aria-sort", "descending")
    params = {"sort": "-revenue_usd", "page_size": 50}
    first = api.get("/reports/customer_summary", params={**params, "page": 1}).json()
    assert same_rows(table(page, "#report-table"), [[item[c] for c in columns] for item in first["items"]])

    page.locator("#pager a[rel=next]").click()
    expect(page.locator("#first-row")).to_have_text("51")
    second = api.get("/reports/customer_summary", params={**params, "page": 2}).json()
    assert same_rows(table(page, "#report-table"), [[item[c] for c in columns] for item in second["items"]])

    page.locator("#fcol").select_option("country")
    page.locator("#fop").select_option("eq")
    page.locator("#fval").fill("Germany")
    page.get_by_role("button", name="Add").click()
    germany = expected["customers"]["by_country"]["Germany"]
    expect(page.locator("#total-rows")).to_have_text(f"{germany:,}")
    expect(page.locator("#first-row")).to_have_text("1")
    expect(revenue).to_have_attribute("aria-sort", "descending")  # the sort is kept
    page.screenshot(path=screenshots / f"report-customer_summary-{target}.png", full_page=True)

    with page.expect_download() as download:
        page.locator("#csv").click()
    saved = tmp_path / "customer_summary.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8", newline="") as f:
        header_row, *csv_rows = list(csv.reader(f))
    assert header_row == columns
    assert len(csv_rows) == germany
    shown = table(page, "#report-table")
    assert shown == csv_rows[:50]  # the table's page is the CSV's first rows, cell for cell as text
    for decimal in ("revenue_usd", "avg_order_value_usd"):  # at the column's scale: 2109.60, not 2109.6
        assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", cell) for cell in column(shown, columns, decimal)), decimal
    assert {row[columns.index("country")] for row in csv_rows} == {"Germany"}

    assert blocked_requests == [] and console_errors == []

    page.locator("#fcol").select_option("revenue_usd")  # a filter no row matches: said so, no empty table
    page.locator("#fop").select_option("lt")
    page.locator("#fval").fill("0")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#no-rows")).to_have_text("No rows match the filters")
    expect(page.locator("#total-rows")).to_have_text("0")
    expect(page.locator("#report-table")).to_have_count(0)
    expect(page.locator("#csv")).to_have_count(0)

    refused = page.goto(f"{live_api.url}/ui/reports/customer_summary?filter=orders:gt:many")  # as the API refuses it
    assert refused is not None and refused.status == 422
    expect(page.locator("#report-problem")).to_contain_text("orders")


def test_a_report_table_shows_each_value_as_the_csv_writes_it_and_a_page_past_the_end_links_to_the_last(
    target: str,
    live_api: LiveServer,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    expected: dict,
) -> None:
    page = offline_page
    orders, size = expected["sales"]["orders"], 500
    pages = math.ceil(orders / size)
    log_in(page, live_api, "/ui/reports")
    beyond = page.goto(f"{live_api.url}/ui/reports/order_status?page=99999&page_size={size}")
    assert beyond is not None and beyond.status == 200
    expect(page.locator("#no-rows")).to_have_text("No rows on page 99,999")  # as the API: 200, no rows
    expect(page.locator("#total-rows")).to_have_text(f"{orders:,}")
    expect(page.locator("#report-table")).to_have_count(0)
    expect(page.locator("#pager a[rel=prev]")).to_have_count(0)
    expect(page.locator("#pager a[rel=next]")).to_have_count(0)

    page.locator("#pager a[rel=last]").click()
    expect(page).to_have_url(f"{live_api.url}/ui/reports/order_status?page={pages}&page_size={size}")
    expect(page.locator("#first-row")).to_have_text(f"{(pages - 1) * size + 1:,}")
    expect(page.locator("#last-row")).to_have_text(f"{orders:,}")
    header_row, *csv_rows = csv_of(page, live_api)
    assert len(csv_rows) == orders
    assert sum(Decimal(v) for v in column(csv_rows, header_row, "revenue_usd")) == Decimal(
        expected["sales"]["revenue_usd"]
    )
    shown = table(page, "#report-table")
    assert shown == csv_rows[(pages - 1) * size :]  # every cell: decimals, integers, dates, text
    assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", cell) for cell in column(shown, header_row, "revenue_usd"))

    page.goto(f"{live_api.url}/ui/reports/data_quality_scorecard")  # decimals at scale 4 and 1, and timestamps
    header_row, *csv_rows = csv_of(page, live_api)
    shown = table(page, "#report-table")
    assert shown == csv_rows
    rates = dict(zip(column(shown, header_row, "source"), column(shown, header_row, "duplicate_rate"), strict=True))
    for source, figures in expected["sources"].items():
        rate = Decimal(figures["exact_duplicates"]) / Decimal(figures["raw_rows"])
        assert rates[source] == str(rate.quantize(Decimal("0.0001"), ROUND_HALF_UP)), source  # 0.0000, not 0.0
    assert page_width(page) <= VIEWPORT["width"]  # the wide table scrolls in its box
    assert blocked_requests == [] and console_errors == []


def test_the_report_charts_draw_every_point_the_warehouse_holds(
    target: str,
    live_api: LiveServer,
    api: httpx.Client,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
    expected: dict,
) -> None:
    page = offline_page
    log_in(page, live_api, "/ui/reports/sales_trends_daily")
    days = expected["exchange_rates"]["days"]  # 731 on generated data: every day of the two years
    bars = page.locator("#chart-daily-revenue rect.mark")
    expect(bars).to_have_count(days)
    expect(page.locator("#chart-daily-revenue polyline.line")).to_have_attribute("data-points", str(days))
    keys = bars.evaluate_all("marks => marks.map(m => m.dataset.key)")
    assert (keys[0], keys[-1]) == (expected["exchange_rates"]["first_date"], expected["exchange_rates"]["last_date"])
    total = sum(float(v) for v in bars.evaluate_all("marks => marks.map(m => m.dataset.value)"))
    assert total == pytest.approx(float(expected["sales"]["revenue_usd"]), abs=0.005)  # to the cent
    expect(page.locator("#total-rows")).to_have_text(f"{days:,}")
    page.screenshot(path=screenshots / f"report-sales_trends_daily-{target}.png")  # the chart and the first rows

    page.goto(f"{live_api.url}/ui/reports/customer_segmentation")
    segments = page.locator("#chart-segments rect.mark")
    sizes = dict(
        zip(
            segments.evaluate_all("m => m.map(x => x.dataset.key)"),
            segments.evaluate_all("m => m.map(x => x.dataset.value)"),
            strict=True,
        )
    )
    assert sum(float(n) for n in sizes.values()) == expected["sales"]["buying_customers"]
    for segment, size in sizes.items():
        same = api.get("/reports/customer_segmentation", params={"filter": f"segment:eq:{segment}", "page_size": 1})
        assert same.json()["total"] == float(size), segment
    page.screenshot(path=screenshots / f"report-customer_segmentation-{target}.png", full_page=True)

    page.goto(f"{live_api.url}/ui/reports/product_performance")
    top = api.get("/reports/product_performance", params={"sort": "-revenue_usd,product_key", "page_size": 15}).json()
    products = page.locator("#chart-top-products rect.mark")
    assert products.evaluate_all("m => m.map(x => x.dataset.key)") == [str(p["product_key"]) for p in top["items"]]
    page.screenshot(path=screenshots / f"report-product_performance-{target}.png", full_page=True)

    page.goto(f"{live_api.url}/ui/reports/store_performance")
    expect(page.locator("#chart-revenue-per-m2 rect.mark")).to_have_count(expected["stores"]["rows"] - 1)  # not online
    page.screenshot(path=screenshots / f"report-store_performance-{target}.png", full_page=True)

    page.goto(f"{live_api.url}/ui/reports/anomaly_detection")
    spots = page.locator("#chart-anomalies circle.mark")
    assert spots.evaluate_all("m => m.map(x => x.dataset.key)") == expected["anomalies"]["days"]
    expect(page.locator("#chart-anomalies polyline.line")).to_have_attribute("data-points", str(days))
    page.screenshot(path=screenshots / f"report-anomaly_detection-{target}.png", full_page=True)
    assert blocked_requests == [] and console_errors == []


def test_rejected_records_are_browsable_by_source_and_reason_with_the_raw_record(
    target: str,
    live_api: LiveServer,
    api: httpx.Client,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
    expected: dict,
) -> None:
    page = offline_page
    log_in(page, live_api, "/ui/quality")
    rejected = {
        (source, reason): n
        for source, figures in expected["sources"].items()
        for reason, n in figures.get("rejected", {}).items()
        if n
    }
    assert [tuple(row) for row in table(page, "#by-reason")] == [
        (s, r, f"{n:,}") for (s, r), n in sorted(rejected.items())
    ]
    expect(page.locator("#total-rows")).to_have_text(f"{sum(rejected.values()):,}")

    page.locator("#source").select_option("customers")
    page.locator("#reason").select_option("superseded_duplicate")
    page.get_by_role("button", name="Show").click()
    count = expected["sources"]["customers"]["rejected"]["superseded_duplicate"]
    expect(page.locator("#total-rows")).to_have_text(f"{count:,}")
    records = page.locator("#rejected tbody tr")
    expect(records).to_have_count(min(count, 50))
    answer = api.get("/rejected", params={"source": "customers", "reason": "superseded_duplicate"}).json()
    first = answer["items"][0]
    expect(records.first.locator("td").nth(1)).to_have_text(str(first["source_row"]))
    raw_fields = records.first.locator("dl.record dt").all_text_contents()
    assert raw_fields[0] == "customer_key" and len(raw_fields) == 12  # the file's twelve columns, as read
    assert page_width(page) <= VIEWPORT["width"]
    page.screenshot(path=screenshots / f"quality-{target}.png", full_page=True)

    beyond = page.goto(f"{live_api.url}/ui/quality?page=99999")  # as GET /rejected: 200, no records
    assert beyond is not None and beyond.status == 200
    expect(page.locator("#no-rows")).to_have_text("No records on page 99,999")
    expect(page.locator("#rejected")).to_have_count(0)
    expect(page.locator("#pager a[rel=prev]")).to_have_count(0)
    pages = math.ceil(sum(rejected.values()) / 50)
    page.locator("#pager a[rel=last]").click()
    expect(page).to_have_url(f"{live_api.url}/ui/quality?page={pages}&page_size=50")
    expect(page.locator("#rejected tbody tr")).to_have_count(sum(rejected.values()) - (pages - 1) * 50)
    assert blocked_requests == [] and console_errors == []


# ------------------------------------------------------------------------------------------ a build


@pytest.fixture
def own_warehouse(built_apis: PerTarget[BuiltApi], tmp_path: Path) -> BuiltApi:
    """A copy of the session's DuckDB warehouse and its dbt artifacts, for a build no other test sees. The
    file is only read by the session's servers (no writer), so a copy is whole."""
    built = built_apis.get("duckdb")
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy2(built.warehouse.duckdb_path, folder / "warehouse.duckdb")
    shutil.copytree(built.target_path, folder / "target" / "duckdb")
    env = {
        **built.env,
        "ELT_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "ELT_DBT_TARGET_ROOT": str(folder / "target"),
        "ELT_DATA_DOCS_DIR": str(folder / "data_docs"),
    }
    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    return BuiltApi(warehouse, folder / "target" / "duckdb", env)


def test_a_build_started_from_the_dashboard_is_watched_until_it_succeeds(
    own_warehouse: BuiltApi,
    offline_page: Page,
    blocked_requests: list[str],
    console_errors: list[str],
    screenshots: Path,
) -> None:
    page = offline_page
    with (
        live_server(own_warehouse, env={"ELT_AIRFLOW_URL": AIRFLOW_URL}) as server,
        httpx.Client(base_url=server.url, headers=KEY, timeout=120) as api,
    ):
        log_in(page, server, "/ui/")
        navigation = page.get_by_role("navigation", name="dashboard")
        expect(navigation.get_by_role("link", name="Airflow")).to_have_attribute("href", AIRFLOW_URL)
        page.get_by_role("link", name="Start a build").click()
        expect(page).to_have_url(f"{server.url}/ui/runs/new")
        page.screenshot(path=screenshots / "trigger-duckdb.png", full_page=True)

        # Without this session's CSRF token the form is refused, and no build starts.
        forms = ({"select": "stg_stores"}, {"select": "stg_stores", "csrf_token": "forged"})
        for form in forms:
            refused = page.request.post(f"{server.url}/ui/runs/new", form=form, max_redirects=0)
            assert refused.status == 403, refused.text()
        assert api.get("/runs", params={"trigger": "api"}).json()["total"] == 0

        page.get_by_role("button", name="Start the build").click()
        page.wait_for_url(f"{server.url}/ui/runs/*")
        run_id = page.url.rsplit("/", 1)[1]
        status = page.locator("#run-status")
        expect(status).to_have_attribute("data-poll", f"/runs/{run_id}")

        # A second build while this one runs: 409, shown on the form.
        other = page.context.new_page()
        other.goto(f"{server.url}/ui/runs/new")
        with other.expect_response(lambda r: r.request.method == "POST") as second:
            other.get_by_role("button", name="Start the build").click()
        # Still running after the second POST means it was running during it: then the answer must be a 409.
        if api.get(f"/runs/{run_id}").json()["status"] == "running":
            assert second.value.status == 409
            expect(other.locator("#trigger-problem")).to_contain_text(run_id)
        other.close()

        expect(status).to_have_text("success", timeout=BUILD_TIMEOUT_MS)  # polled, then the page reloads
        expect(page.locator("#nodes")).to_be_visible()
        run = api.get(f"/runs/{run_id}").json()
        assert (run["status"], run["trigger"], run["command"]) == ("success", "api", "build")
        nodes = api.get(f"/runs/{run_id}/nodes", params={"page_size": 500}).json()["total"]
        expect(page.locator("#nodes tbody tr")).to_have_count(nodes)
        page.screenshot(path=screenshots / "run-after-build-duckdb.png", full_page=True)
    assert blocked_requests == [] and console_errors == []
