"""Assignment in a real browser: a report lands in a workgroup by rule, is forwarded to a
shift, and a technician switches themself unavailable on the Teams page."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_web import DETAIL_URL, sign_in

pytestmark = pytest.mark.e2e


def test_rule_routes_a_report_and_staff_forward_it_to_the_shift_on_duty(page: Page) -> None:
    title = f"VPN keeps dropping {uuid.uuid4().hex[:6]}"
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    # The demo's network rule matched the keyword "vpn".
    expect(page.locator("main")).to_contain_text("Network operations")
    expect(page.locator("main")).to_contain_text("Network and VPN to network operations")

    page.locator("#actions summary", has_text="Forward").click()
    form = page.locator("#action-forward")
    form.get_by_label("To shift").select_option("service-desk/incident-manager")
    form.get_by_label("Why").fill("customer escalated")
    form.get_by_role("button", name="Forward").click()
    expect(page.locator("main")).to_contain_text(
        "Max Manager (on duty, Shift: service-desk / incident-manager)"
    )
    expect(page.locator("main")).to_contain_text("customer escalated")

    page.get_by_role("link", name="Teams", exact=True).click()
    expect(page.locator("#on-duty")).to_contain_text("Max Manager")
    page.get_by_role("button", name="Set me unavailable").click()
    expect(page.get_by_role("status")).to_contain_text("rules skip you")
    page.get_by_role("button", name="Set me available").click()
    expect(page.get_by_role("status")).to_contain_text("You are available")
