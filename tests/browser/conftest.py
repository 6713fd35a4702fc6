"""Browser tests: Debian's Chromium driven by Playwright against the gateway as a real server.

Each test module gets one fresh database per backend and one server on it; each test gets a
fresh browser context with a phone-sized viewport. A missing Chromium fails the tests (it
never skips them): run ``scripts/install-browser``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from tests.browser.gateway import Gateway
from tests.browser.server import start_server
from tests.conftest import selected_backends
from tests.support.api import make_portal, uow_for
from tests.support.databases import PostgresTemplate, SqliteTemplate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One server per module and backend, so the backend is a module-scoped parameter.
    if "browser_backend" in metafunc.fixturenames:
        backends = selected_backends(metafunc.config)
        metafunc.parametrize("browser_backend", backends, scope="module")


@pytest.fixture(scope="module")
async def live_database_url(
    browser_backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    template: PostgresTemplate | SqliteTemplate | None = request.getfixturevalue(
        "postgres_template" if browser_backend == "postgresql" else "sqlite_template"
    )
    assert template is not None
    url = await template.clone()
    yield url
    await template.drop_clone(url)


@pytest.fixture(scope="module")
def live_server_url(live_database_url: str) -> Iterator[str]:
    server = start_server(live_database_url)
    yield server.base_url
    server.stop()


@pytest.fixture(scope="module")
async def gateway(live_server_url: str, live_database_url: str) -> Gateway:
    uow = uow_for(live_database_url)
    try:
        # The portal's page is on the server's own port: the allow-list names host and port.
        portal = await make_portal(
            uow, datetime.now(UTC), hosts=(urlsplit(live_server_url).netloc,)
        )
    finally:
        await uow.engine.dispose()
    return Gateway(live_server_url, live_database_url, portal)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser (needs root)")
    async with async_playwright() as playwright:
        # Never Playwright's own browser download (it does not work here): Debian's build.
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=PHONE, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    yield opened
    await context.close()
