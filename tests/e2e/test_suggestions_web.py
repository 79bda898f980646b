"""Suggestions in a real browser: an end user types a problem, sees a matching article with
why it matched, and "This solved it" ends the report (no incident, the deflection counted);
a second end user declines and the incident is created. Then the staff incident page lists
similar incidents and articles. axe-core on both pages.

With OPSDESK_SCREENSHOTS=1 this also refreshes docs/screenshots/suggestions.png.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_desk_web import screenshot
from tests.e2e.test_web import DETAIL_URL, rows, sign_in

pytestmark = pytest.mark.e2e

ARTICLE = "Printer prints blank pages"


def describe(page: Page, title: str, description: str) -> None:
    page.goto("/incidents/new")
    page.get_by_label("Title").press_sequentially(title, delay=10)
    page.get_by_label("Description").fill(description)
    # The first answer of a fresh server may load the embedding model (about 1.5 s).
    expect(page.locator(".suggestion").first).to_be_visible(timeout=15_000)


def test_this_solved_it_deflects_and_declining_files_the_incident(page: Page) -> None:
    tag = uuid.uuid4().hex[:8]
    sign_in(page, "admin@example.com", "demo-admin")
    page.goto("/admin/users")
    form = page.locator("#create-user")
    form.get_by_label("Email").fill(f"sam-{tag}@example.com")
    form.get_by_label("Name").fill(f"Sam {tag}")
    form.get_by_label("Password").fill("sam-password")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text(f"User sam-{tag}@example.com created.")
    page.context.clear_cookies()

    # The first user's problem is a known one: the article shows why it matched and its fix.
    sign_in(page, "user@example.com", "demo-user")
    describe(page, f"Printer gives blank pages {tag}", "Every page comes out empty, no text.")
    item = page.locator(".suggestion", has_text=ARTICLE)
    expect(item).to_contain_text("Matched:")
    expect(item.locator("mark", has_text="printer")).to_be_visible()
    expect(item).to_contain_text("score")
    expect(item).to_contain_text("Replaced the cartridge")
    # A staff-only article never reaches an end user.
    expect(page.locator("#suggestions")).not_to_contain_text("Shared mailbox not receiving")
    assert_accessible(page)
    screenshot(page, "suggestions")
    item.get_by_role("button", name=f"This solved it: {ARTICLE}").click()
    expect(page.locator("h1")).to_have_text("Glad that helped")
    expect(page.locator("#deflected")).to_contain_text(ARTICLE)
    expect(page.locator("#deflected-count")).to_contain_text("has now ended 2 reports")
    page.goto("/incidents?per_page=100")
    assert not [title for title in rows(page) if tag in title]
    page.context.clear_cookies()

    # The second user sees the same article, declines it and submits: the incident is filed.
    sign_in(page, f"sam-{tag}@example.com", "sam-password")
    describe(page, f"Printer prints blank pages {tag}", "Blank pages from the floor 2 printer.")
    expect(page.locator(".suggestion", has_text=ARTICLE)).to_be_visible()
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(DETAIL_URL)
    number = page.url.rsplit("/", 1)[1]
    page.context.clear_cookies()

    # Staff see it beside the similar demo incident and the article, with the actions.
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto(f"/incidents/{number}")
    similar = page.locator("#similar")
    expect(similar).to_contain_text(ARTICLE)
    expect(similar).to_contain_text("Printer on floor 2 prints blank pages")
    expect(similar.get_by_role("button", name="Link as duplicate").first).to_be_visible()
    expect(similar.get_by_role("button", name="Apply this article").first).to_be_visible()
    assert_accessible(page)
