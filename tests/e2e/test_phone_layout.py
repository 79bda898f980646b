"""Every main page on a 390 px phone, for each kind of user: nothing is wider than the
phone's screen (tables scroll inside their card, long words break), so no page scrolls
sideways. The check compares with the screen, not ``innerWidth``, which a phone's browser
widens to fit a too-wide page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_incident_portal import PHONE, horizontal_overflow, new_context
from tests.e2e.test_web import DETAIL_URL, EVERY_INCIDENT, MAILBOX, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def phones(browser: Browser, base_url: str) -> Iterator[dict[str, Page]]:
    """One signed-in phone per kind of user, and one nobody signed in on."""
    accounts = {
        "user": ("user@example.com", "demo-user"),
        "tech": ("tech@example.com", "demo-tech"),
        "manager": ("manager@example.com", "demo-manager"),
        "admin": ("admin@example.com", "demo-admin"),
    }
    contexts = []
    pages: dict[str, Page] = {}
    try:
        for who in (*accounts, "public"):
            context = new_context(
                browser,
                base_url,
                viewport=PHONE,
                is_mobile=True,
                has_touch=True,
                device_scale_factor=2,
            )
            contexts.append(context)
            pages[who] = context.new_page()
            if who in accounts:
                sign_in(pages[who], *accounts[who])
                expect(pages[who].get_by_role("button", name="Sign out")).to_be_visible()
        yield pages
    finally:
        for context in contexts:
            context.close()


def _first_link(page: Page, listing: str, rows: str, has_text: str | None = None) -> str:
    page.goto(listing)
    row = page.locator(rows, has_text=has_text) if has_text else page.locator(rows)
    href = row.first.get_by_role("link").first.get_attribute("href")
    assert href, f"no link in {rows} on {listing}"
    return href


def test_no_main_page_is_wider_than_a_phone(phones: dict[str, Page]) -> None:
    tech, user, manager = phones["tech"], phones["user"], phones["manager"]
    incident = _first_link(tech, EVERY_INCIDENT, "table.incidents-table tbody tr", MAILBOX)
    assert DETAIL_URL.search(incident)
    article = _first_link(tech, "/knowledge", "#article-list tbody tr")
    # The end user's help page: an article they may read (other tests add staff drafts).
    help_article = _first_link(user, "/knowledge", "main .kb-card-title")
    order = _first_link(tech, "/work-orders?scope=all", "#work-order-list tbody tr")
    room = _first_link(manager, "/war-rooms", "#war-room-list tr", "Checkout API")
    review = _first_link(manager, "/reviews", "#review-list tbody tr", "Payroll database")
    pages = {
        "public": ["/login", "/status"],
        "user": ["/incidents", "/incidents/new", incident, "/knowledge", help_article, "/account"],
        "tech": [
            "/my-work",
            "/queue?queue=all",
            EVERY_INCIDENT,
            incident,
            "/knowledge",
            article,
            f"{article}/edit",
            "/knowledge/new",
            "/work-orders?scope=all",
            order,
            "/teams",
        ],
        "manager": ["/war-rooms", room, "/reviews", review, "/dashboard", "/alerts"],
        "admin": ["/admin", "/admin/users", "/admin/integrations"],
    }
    problems = []
    for who, paths in pages.items():
        phone = phones[who]
        for path in paths:
            response = phone.goto(path)
            assert response is not None and response.status == 200, (who, path)
            if (problem := horizontal_overflow(phone)) is not None:
                problems.append(f"{who}: {problem}")
    # The status page's incident, if the demo has one on it.
    public = phones["public"]
    public.goto("/status")
    links = public.locator("main a[href^='/status/incidents/']")
    if links.count():
        public.goto(links.first.get_attribute("href") or "/status")
        if (problem := horizontal_overflow(public)) is not None:
            problems.append(f"public: {problem}")
    assert not problems, "\n".join(problems)


def test_a_staff_incident_page_with_long_words_fits_a_phone(phones: dict[str, Page]) -> None:
    tech = phones["tech"]
    tech.goto("/incidents/new")
    word = "https://intranet.example.com/very/long/path/" + "segment-" * 12
    tech.get_by_label("Title").fill("Unbreakable" * 8)
    tech.get_by_label("Description").fill(f"See {word} and {'x' * 120}.")
    tech.get_by_role("button", name=re.compile("^(Submit|Create incident)$")).click()
    expect(tech).to_have_url(DETAIL_URL)
    assert horizontal_overflow(tech) is None, horizontal_overflow(tech)
