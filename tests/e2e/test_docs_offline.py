"""/docs and /redoc render in a real Chromium that cannot reach the internet."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

# Everything but this machine goes to a proxy that does not exist: no internet at all.
OFFLINE_ARGS = [
    *CHROMIUM_ARGS,
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost",
]


@pytest.fixture(scope="module")
def offline_browser(playwright: object) -> Iterator[Browser]:
    from playwright.sync_api import Playwright

    assert isinstance(playwright, Playwright)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=OFFLINE_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def offline_page(offline_browser: Browser, base_url: str) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to anywhere but the server are refused, and recorded."""
    context = offline_browser.new_context(base_url=base_url)
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    try:
        yield context.new_page(), outside
    finally:
        context.close()


def test_swagger_ui_renders_the_operations_offline(
    offline_page: tuple[Page, list[str]],
) -> None:
    page, outside = offline_page
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/incidents" in path for path in paths)
    assert len(paths) > 20
    assert outside == []


def test_redoc_renders_the_operations_offline(offline_page: tuple[Page, list[str]]) -> None:
    page, outside = offline_page
    page.goto("/redoc")
    page.wait_for_selector("[data-section-id^='tag/']")
    assert page.get_by_text("/api/v1/incidents", exact=False).count() > 0
    assert outside == []
