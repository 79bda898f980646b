"""Links in a real browser: link two incidents, set a parent, resolve the parent and see the
child resolved with it; axe-core on the incident page with its Links section.

With OPSDESK_SCREENSHOTS=1 this also refreshes docs/screenshots/links.png.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_desk_web import screenshot
from tests.e2e.test_incident_work import open_action
from tests.e2e.test_web import DETAIL_URL, sign_in

pytestmark = pytest.mark.e2e


def report(page: Page, title: str) -> str:
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Reported from the browser test.")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(DETAIL_URL)
    return page.url.rsplit("/", 1)[1]


def link(page: Page, kind: str, number: str) -> None:
    form = page.locator("#link-form")
    form.get_by_label("This incident is").select_option(label=kind)
    form.get_by_label("Incident number").fill(number)
    form.get_by_role("button", name="Link").click()


def test_link_set_parent_and_resolve_the_parent_resolves_the_child(page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    sign_in(page, "user@example.com", "demo-user")
    child = report(page, f"VPN drops in the Berlin office {tag}")
    related = report(page, f"VPN slow at home {tag}")
    parent = report(page, f"VPN concentrator failing {tag}")
    page.context.clear_cookies()

    sign_in(page, "tech@example.com", "demo-tech")
    page.goto(f"/incidents/{child}")
    link(page, "Related to", related)
    expect(page.get_by_role("status")).to_contain_text(f"Linked: related to {related}.")
    expect(page.locator("#links-table")).to_contain_text(f"VPN slow at home {tag}")
    # A number that does not exist: the form says so and keeps what was typed.
    link(page, "Duplicate of", "INC-DOES-NOT-EXIST")
    expect(page.locator("#form-error")).to_contain_text("No incident INC-DOES-NOT-EXIST")
    expect(page.locator("#link-number")).to_have_value("INC-DOES-NOT-EXIST")

    link(page, "Child of (set the parent)", parent)
    expect(page.locator("#parent-banner")).to_contain_text(f"Parent {parent}")
    expect(page.locator("#parent-banner")).to_contain_text("is New")
    expect(page.locator("#history")).to_contain_text(f"Parent set to {parent}")
    assert_accessible(page)

    # Resolving the parent resolves the child, with a row naming the parent.
    page.goto(f"/incidents/{parent}")
    expect(page.locator(f"#child-{child}")).to_contain_text("New")
    page.locator("#action-accept").get_by_role("button", name="Accept").click()
    open_action(page, "Resolve")
    form = page.locator("#action-resolve")
    form.get_by_label("Cause").fill("A failing line card in the VPN concentrator")
    form.get_by_label("Solution").fill("Replaced the line card")
    form.get_by_label("Category").select_option(label="Network issues")
    form.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator(f"#child-{child}")).to_contain_text("Resolved")

    page.goto(f"/incidents/{child}")
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#parent-banner")).to_contain_text("is Resolved")
    expect(page.locator("#history")).to_contain_text(f"Resolved with parent {parent}")
    assert_accessible(page)
    screenshot(page, "links")

    # The reporter sees their child resolved, and the related incident they also reported.
    page.context.clear_cookies()
    sign_in(page, "user@example.com", "demo-user")
    page.goto(f"/incidents/{child}")
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#links")).to_contain_text(related)
    expect(page.locator("#link-form")).to_have_count(0)
    assert_accessible(page)
