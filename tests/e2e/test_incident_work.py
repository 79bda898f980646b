"""Working an incident in a real browser: report with a file, accept, note, resolve, confirm."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.test_web import DETAIL_URL, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def second_context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def open_action(page: Page, button: str) -> None:
    page.locator("#actions summary", has_text=button).click()


def test_report_accept_note_resolve_confirm_and_rate(
    page: Page, second_context: BrowserContext, tmp_path: Path
) -> None:
    screenshot = tmp_path / "screen.txt"
    screenshot.write_text("error 0x80070005 when connecting\n")
    title = f"Laptop cannot reach the intranet {uuid.uuid4().hex[:6]}"

    # The end user reports it, with a file.
    sign_in(page, "user@example.com", "demo-user")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Since this morning.")
    page.get_by_label("Attachments").set_input_files(str(screenshot))
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(DETAIL_URL)
    url = page.url
    expect(page.locator("#incident-status")).to_have_text("New")
    expect(page.locator("#attachments")).to_contain_text("screen.txt")
    # End users have no staff actions, and may not confirm what is not resolved yet.
    expect(page.locator("#actions")).to_have_count(0)

    # A technician accepts it, writes an internal note and resolves it.
    tech = second_context.new_page()
    sign_in(tech, "tech@example.com", "demo-tech")
    tech.goto(url)
    # Accept needs nothing more: one click.
    tech.locator("#action-accept").get_by_role("button", name="Accept").click()
    expect(tech.get_by_role("status")).to_contain_text("In Progress")
    expect(tech.locator("#incident-status")).to_have_text("In Progress")

    # The internal note has its own composer, apart from the reply to the requester.
    tech.locator("#note-body").fill("Looks like the proxy certificate; checking.")
    tech.get_by_role("button", name="Add internal note").click()
    expect(tech.get_by_role("status")).to_have_text("Internal note added (staff only).")
    expect(tech.locator("#history")).to_contain_text("Looks like the proxy certificate")

    # A pause that ends in the past is refused; the form stays open with the message.
    open_action(tech, "Request pause")
    form = tech.locator("#action-pause")
    form.get_by_label("Reason").fill("waiting for the vendor")
    form.get_by_label("Planned end (UTC)").fill("2020-01-01T10:00")
    with tech.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name="Request pause").click()
    assert answer.value.status == 422
    expect(tech.locator("#form-error")).to_contain_text("Planned end")
    expect(tech.locator("#action-pause")).to_have_attribute("open", "")
    expect(tech.locator("#action-pause").get_by_label("Reason")).to_have_value(
        "waiting for the vendor"
    )
    expect(tech.locator("#incident-status")).to_have_text("In Progress")

    open_action(tech, "Resolve")
    form = tech.locator("#action-resolve")
    form.get_by_label("Cause").fill("Expired proxy certificate")
    form.get_by_label("Solution").fill("Renewed the certificate and restarted the proxy")
    form.get_by_label("Category").select_option(label="Network issues")
    form.get_by_role("button", name="Resolve").click()
    expect(tech.locator("#incident-status")).to_have_text("Resolved")
    expect(tech.locator("#resolution")).to_contain_text("Expired proxy certificate")

    tech.locator("#worklog-description").fill("Diagnosis and certificate renewal")
    tech.locator("#worklog-minutes").fill("45")
    tech.get_by_role("button", name="Log work").click()
    expect(tech.locator("#work-total")).to_have_text("45 min")

    # The reporter sees the resolution but not the internal note, confirms and rates.
    page.goto(url)
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#resolution")).to_contain_text("Renewed the certificate")
    expect(page.locator("#history")).not_to_contain_text("proxy certificate; checking")
    expect(page.locator("#worklog")).to_have_count(0)
    page.locator("#is-it-fixed").get_by_role("button", name="Yes, fixed").click()
    expect(page.locator("#incident-status")).to_have_text("Closed")
    page.locator("#rating-4").check()
    page.locator("#feedback-comment").fill("Quick and clear, thanks")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.locator("#feedback-rating")).to_contain_text("4/5")

    # Staff see the rating too; a closed incident offers only reopen.
    tech.goto(url)
    expect(tech.locator("#feedback")).to_contain_text("Quick and clear, thanks")
    expect(tech.locator("#actions summary")).to_have_text(["Reopen"])
    with tech.expect_download() as download:
        tech.locator("#attachments").get_by_role("link", name="screen.txt").click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_text() == screenshot.read_text()


def test_a_disguised_executable_is_refused_on_create_and_nothing_is_saved(
    page: Page, tmp_path: Path
) -> None:
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    title = f"Invoice tool crashes {uuid.uuid4().hex[:6]}"
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Attachments").set_input_files(str(fake))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create incident").click()
    assert answer.value.status == 422
    expect(page.locator("#form-errors")).to_contain_text("invoice.pdf")
    expect(page.get_by_label("Title")).to_have_value(title)
    page.goto("/incidents?" + re.sub(r"\s", "+", f"q={title}"))
    expect(page.locator("table.incidents-table")).not_to_contain_text(title)
