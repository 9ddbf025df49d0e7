"""The OpenAPI docs in a real Chromium that may reach nothing but 127.0.0.1: Swagger UI (/docs) and ReDoc
(/redoc) draw every operation of /openapi.json from the server's own files (api/routes/api_docs.py), and no
request to another host is attempted."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from tests.api.live import LiveServer
from tests.conftest import PerTarget

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
A_ROUTE = "/runs/{run_id}"  # one operation the docs must show (GET, a run's result)
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def server(live_apis: PerTarget[LiveServer]) -> LiveServer:
    """The session's DuckDB `elt serve` (the docs are the same on either target)."""
    return live_apis.get("duckdb")


@pytest.fixture
def failed_responses(offline_page: Page) -> list[str]:
    """'<status> <url>' of every response of the page with a status of 400 or more."""
    failed: list[str] = []

    def record(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    offline_page.on("response", record)
    return failed


@pytest.fixture
def console_errors(offline_page: Page) -> list[str]:
    """The text of every error the page logged to the console (a Content-Security-Policy refusal is one)."""
    errors: list[str] = []
    offline_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    offline_page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def operations(page: Page, server: LiveServer) -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) of every operation in the server's /openapi.json, fetched by the browser."""
    schema = page.request.get(f"{server.url}/openapi.json").json()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_swagger_ui_lists_every_operation_offline(
    server: LiveServer,
    offline_page: Page,
    blocked_requests: list[str],
    failed_responses: list[str],
    screenshots: Path,
    console_errors: list[str],
) -> None:
    listed = operations(offline_page, server)
    assert ("GET", A_ROUTE) in {(method, path) for method, path, _ in listed}
    offline_page.goto(f"{server.url}/docs")
    run = offline_page.locator(f".opblock-get .opblock-summary-path[data-path='{A_ROUTE}']")
    expect(run).to_have_count(1)
    expect(run).to_be_visible()
    expect(offline_page.locator(".opblock")).to_have_count(len(listed))
    offline_page.screenshot(path=screenshots / "api-docs-swagger-ui.png")
    assert blocked_requests == []
    assert failed_responses == []
    assert console_errors == []


def test_redoc_lists_every_operation_offline(
    server: LiveServer,
    offline_page: Page,
    blocked_requests: list[str],
    failed_responses: list[str],
    screenshots: Path,
    console_errors: list[str],
) -> None:
    listed = operations(offline_page, server)
    offline_page.goto(f"{server.url}/redoc")
    for _, _, operation_id in listed:  # ReDoc gives each operation the id operation/<operationId>
        expect(offline_page.locator(f"[id='operation/{operation_id}']")).to_have_count(1)
    run_id = next(op for method, path, op in listed if (method, path) == ("GET", A_ROUTE))
    expect(offline_page.locator(f"[id='operation/{run_id}']")).to_contain_text(A_ROUTE)
    offline_page.screenshot(path=screenshots / "api-docs-redoc.png")
    assert blocked_requests == []
    assert failed_responses == []
    # The one thing refused: Redocly's logo in ReDoc's menu, from its CDN (the page's CSP stops it unasked).
    assert [error for error in console_errors if REDOCLY_LOGO not in error] == []
