"""The knowledge base in a real browser: a technician finds an article and applies it to an
incident (the requester reads the workaround), drafts one from a solution; the end user reads
a help article on a 390 px phone and says it helped.

With OPSDESK_SCREENSHOTS=1 this test also refreshes docs/screenshots/knowledge.png.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_incident_portal import PHONE, assert_no_horizontal_overflow, report
from tests.e2e.test_web import sign_in
from tests.e2e.test_work_orders_web import screenshot

pytestmark = pytest.mark.e2e


def test_an_analyst_applies_an_article_and_the_requester_reads_it(
    page: Page, browser: Browser, base_url: str
) -> None:
    title = f"VPN authentication failed at home {uuid.uuid4().hex[:6]}"
    sign_in(page, "user@example.com", "demo-user")
    incident_url = report(page, title)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "tech@example.com", "demo-tech")
    page.get_by_role("link", name="Knowledge", exact=True).click()
    expect(page.get_by_role("heading", name="Knowledge", exact=True)).to_be_visible()
    page.locator("#knowledge-q").fill("vpn password")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#article-list")).to_contain_text("authentication failed")
    assert_accessible(page)
    page.locator("#knowledge-q").fill("")
    page.get_by_role("button", name="Filter").click()
    screenshot(page, "knowledge")
    page.get_by_role("link", name=re.compile("VPN says 'authentication failed'")).click()
    expect(page.locator("#article-status")).to_have_text("Published")
    expect(page.locator("#version-list")).to_contain_text("Version 1 (current)")
    assert_accessible(page)
    number = page.url.rsplit("/", 1)[-1]

    page.goto(incident_url)
    section = page.locator("#knowledge")
    section.get_by_label("Apply an article").select_option(value=number)
    section.get_by_role("button", name="Send its workaround").click()
    expect(page.get_by_role("status")).to_contain_text("applied")
    expect(page.locator("body")).to_contain_text("Forget saved credentials")
    assert_accessible(page)

    # The requester, on a phone, reads the reply and the help article.
    phone = browser.new_context(base_url=base_url, viewport=PHONE)
    try:
        mobile = phone.new_page()
        sign_in(mobile, "user@example.com", "demo-user")
        mobile.goto(incident_url)
        expect(mobile.locator("body")).to_contain_text("Forget saved credentials")
        expect(mobile.locator("body")).not_to_contain_text("Applied knowledge article")
        mobile.goto("/knowledge")
        expect(mobile.get_by_role("heading", name="Help articles")).to_be_visible()
        expect(mobile.locator("#article-list")).not_to_contain_text("transport rule")
        assert_no_horizontal_overflow(mobile)
        mobile.get_by_role("link", name=re.compile("Wi-Fi drops")).click()
        expect(mobile.get_by_role("heading", name="Did this help?")).to_be_visible()
        mobile.get_by_role("button", name="Yes, it helped").click()
        expect(mobile.locator("#my-vote")).to_contain_text("You answered: yes")
        assert_no_horizontal_overflow(mobile)
        assert_accessible(mobile)
    finally:
        phone.close()


def test_a_technician_drafts_an_article_from_a_solution(page: Page) -> None:
    sign_in(page, "tech@example.com", "demo-tech")
    url = report(page, f"Scanner on floor 1 jams {uuid.uuid4().hex[:6]}", "Paper jams on scan.")
    page.locator("#action-accept").get_by_role("button", name="Accept").click()
    page.locator("#actions summary", has_text="Resolve").click()
    form = page.locator("#action-resolve")
    form.get_by_label("Cause").fill("Worn feed roller")
    form.get_by_label("Solution").fill("Cleaned the feed roller; replace it if jams return")
    form.get_by_label("Category").select_option(label="Hardware issues")
    form.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    page.get_by_role("button", name="Create article from solution").click()
    expect(page.get_by_role("heading", name=re.compile("Edit article"))).to_be_visible()
    expect(page.get_by_label("Workaround")).to_have_value(
        "Cleaned the feed roller; replace it if jams return"
    )
    page.get_by_label("Keywords").fill("scanner, jam")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#article-status")).to_have_text("Draft")
    expect(page.locator("#source-incident")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#article-status")).to_have_text("In review")
    assert_accessible(page)
    page.goto(url)
    expect(page.locator("#kb-linked")).to_contain_text("Scanner on floor 1 jams")
