"""The web pages in a real browser against a real ``opsdesk serve`` with the demo data."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

VPN = "Cannot connect to VPN from home"
MAILBOX = "Shared mailbox 'finance' not receiving mail"
CHECKOUT = "Checkout API returns HTTP 500 for 20% of requests"
SCREENSHOT = "/tmp/opsdesk-detail.png"
DETAIL_URL = re.compile(r"/incidents/[^/?]+$")
# The other e2e tests add incidents to the shared server: the demo's may leave page one.
EVERY_INCIDENT = "/incidents?per_page=100"


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def rows(page: Page) -> list[str]:
    """The title cell of every incident row in the list."""
    return page.locator("table.incidents-table tbody td.cell-title").all_inner_texts()


def test_wrong_password_is_refused_on_the_login_page(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    assert page.url.endswith("/login")
    expect(page.get_by_label("Email")).to_have_value("admin@example.com")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_admin_lists_filters_and_opens_an_incident(page: Page) -> None:
    sign_in(page, "admin@example.com", "demo-admin")
    # Staff start in "My work"; the full list is one link away.
    expect(page).to_have_url(re.compile(r"/my-work$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(page.locator("header")).to_contain_text("Ada Admin")
    expect(page.locator("header")).to_contain_text("Administrator")
    page.goto(EVERY_INCIDENT)
    titles = rows(page)
    assert {VPN, MAILBOX, CHECKOUT} <= set(titles)

    page.get_by_label("Level").select_option("P1")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"level=P1"))
    levels = page.locator("table.incidents-table tbody td .badge.level").all_inner_texts()
    assert levels, "the P1 filter shows no rows"
    assert set(levels) == {"P1"}
    assert CHECKOUT in rows(page)
    assert VPN not in rows(page)
    assert MAILBOX not in rows(page)

    row = page.locator("table.incidents-table tbody tr", has_text=CHECKOUT)
    row.get_by_role("link").click()
    expect(page).to_have_url(DETAIL_URL)
    expect(page.locator("#incident-title")).to_have_text(CHECKOUT)
    expect(page.locator("#incident-level")).to_have_text("P1")
    expect(page.locator("#incident-status")).to_have_text("New")
    fields = page.locator("#incident-fields")
    for shown in (
        "Function issues",
        "Public website",
        "EU-Dublin",
        "Alarm detection",
        "Monitoring",
        "Tess Technician",
    ):
        expect(fields).to_contain_text(shown)
    expect(fields.locator("dt", has_text="Service interrupted").locator("+ dd")).to_have_text("Yes")
    expect(fields.locator("dt", has_text="Source").locator("+ dd")).to_have_text("Alarm")
    history = page.locator("#history")
    # The demo's P1 has waited longer than its 15-minute response goal: the in-process
    # worker may already have escalated it by the time the page is read. It is the demo's
    # major incident too (demo/major.py): declared, its war room, team and children.
    expect(history.locator(".timeline-action").last).to_have_text("create incident")
    assert set(history.locator(".timeline-action").all_inner_texts()) <= {
        "create incident",
        "SLA response breached",
        "SLA resolution breached",
        "declare major incident",
        "war room",
        "response team",
        "link incident",
    }
    expect(page.locator("#sla [data-target=response] .sla-label")).to_contain_text("Response:")
    expect(history).to_contain_text("by Tess Technician")
    expect(history).to_contain_text("Level: — → P1")
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_technician_creates_an_incident(page: Page) -> None:
    sign_in(page, "tech@example.com", "demo-tech")
    page.get_by_role("link", name="New incident").first.click()
    expect(page).to_have_url(re.compile(r"/incidents/new$"))
    title = f"Printer on floor 3 jams <b>{uuid.uuid4().hex[:8]}</b>"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Paper jam on every job.\nSecond line.")
    page.get_by_label("Level").select_option("level_20")
    page.get_by_label("Impact").select_option(label="Low")
    page.get_by_label("Urgency").select_option(label="Medium")
    page.get_by_label("Category").select_option(label="Hardware issues")
    page.get_by_label("Application").select_option(label="Workplace devices")
    page.get_by_label("Region").select_option(label="AP-Singapore")
    page.get_by_label("Fault occurred at (UTC)").fill("2024-03-04T05:06")
    page.get_by_label("The service is interrupted").check()
    page.get_by_role("button", name="Create incident").click()

    expect(page).to_have_url(DETAIL_URL)
    number = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_role("status")).to_have_text(f"Incident {number} created.")
    expect(page.locator("#incident-title")).to_have_text(title)
    expect(page.locator("#incident-level")).to_have_text("P2")
    expect(page.locator("#incident-status")).to_have_text("New")
    expect(page.locator(".description")).to_have_text("Paper jam on every job.\nSecond line.")
    fields = page.locator("#incident-fields")

    def field(name: str) -> str:
        return fields.locator("dt", has_text=re.compile(f"^{name}$")).locator("+ dd").inner_text()

    assert field("Impact") == "Low"
    assert field("Urgency") == "Medium"
    assert field("Category") == "Hardware issues"
    assert field("Application") == "Workplace devices"
    assert field("Region") == "AP-Singapore"
    assert field("Fault occurred at") == "2024-03-04 05:06 UTC"
    assert field("Service interrupted") == "Yes"
    assert field("Channel") == "Technician portal"
    assert field("Source") == "Manual Creation"
    assert field("Created by") == "Tess Technician"
    assert field("Reporter") == "Tess Technician"

    page.goto("/incidents")
    expect(page.locator("table.incidents-table")).to_contain_text(title)


def test_a_title_of_201_characters_is_refused(page: Page) -> None:
    sign_in(page, "tech@example.com", "demo-tech")
    page.goto("/incidents/new")
    page.get_by_label("Title").fill("x" * 201)
    page.get_by_label("Description").fill("kept after the error")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create incident").click()
    assert answer.value.status == 422
    expect(page).to_have_url(re.compile(r"/incidents/new$"))
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("title:")
    expect(errors).to_contain_text("200 characters")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Title")).to_have_value("x" * 201)
    expect(page.get_by_label("Description")).to_have_value("kept after the error")


def _checkout_url(browser: Browser, base_url: str) -> str:
    context = browser.new_context(base_url=base_url)
    try:
        admin = context.new_page()
        sign_in(admin, "admin@example.com", "demo-admin")
        admin.goto(EVERY_INCIDENT)
        link = admin.locator("table.incidents-table tbody tr", has_text=CHECKOUT).get_by_role(
            "link"
        )
        href = link.get_attribute("href")
        assert href is not None
        assert DETAIL_URL.search(href)
        return href
    finally:
        context.close()


def test_end_user_sees_only_their_own_incidents(
    page: Page, browser: Browser, base_url: str
) -> None:
    checkout_url = _checkout_url(browser, base_url)
    sign_in(page, "user@example.com", "demo-user")
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(page.locator("header")).to_contain_text("End user")
    # Other e2e tests may add reports of this user to the shared server; never others' ones.
    page.goto(EVERY_INCIDENT)
    shown = set(rows(page))
    assert {VPN, MAILBOX} <= shown
    assert CHECKOUT not in shown
    expect(page.get_by_text(CHECKOUT)).to_have_count(0)

    response = page.goto(checkout_url)
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Incident not found")).to_be_visible()
    expect(page.get_by_text(CHECKOUT)).to_have_count(0)


def test_sign_out_ends_the_session(page: Page) -> None:
    sign_in(page, "tech@example.com", "demo-tech")
    expect(page).to_have_url(re.compile(r"/my-work$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto("/incidents")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fincidents$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
