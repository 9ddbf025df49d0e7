"""Fixtures of the browser tests: Debian's Chromium, headless, driven by Playwright (the Python package; no
browser is downloaded), pages that may reach nothing but this machine, a real `elt serve` per target, and
the folder the screenshots go to.

Every test in this folder carries the `browser` marker (`pytest -m browser` selects them). Without a
`chromium` binary they are skipped on a developer machine and fail under CI (CI=true or
ELT_REQUIRE_POSTGRES=1); `.ci/run` installs it with apt.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.api.conftest import API_KEY, BuiltApi
from tests.api.live import LiveServer, live_server
from tests.conftest import PerTarget, _postgres_required

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
NEVER_ROUTED = ("data:", "blob:", "about:")  # no network behind these
TIMEOUT_MS = 60_000  # Playwright's hang guard for each action and `expect` (waits end on the condition)
VIEWPORT = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every test under tests/browser with `browser`."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str | None:
    """The Chromium binary: `chromium` on PATH, else /usr/bin/chromium; None if there is neither."""
    found = shutil.which("chromium")
    if found:
        return found
    fallback = Path("/usr/bin/chromium")
    return str(fallback) if fallback.exists() else None


def chromium_args() -> list[str]:
    """Command-line switches for Chromium in a container: no sandbox as root (it refuses to start), /tmp
    instead of a small /dev/shm."""
    args = ["--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync driver, for the session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, for the session. Skipped without a `chromium` binary, failed in CI."""
    executable = chromium_path()
    if executable is None:
        message = "no chromium binary (apt-get install chromium; .ci/run does it)"
        if _postgres_required():
            pytest.fail(f"the browser tests are required in CI: {message}", pytrace=False)
        pytest.skip(message)
    chromium = playwright_driver.chromium.launch(executable_path=executable, headless=True, args=chromium_args())
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def blocked_requests() -> list[str]:
    """URLs the test's `offline_page` tried to reach on another host (each was aborted), in order."""
    return []


def local_only(blocked: list[str]):
    """A route handler: requests to 127.0.0.1 or localhost go on, any other is aborted and its URL appended
    to `blocked`."""

    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(NEVER_ROUTED) or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    return handle


@pytest.fixture
def offline_context(browser: Browser, blocked_requests: list[str]) -> Iterator[BrowserContext]:
    """A fresh browser context (own cookies, downloads allowed) whose network reaches only this machine:
    any request to another host is aborted and listed in `blocked_requests`."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.route("**/*", local_only(blocked_requests))
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def offline_page(offline_context: BrowserContext) -> Page:
    """A page of `offline_context`: it reaches 127.0.0.1 and localhost only (see `blocked_requests`)."""
    return offline_context.new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder test-artifacts/screenshots/ at the repository root (created; ignored by git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def serving(built: BuiltApi) -> Iterator[LiveServer]:
    """`elt serve` over `built`, stopped when resumed (a PerTarget builder)."""
    with live_server(built) as server:
        yield server


@pytest.fixture(scope="session")
def live_apis(
    built_apis: PerTarget[BuiltApi],
) -> Iterator[PerTarget[LiveServer]]:
    """Factory of running `elt serve` processes, one per target per session, each over the session's
    warehouse of that target (tests/conftest.py `built_apis`, shared with the API tests), keyed with
    tests.api.conftest.API_KEY."""
    with PerTarget(lambda target: serving(built_apis.get(target))) as servers:
        yield servers


@pytest.fixture
def live_api(target: str, live_apis: PerTarget[LiveServer]) -> LiveServer:
    """The session's `elt serve` of `target` (its `.url` is http://127.0.0.1:<port>)."""
    return live_apis.get(target)


def log_in(page: Page, server: LiveServer, next_path: str = "/", key: str = API_KEY) -> None:
    """Logs `page` in through the real /login form (the key typed into it, the form submitted), landing on
    `next_path`. Raises AssertionError if the server did not set the session cookie."""
    page.goto(f"{server.url}/login?next={quote(next_path, safe='/')}")
    page.locator("input[name=key]").fill(key)
    with page.expect_navigation():
        page.locator("form[action='/login'] [type=submit]").click()
    cookies = {cookie["name"] for cookie in page.context.cookies(server.url)}
    assert "elt_session" in cookies, f"no session cookie after logging in; now on {page.url}"
