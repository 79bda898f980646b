"""Admin pages in a real browser: the matrix grid, a user, a workgroup, a rotation and an SLA
policy's pause phases and escalation steps, axe-core.

With OPSDESK_SCREENSHOTS=1 these tests also refresh docs/screenshots/admin-*.png.
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
DETAIL_URL = re.compile(r"/incidents/[^/?]+$")
LOW_LOW = "Level for impact Low, urgency Low"


def screenshot(page: Page, name: str) -> None:
    """Refresh a README screenshot, only when asked (CI leaves the committed ones alone)."""
    if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


def new_incident_level(page: Page, title: str) -> str:
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Impact").select_option(label="Low")
    page.get_by_label("Urgency").select_option(label="Low")
    page.get_by_role("button", name="Create incident").click()
    expect(page).to_have_url(DETAIL_URL)
    return page.locator("#incident-level").inner_text()


def save_low_low(page: Page, level: str) -> None:
    page.goto("/admin/priority-matrix")
    page.get_by_label(LOW_LOW).select_option(level)
    page.get_by_role("button", name="Save matrix").click()
    expect(page.get_by_role("status")).to_contain_text("Priority matrix saved")


def test_an_admin_edits_the_matrix_grid_and_the_next_incident_takes_the_new_level(
    page: Page,
) -> None:
    sign_in(page, "admin@example.com", "demo-admin")
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    page.get_by_role("link", name="Priority matrix").click()
    grid = page.locator("#matrix")
    expect(grid.locator("select")).to_have_count(9)
    before = page.get_by_label(LOW_LOW).input_value()
    assert before == "level_50"
    assert new_incident_level(page, f"Before the change {uuid.uuid4().hex[:6]}") == "P5"
    try:
        save_low_low(page, "level_20")
        expect(page.get_by_label(LOW_LOW)).to_have_value("level_20")
        screenshot(page, "priority-matrix")
        assert new_incident_level(page, f"After the change {uuid.uuid4().hex[:6]}") == "P2"
    finally:
        save_low_low(page, before)


def test_an_admin_creates_a_user_a_workgroup_and_a_rotation_in_the_browser(page: Page) -> None:
    suffix = uuid.uuid4().hex[:6]
    sign_in(page, "admin@example.com", "demo-admin")

    page.goto("/admin/users")
    form = page.locator("#create-user")
    form.get_by_label("Email").fill("admin@example.com")  # taken: the server says so
    form.get_by_label("Name").fill(f"Nadia {suffix}")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#f-email-error")).to_contain_text("already exists")
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    form = page.locator("#create-user")
    form.get_by_label("Email").fill(f"nadia-{suffix}@example.com")
    form.get_by_label("Role").select_option(label="Technician")
    form.get_by_label("Password").fill("nadia-password")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text(f"User nadia-{suffix}@example.com created.")
    expect(page.locator("h1")).to_have_text(f"Nadia {suffix}")

    page.goto("/admin/workgroups")
    form = page.locator("#create-workgroup")
    form.get_by_label("Key").fill(f"night-{suffix}")
    form.get_by_label("Name").fill(f"Night desk {suffix}")
    form.get_by_label("Skills").fill("network, vpn")
    form.get_by_label("Members").select_option(label=f"Nadia {suffix} (nadia-{suffix}@example.com)")
    form.get_by_role("button", name="Create workgroup").click()
    expect(page.get_by_role("status")).to_have_text(f"Workgroup Night desk {suffix} created.")
    expect(page.get_by_label(f"Nadia {suffix} (nadia-{suffix}@example.com)")).to_have_value("1")
    screenshot(page, "workgroup")

    page.goto("/admin/shifts")
    form = page.locator("#create-scene")
    form.get_by_label("Key").fill(f"oncall-{suffix}")
    form.get_by_label("Name").fill(f"On call {suffix}")
    form.get_by_role("button", name="Create scene").click()
    form = page.locator("#add-role")
    form.get_by_label("Role key").fill("primary")
    form.get_by_label("Role name").fill("Primary")
    form.get_by_role("button", name="Add role").click()
    expect(page.get_by_role("status")).to_have_text("Role Primary added.")
    form = page.locator("#add-rotation")
    form.get_by_label("Name").fill("Weekly")
    form.get_by_label(f"Nadia {suffix}").fill("1")
    form.get_by_role("button", name="Add rotation").click()
    expect(page.get_by_role("status")).to_have_text("Rotation Weekly added.")
    expect(page.locator("#rotations")).to_contain_text(f"Nadia {suffix}")
    calendar = page.locator("#duty-calendar")
    expect(calendar.locator("td.duty-today")).to_contain_text(f"Nadia {suffix}")
    screenshot(page, "shift-calendar")


def test_an_admin_edits_a_rotation_and_a_policys_pauses_and_escalation_steps(page: Page) -> None:
    suffix = uuid.uuid4().hex[:6]
    sign_in(page, "admin@example.com", "demo-admin")
    page.goto("/admin/shifts")
    form = page.locator("#create-scene")
    form.get_by_label("Key").fill(f"edit-{suffix}")
    form.get_by_label("Name").fill(f"Edit {suffix}")
    form.get_by_role("button", name="Create scene").click()
    form = page.locator("#add-role")
    form.get_by_label("Role key").fill("primary")
    form.get_by_label("Role name").fill("Primary")
    form.get_by_role("button", name="Add role").click()
    form = page.locator("#add-rotation")
    form.get_by_label("Name").fill("Weekly")
    form.get_by_label("Ada Admin", exact=True).fill("1")
    form.get_by_role("button", name="Add rotation").click()
    expect(page.get_by_role("status")).to_have_text("Rotation Weekly added.")

    page.locator("#rotations").get_by_role("link", name="Weekly").click()
    form = page.locator("#edit-rotation")
    expect(form.get_by_label("Name")).to_have_value("Weekly")
    form.get_by_label("Daily from").fill("08:00")  # without "Daily until": refused
    form.get_by_role("button", name="Save rotation").click()
    expect(page.locator("#f-window_end-error")).to_contain_text("window_start")
    expect(page.locator("#f-window_end")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    form = page.locator("#edit-rotation")
    form.get_by_label("Name").fill("Daily")
    form.get_by_label("Days per turn").fill("1")
    form.get_by_label("Daily until").fill("20:00")
    form.get_by_role("button", name="Save rotation").click()
    expect(page.get_by_role("status")).to_have_text("Rotation Daily saved.")
    row = page.locator("#rotations tbody tr").first
    expect(row).to_contain_text("Daily")
    expect(row).to_contain_text("08:00 to 20:00")
    expect(row).to_contain_text("1 d")

    # A policy of its own (tried last, then switched off): the demo's stay as they are.
    page.goto("/admin/sla")
    form = page.locator("#create-policy")
    form.get_by_label("Key").fill(f"steps-{suffix}")
    form.get_by_label("Name").fill(f"Steps {suffix}")
    form.get_by_label("Order").fill("1000000")
    form.get_by_label("Resolve within (business minutes)").fill("480")
    form.get_by_role("button", name="Add policy").click()
    page.goto(f"/admin/sla/policies/steps-{suffix}")
    page.locator("#edit-policy").get_by_label("Active").uncheck()
    page.locator("#edit-policy").get_by_role("button", name="Save").click()
    page.goto(f"/admin/sla/policies/steps-{suffix}")
    # Its pauses: the defaults, shown per clock and as boxes; a refusal keeps what was ticked.
    expect(page.locator("#pauses-resolution")).to_contain_text("On Hold, Rejected")
    pauses = page.locator("#pause-phases")
    expect(pauses.get_by_label("On Hold")).to_be_checked()
    pauses.get_by_label("Rejected").uncheck()
    pauses.get_by_label("In Progress (pause awaiting approval)").check()
    form = page.locator("#edit-policy")
    form.get_by_label("Respond within (business minutes)").fill("soon")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#f-response_min-error")).to_be_visible()
    pauses = page.locator("#pause-phases")
    expect(pauses.get_by_label("Rejected")).not_to_be_checked()
    expect(pauses.get_by_label("In Progress (pause awaiting approval)")).to_be_checked()
    expect(page.locator("#pauses-resolution")).to_contain_text("On Hold, Rejected")  # unsaved
    assert_accessible(page)
    page.locator("#edit-policy").get_by_label("Respond within (business minutes)").fill("")
    page.locator("#edit-policy").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"SLA policy steps-{suffix} saved.")
    page.goto(f"/admin/sla/policies/steps-{suffix}")
    expect(page.locator("#pauses-response")).to_contain_text(
        "In Progress (pause awaiting approval), On Hold, awaiting_requester"
    )
    expect(page.locator("#pause-phases").get_by_label("Rejected")).not_to_be_checked()
    screenshot(page, "sla-pauses")
    expect(page.locator("#steps tbody tr")).to_have_count(3)  # the default steps
    form = page.locator("#add-step")
    form.get_by_label("At percent of the target").fill("75")  # taken by a default step
    form.get_by_label("Reassign to").select_option(label="Network operations")
    form.get_by_role("button", name="Add step").click()
    expect(page.locator("#f-percent-error")).to_contain_text("only once")
    assert_accessible(page)
    form = page.locator("#add-step")
    form.get_by_label("At percent of the target").fill("90")
    form.get_by_label("Raise the level one step (P1 stays P1)").check()
    form.get_by_role("button", name="Add step").click()
    expect(page.get_by_role("status")).to_have_text("Step at 90 % added.")
    step = page.locator("#step-90")
    expect(step).to_contain_text("Reassign to Network operations")
    expect(step).to_contain_text("Raise the level")
    screenshot(page, "sla-steps")

    step.get_by_role("link", name="90 %").click()
    form = page.locator("#edit-step")
    expect(form.get_by_label("Reassign to")).to_have_value("network")
    assert_accessible(page)
    form.get_by_label("At percent of the target").fill("110")
    form.get_by_label("Reassign to").select_option(value="")
    form.get_by_label("Notify the incident managers").check()
    form.get_by_role("button", name="Save step").click()
    expect(page.get_by_role("status")).to_have_text("Step at 110 % saved.")
    expect(page.locator("#step-110")).to_contain_text("Notify the incident managers")
    expect(page.locator("#step-90")).to_have_count(0)
    page.locator("#step-50").get_by_role("link").click()
    page.get_by_role("button", name="Delete step").click()
    expect(page.get_by_role("status")).to_have_text("Step at 50 % deleted.")
    expect(page.locator("#steps tbody tr")).to_have_count(3)


MAIN_PAGES = (
    "/my-work",
    "/queue",
    "/incidents",
    "/alerts",
    "/incidents/new",
    "/teams",
    "/account",
    "/admin",
    "/admin/users",
    "/admin/reference/categories",
    "/admin/priority-matrix",
    "/admin/workgroups",
    "/admin/technicians",
    "/admin/shifts",
    "/admin/rules",
    "/admin/rules?test=1&title=VPN+down",
    "/admin/sla",
    "/admin/notifications",
    "/admin/mail-templates/created",
    "/admin/jobs",
    "/admin/auth-events",
    "/admin/access-keys",
    "/admin/inbound-mail",
    "/admin/integrations",
)


def test_main_pages_have_no_serious_accessibility_violations(page: Page) -> None:
    page.goto("/login")
    assert_accessible(page)
    sign_in(page, "admin@example.com", "demo-admin")
    expect(page).to_have_url(re.compile(r"/my-work$"))
    page.goto("/incidents")
    page.locator("table.incidents-table tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(DETAIL_URL)
    assert_accessible(page)
    for path in MAIN_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert_accessible(page)
    # The pages one level down: a user, a workgroup, a shift role with its calendar.
    for listing, link in (
        ("/admin/users", "#users tbody a"),
        ("/admin/workgroups", "#workgroups tbody a"),
        ("/admin/technicians", "#technicians tbody a"),
        ("/admin/shifts", "#scenes tbody td:last-child a"),
        ("/admin/rules", "#rules tbody a"),
        ("/admin/sla", "#policies tbody a"),
        ("/admin/sla", "#calendars tbody a"),
        ("/admin/integrations", "#integrations tbody a"),
    ):
        page.goto(listing)
        page.locator(link).first.click()
        assert_accessible(page)
    # An integration's page (its conversion rules) and one rule's page, from the last listing.
    page.goto("/admin/integrations")
    page.locator("#integrations tbody a").first.click()
    page.get_by_label("Labels", exact=True).fill("alertname=DiskFull, severity=critical")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#alert-tester-result")).to_contain_text("matches")
    screenshot(page, "alert-rules")
    page.locator("#alert-rules tbody a").first.click()
    expect(page.locator("#edit-alert-rule")).to_be_visible()
    assert_accessible(page)
