"""The message after a post, in a real browser: each kind (success, info, warning, error) has
its own colours and icon, the right role, passes axe-core, and its dismiss button works.

With OPSDESK_SCREENSHOTS=1 this also refreshes docs/screenshots/flash-*.png.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_web import sign_in

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LOOK = """() => {
  const box = document.getElementById("flash");
  const style = getComputedStyle(box);
  return [style.backgroundColor, style.borderLeftColor, style.color];
}"""


def look_of(page: Page, kind: str, role: str) -> tuple[str, str, str]:
    """The flash's colours, after checking its kind's class, role and icon."""
    flash = page.locator("#flash")
    expect(flash).to_have_class(f"notice notice-{kind} flash")
    expect(flash.locator(".flash-text")).to_have_attribute("role", role)
    expect(flash.locator("svg.flash-icon")).to_be_visible()
    assert_accessible(page)
    if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        flash.screenshot(path=str(SCREENSHOTS / f"flash-{kind}.png"))
    colours: list[str] = page.evaluate(LOOK)
    return colours[0], colours[1], colours[2]


def test_each_kind_of_flash_looks_different_reads_right_and_can_be_dismissed(
    page: Page,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    sign_in(page, "admin@example.com", "demo-admin")
    looks: dict[str, tuple[str, str, str]] = {}

    # Info and success: the admin switches their own availability off and on again.
    page.goto("/teams")
    page.get_by_role("button", name="Set me unavailable").click()
    expect(page.get_by_role("status")).to_contain_text("rules skip you")
    looks["info"] = look_of(page, "info", "status")
    page.get_by_role("button", name="Set me available").click()
    expect(page.get_by_role("status")).to_have_text(
        "You are available: new incidents may be assigned to you."
    )
    looks["success"] = look_of(page, "success", "status")

    # Warning: a rotation saved while one of its members is no longer active staff.
    page.goto("/admin/users")
    form = page.locator("#create-user")
    form.get_by_label("Email").fill(f"leaver-{suffix}@example.com")
    form.get_by_label("Name").fill(f"Leaver {suffix}")
    form.get_by_label("Role").select_option(label="Technician")
    form.get_by_label("Password").fill("leaver-password")
    form.get_by_role("button", name="Create user").click()
    user_page = page.url
    page.goto("/admin/shifts")
    form = page.locator("#create-scene")
    form.get_by_label("Key").fill(f"flash-{suffix}")
    form.get_by_label("Name").fill(f"Flash {suffix}")
    form.get_by_role("button", name="Create scene").click()
    form = page.locator("#add-role")
    form.get_by_label("Role key").fill("primary")
    form.get_by_label("Role name").fill("Primary")
    form.get_by_role("button", name="Add role").click()
    form = page.locator("#add-rotation")
    form.get_by_label("Name").fill("Weekly")
    form.get_by_label("Ada Admin", exact=True).fill("1")
    form.get_by_label(f"Leaver {suffix}").fill("2")
    form.get_by_role("button", name="Add rotation").click()
    expect(page.get_by_role("status")).to_have_text("Rotation Weekly added.")
    role_page = page.url
    page.goto(user_page)
    page.get_by_role("button", name="Deactivate user").click()
    page.goto(role_page)
    page.locator("#rotations").get_by_role("link", name="Weekly").click()
    page.locator("#edit-rotation").get_by_role("button", name="Save rotation").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Rotation Weekly saved; left out, no longer active staff: Leaver {suffix}."
    )
    expect(page.get_by_role("alert")).to_contain_text("Warning:")  # read out, not only seen
    looks["warning"] = look_of(page, "warning", "alert")

    # Error: a refused post (no such bouncing address), sent as the page's own form would be.
    page.goto("/admin")  # not the target page: going there would only move to its #anchor
    token = page.locator('input[name="csrf_token"]').first.input_value()
    answer = page.request.post(
        "/admin/notifications/bouncing/clear",
        form={"csrf_token": token, "address": f"nobody-{suffix}@example.com"},
        max_redirects=0,
    )
    assert answer.status == 303
    page.goto(answer.headers["location"])
    expect(page.get_by_role("alert")).to_contain_text("Not cleared:")
    looks["error"] = look_of(page, "error", "alert")

    backgrounds = {kind: look[0] for kind, look in looks.items()}
    edges = {kind: look[1] for kind, look in looks.items()}
    texts = {kind: look[2] for kind, look in looks.items()}
    assert len(set(backgrounds.values())) == 4, backgrounds
    assert len(set(edges.values())) == 4, edges
    assert len(set(texts.values())) == 4, texts

    # Dismissed: gone, and the focus goes on in the page rather than back to the top.
    page.get_by_role("button", name="Dismiss this message").click()
    expect(page.locator("#flash")).to_have_count(0)
    expect(page.locator("main")).to_be_focused()
    assert_accessible(page)


def test_without_javascript_the_flash_shows_and_offers_no_dead_button(
    browser: Browser, base_url: str
) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, "admin@example.com", "demo-admin")
        page.goto("/teams")
        page.get_by_role("button", name="Set me unavailable").click()
        expect(page.get_by_role("status")).to_contain_text("rules skip you")
        expect(page.locator("[data-flash-dismiss]")).to_be_hidden()
        page.get_by_role("button", name="Set me available").click()
        expect(page.get_by_role("status")).to_contain_text("You are available")
    finally:
        context.close()
