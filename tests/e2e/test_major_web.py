"""Major incidents in a real browser: declare from the incident page (the team is paged),
the war room's status buttons, timeline and children, the war-room list and the
"Major incidents" queue, and downgrading from the incident page; axe on each page.

With OPSDESK_SCREENSHOTS=1 these tests also refresh docs/screenshots/war-room.png (the
demo's war room, in fault delimitation) and major-downgrade.png (the downgrade form).
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

    # The demo's false alarm: declared, then downgraded; its closed war room says why.
    page.goto("/war-rooms?status=closed")
    false_alarm = page.locator("#war-room-list tr", has_text="VPN logins failing for the Lyon")
    false_alarm.get_by_role("link").first.click()
    expect(page.locator("#war-room-closed")).to_contain_text(
        "by a downgrade: the incident is no longer a major incident"
    )
    expect(page.locator("#war-room-closed")).to_contain_text("expired client certificate")

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


def test_downgrade_from_the_incident_page_closes_the_war_room(page: Page) -> None:
    sign_in(page, "manager@example.com", "demo-manager")
    title = f"Intranet search slow {uuid.uuid4().hex[:6]}"
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    incident_url = page.url
    page.get_by_label("Why is this a major incident?").fill("search looks down for everyone")
    page.get_by_role("button", name="Declare major incident").click()
    expect(page.get_by_role("status")).to_contain_text("Declared a major incident")
    section = page.locator("#major")
    room_number = section.locator("#war-room-link").inner_text().strip()

    # The form opens from the section; the reason is required.
    section.locator("#major-downgrade > summary").click()
    reason = page.get_by_label("Why is it no longer a major incident?")
    expect(reason).to_be_visible()
    expect(reason).to_have_attribute("required", "")
    reason.fill("only the slow search index, one team affected")
    assert_accessible(page)
    screenshot(page, "major-downgrade")
    page.get_by_role("button", name="Downgrade to an ordinary incident").click()

    expect(page).to_have_url(incident_url + "#major")
    expect(page.get_by_role("status")).to_contain_text(
        f"Downgraded to an ordinary incident. War room {room_number} closed."
    )
    expect(section).to_contain_text("only the slow search index, one team affected")
    expect(section.locator("#major-downgrade")).to_have_count(0)
    expect(page.locator("#incident-head")).not_to_contain_text("Major incident")
    expect(page.locator("#history")).to_contain_text(
        "Downgraded from major incident: only the slow search index, one team affected"
    )
    assert_accessible(page)

    # Its war room says a downgrade closed it.
    page.goto("/war-rooms?status=closed")
    page.locator("#war-room-list tr", has_text=title).get_by_role("link").first.click()
    expect(page.locator("#war-room-status")).to_have_text("WarRoom closed")
    expect(page.locator("#war-room-closed")).to_contain_text(
        "by a downgrade: the incident is no longer a major incident"
    )
    expect(page.locator("#war-room-timeline")).to_contain_text(
        "Downgraded from major incident: only the slow search index"
    )
    assert_accessible(page)
