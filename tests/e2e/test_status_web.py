"""Stakeholder updates in a real browser: a manager posts an update from the demo's
incident page; an anonymous visitor sees it on /status, which fits a phone and passes axe.

With OPSDESK_SCREENSHOTS=1 this test also refreshes docs/screenshots/status-page.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_web import EVERY_INCIDENT, sign_in

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEMO_INTERNAL_TITLE = "pay-gw-2 returns 500 on card auth after 14:02 deploy"


def test_post_an_update_from_the_incident_page_and_read_it_on_status(
    page: Page, browser: Browser, base_url: str
) -> None:
    message = "The rollback is complete; card payments are going through again. We are watching."
    sign_in(page, "manager@example.com", "demo-manager")
    page.goto(EVERY_INCIDENT)
    page.locator("tr", has_text=DEMO_INTERNAL_TITLE).get_by_role("link").first.click()
    section = page.locator("#stakeholder-updates")
    expect(section).to_contain_text("Card payments failing on the website")
    expect(section.locator("#status-update-list li")).to_have_count(2)
    section.locator("#status-update-form summary").click()
    # The demo's last update was "identified": the composer suggests monitoring, with the
    # template's text to start from.
    expect(page.locator("#status-update-state")).to_have_value("monitoring")
    expect(page.locator("#status-update-message")).to_have_value(
        "A fix has been implemented and we are monitoring the results."
    )
    # Another state, another starting text (the text was not edited yet).
    page.locator("#status-update-state").select_option("resolved")
    expect(page.locator("#status-update-message")).to_have_value("This incident has been resolved.")
    page.locator("#status-update-state").select_option("monitoring")
    page.locator("#status-update-message").fill(message)
    section.get_by_label("Service owners (internal)").check()
    section.get_by_role("button", name="Post update").click()
    expect(page.get_by_role("status")).to_contain_text("Status update posted: monitoring")
    expect(page.locator("#status-update-list li").first).to_contain_text(message)
    assert_accessible(page)

    visitor = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        public = visitor.new_page()
        public.goto("/status")
        expect(public.get_by_role("heading", name="Current incidents")).to_be_visible()
        first = public.locator("#status-open .status-incident").first
        expect(first).to_contain_text("Card payments failing on the website")
        expect(first.locator(".status-updates li").first).to_contain_text(message)
        expect(public.locator("#status-past")).to_contain_text("Slow sign-in")
        expect(public.locator("head link[rel=alternate]")).to_have_attribute(
            "href", "/status/feed.atom"
        )
        body = public.content()
        assert DEMO_INTERNAL_TITLE not in body and "Max Manager" not in body
        assert_accessible(public)
        if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            public.screenshot(path=str(SCREENSHOTS / "status-page.png"), full_page=True)
        # A phone: nothing wider than the screen.
        public.set_viewport_size({"width": 390, "height": 800})
        width = public.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
    finally:
        visitor.close()
