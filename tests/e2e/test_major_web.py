"""Major incidents in a real browser: declare from the incident page (the team is paged),
the war room's status buttons, timeline and children, the war-room list and the
"Major incidents" queue; axe on each page.

With OPSDESK_SCREENSHOTS=1 this test also refreshes docs/screenshots/war-room.png (the
demo's war room, in fault delimitation).
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_web import sign_in
from tests.e2e.test_work_orders_web import DETAIL_URL, screenshot

pytestmark = pytest.mark.e2e


def test_declare_work_the_war_room_and_find_it_in_the_queue(page: Page) -> None:
    # The demo's war room: fault delimitation, its timeline, team and children.
    sign_in(page, "manager@example.com", "demo-manager")
    page.goto("/war-rooms")
    expect(page.get_by_role("heading", name="War rooms")).to_be_visible()
    demo = page.locator("#war-room-list tr", has_text="Checkout API returns HTTP 500")
    expect(demo).to_contain_text("Fault delimitation")
    assert_accessible(page)
    demo.get_by_role("link").first.click()
    expect(page.locator("#war-room-status")).to_have_text("Fault delimitation")
    expect(page.locator("#war-room-timeline")).to_contain_text("Failing over to the secondary")
    expect(page.locator("#war-room-team")).to_contain_text("Max Manager — Incident manager")
    expect(page.locator("#war-room-children")).to_contain_text("Cannot pay in the web shop")
    assert_accessible(page)
    screenshot(page, "war-room")

    # The "Major incidents" queue holds it.
    page.goto("/queue?queue=major")
    expect(page.locator("main")).to_contain_text("Checkout API returns HTTP 500")

    # Declare a new one by hand from the incident page.
    title = f"Website down for all visitors {uuid.uuid4().hex[:6]}"
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    page.get_by_label("Why is this a major incident?").fill("external website is down")
    page.get_by_role("button", name="Declare major incident").click()
    expect(page.get_by_role("status")).to_contain_text("Declared a major incident")
    section = page.locator("#major")
    expect(section.locator("#major-manager")).to_have_text("Max Manager")
    expect(section.locator("#major-team")).to_contain_text("Incident manager")
    expect(page.locator("#history")).to_contain_text("Declared major incident (by hand)")
    assert_accessible(page)

    # Its war room: post an update, move to fault delimitation, then recovered.
    section.locator("#war-room-link").click()
    expect(page.locator("#war-room-status")).to_have_text("WarRoom started")
    page.get_by_label("Post an update").fill("Web ops engaged; load balancer health checks red")
    page.get_by_role("button", name="Post update").click()
    expect(page.locator("#war-room-timeline")).to_contain_text("load balancer health checks")
    page.get_by_label("Note (optional)").fill("Only the EU region is affected")
    page.locator("#move-fault_delimitation").click()
    expect(page.locator("#war-room-status")).to_have_text("Fault delimitation")
    page.locator("#move-recovered").click()
    expect(page.locator("#war-room-status")).to_have_text("Fault recovered")
    expect(page.locator("#war-room-timeline")).to_contain_text(
        re.compile("Fault delimitation → Fault recovered")
    )
    assert_accessible(page)
