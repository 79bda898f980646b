"""Tasks and work orders in a real browser: add a work order to an incident, try to resolve
(warning, explicit override), resolve with the override recorded; the work-order pages;
a task edited on its own page.

With OPSDESK_SCREENSHOTS=1 these tests also refresh docs/screenshots/work-orders.png and
task-page.png.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_web import sign_in

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DETAIL_URL = re.compile(r"/incidents/[^/?#]+(#.*)?$")


def screenshot(page: Page, name: str) -> None:
    if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_work_order_blocks_resolving_until_the_override_is_ticked(page: Page) -> None:
    title = f"Core switch port flapping {uuid.uuid4().hex[:6]}"
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    url = page.url

    # A task for another team, and a work order for the field-service group.
    work = page.locator("#work")
    work.locator("#task-add summary").click()
    page.locator("#task-add-title").fill("Ask the network team for the switch logs")
    page.locator("#task-add-workgroup").select_option(label="Network operations")
    page.locator("#task-add").get_by_role("button", name="Add task").click()
    expect(page.get_by_role("status")).to_contain_text("added.")
    page.locator("#order-add summary").click()
    page.locator("#order-add-title").fill("Replace the SFP in port 12")
    page.locator("#order-add-workgroup").select_option(label="Field service (DC1)")
    page.locator("#order-add-location").fill("DC1, hall B, rack B4")
    page.locator("#order-add-planned_start").fill("2030-01-02T09:00")
    page.locator("#order-add-planned_end").fill("2030-01-02T11:00")
    page.locator("#order-add").get_by_role("button", name="Add work order").click()
    expect(page.get_by_role("status")).to_contain_text("added.")
    expect(page.locator("#work-orders")).to_contain_text("Replace the SFP in port 12")
    expect(page.locator("#tasks")).to_contain_text("Ask the network team")
    # The task is done; the work order is still open.
    page.locator("#tasks select[name=status]").select_option(label="Done")
    page.locator("#tasks").get_by_role("button", name="Set").click()
    expect(page.locator("#tasks")).to_contain_text("Done")
    assert_accessible(page)

    page.locator("#action-accept").get_by_role("button", name="Accept").click()
    expect(page.locator("#incident-status")).to_have_text("In Progress")
    page.locator("#actions summary", has_text="Resolve").click()
    form = page.locator("#action-resolve")
    expect(form.locator("#action-resolve-override_open_work-warning")).to_contain_text(
        "Still open: 1 open work order"
    )
    expect(form).to_contain_text("Replace the SFP in port 12 (New)")
    form.get_by_label("Cause").fill("Faulty SFP")
    form.get_by_label("Solution").fill("Moved the uplink to port 13")
    form.get_by_label("Category").select_option(label="Network issues")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name="Resolve").click()
    assert answer.value.status == 409
    expect(page.locator("#form-error")).to_contain_text("override")
    expect(page.locator("#action-resolve")).to_have_attribute("open", "")
    expect(page.locator("#incident-status")).to_have_text("In Progress")
    assert_accessible(page)

    form = page.locator("#action-resolve")
    expect(form.get_by_label("Cause")).to_have_value("Faulty SFP")
    form.get_by_label("Resolve anyway").check()
    form.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#history")).to_contain_text("Resolved with 1 open work order (override).")

    # The field-service member finds it in the group's list and works it.
    page.goto("/incidents")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "tech2@example.com", "demo-tech")
    page.get_by_role("link", name="Work orders", exact=True).click()
    expect(page.get_by_role("heading", name="Work orders", exact=True)).to_be_visible()
    expect(page.locator("#work-order-list")).to_contain_text("Replace the SFP in port 12")
    assert_accessible(page)
    screenshot(page, "work-orders")
    page.get_by_role("link", name=re.compile("Replace the SFP in port 12")).click()
    expect(page.locator("#work-order-title")).to_have_text("Replace the SFP in port 12")
    page.get_by_label("Move to").select_option(label="In progress")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#work-order-status")).to_have_text("In progress")
    page.get_by_label("What was done").fill("SFP swapped, link stable")
    page.get_by_label("Minutes").fill("40")
    page.get_by_role("button", name="Add to log").click()
    expect(page.locator("#order-logs")).to_contain_text("SFP swapped, link stable")
    assert_accessible(page)
    page.goto(url)
    expect(page.locator("#work-orders")).to_contain_text("In progress")


def test_a_task_is_edited_on_its_page_with_a_refusal_beside_the_field(page: Page) -> None:
    title = f"Mail relay queue grows {uuid.uuid4().hex[:6]}"
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    url = page.url
    page.locator("#task-add summary").click()
    page.locator("#task-add-title").fill("Check the relay logs")
    page.locator("#task-add").get_by_role("button", name="Add task").click()
    expect(page.get_by_role("status")).to_contain_text("added.")
    page.locator("#tasks").get_by_role("link", name=re.compile("Check the relay logs")).click()
    expect(page.locator("#task-title")).to_have_text("Check the relay logs")
    form = page.locator("#task-edit-form")

    # Only blanks as a title: refused beside the title, what was typed is kept.
    form.get_by_label("Title").fill("   ")
    form.get_by_label("Description").fill("Queue at 4000 and rising")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name="Save task").click()
    assert answer.value.status == 422
    expect(page.locator("#task-edit-title-error")).to_contain_text("Title")
    expect(form.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Description")).to_have_value("Queue at 4000 and rising")
    expect(page.locator("#task-title")).to_have_text("Check the relay logs")
    assert_accessible(page)

    form.get_by_label("Title").fill("Drain the mail relay queue")
    form.get_by_label("For person").select_option(label="Tom Technician (tech2@example.com)")
    form.get_by_label("For workgroup").select_option(label="Network operations")
    form.get_by_label("Due (UTC)").fill("2030-01-02T09:30")
    form.get_by_label("Status").select_option(label="In progress")
    form.get_by_role("button", name="Save task").click()
    expect(page.get_by_role("status")).to_contain_text("saved.")
    expect(page.locator("#task-title")).to_have_text("Drain the mail relay queue")
    expect(page.locator("#task-status")).to_have_text("In progress")
    expect(page.locator("#task-props")).to_contain_text("Tom Technician")
    expect(page.locator("#task-props")).to_contain_text("Network operations")
    expect(form.get_by_label("Description")).to_have_value("Queue at 4000 and rising")
    assert_accessible(page)
    screenshot(page, "task-page")
    page.goto(url)
    expect(page.locator("#tasks")).to_contain_text("Drain the mail relay queue")
    expect(page.locator("#tasks")).to_contain_text("In progress")
