"""Merge in a real browser: merge into another from the incident page, the banner with its
undo, undo, and a bulk merge from a queue; axe-core on the merged incident's page.

With OPSDESK_SCREENSHOTS=1 this also refreshes docs/screenshots/merge.png.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.test_desk_web import report, screenshot
from tests.e2e.test_web import sign_in

pytestmark = pytest.mark.e2e


def test_merge_banner_and_undo(page: Page) -> None:
    token = uuid.uuid4().hex[:8]
    sign_in(page, "tech@example.com", "demo-tech")
    primary = report(page, f"Wi-Fi down on floor 4 {token}")
    secondary = report(page, f"No Wi-Fi in room 4.12 {token}")
    page.goto(f"/incidents/{secondary}")
    page.locator("#merge-forms summary").click()
    page.get_by_label("Merge this incident into").fill(primary)
    page.get_by_role("button", name="Merge into…").click()
    expect(page).to_have_url(f"{page.url.split('/incidents/')[0]}/incidents/{primary}")
    expect(page.locator("#merged-here")).to_contain_text(secondary)

    page.goto(f"/incidents/{secondary}")
    banner = page.locator("#merged-banner")
    expect(banner).to_contain_text(f"Merged into {primary}")
    expect(banner).to_contain_text("Undo until")
    expect(page.locator("#incident-status")).to_have_text("Merged")
    assert_accessible(page)
    screenshot(page, "merge")

    page.get_by_role("button", name="Undo merge").click()
    expect(page.locator("#merged-banner")).to_have_count(0)
    expect(page.locator("[role=status]").first).to_contain_text("Merge undone")
    expect(page.locator("#incident-status")).not_to_have_text("Merged")


def test_bulk_merge_from_a_queue(page: Page) -> None:
    token = uuid.uuid4().hex[:8]
    sign_in(page, "tech@example.com", "demo-tech")
    numbers = [report(page, f"Duplicate {token} #{i}") for i in range(3)]
    page.goto(f"/queue?queue=all&q={token}&sort=created_at")
    expect(page.locator("#queue-rows tr[data-number]")).to_have_count(3)
    for number in numbers:
        page.get_by_label(f"Select {number}").check()
    bulk = page.locator("#bulk-form")
    bulk.get_by_label("With the selected").select_option("merge")
    bulk.get_by_label("Merge into").fill(numbers[0])
    bulk.get_by_role("button", name="Apply").click()
    results = page.locator("#bulk-results")
    expect(results.locator("h2")).to_have_text("3 of 3 done")
    expect(results).to_contain_text(f"merged into {numbers[0]}")
    page.goto(f"/incidents/{numbers[2]}")
    expect(page.locator("#merged-banner")).to_contain_text(f"Merged into {numbers[0]}")
