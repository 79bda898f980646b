"""Post-incident reviews in a real browser: the demo's submitted review with its time
summary and sources, the assistant director's review, the exports.

With OPSDESK_SCREENSHOTS=1 this test also refreshes docs/screenshots/review.png and
docs/screenshots/pir-pdf.png (the exported PDF's first page, rendered by pypdfium2).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.e2e.axe import assert_accessible
from tests.e2e.test_web import sign_in

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMES = (
    "Failure Occurred",
    "Operations Notified",
    "Operations On-Site",
    "Second Level Support On-Site",
    "Services Restored",
)


def _pdf_page_png(data: bytes, path: Path) -> None:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    document[0].render(scale=1.6).to_pil().save(path)


def test_the_assistant_director_reviews_the_demo_review_and_exports_its_pdf(page: Page) -> None:
    sign_in(page, "manager@example.com", "demo-manager")
    page.goto("/reviews")
    page.get_by_role("link", name="Payroll database unreachable").click()
    expect(page.locator("#review-status")).to_have_text("Submitted")
    table = page.locator("#time-summary")
    for label in TIMES:
        row = table.get_by_role("row").filter(has_text=label)
        expect(row.get_by_role("link", name="history #")).to_be_visible()
    expect(page.locator("#action-items")).to_contain_text("Alert when the log archive job fails")
    assert_accessible(page)
    if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)

    # A source link leads to its history row on the incident page.
    source = table.get_by_role("row").filter(has_text="Operations On-Site").get_by_role("link")
    anchor = (source.get_attribute("href") or "").split("#")[1]
    review_url = page.url
    source.click()
    expect(page.locator(f"#{anchor}")).to_contain_text("accept")
    expect(page.locator("#review")).to_contain_text("Submitted")
    page.goto(review_url)

    page.locator("#step-comment").fill("Looks complete.")
    page.locator("#step-review").click()
    expect(page.locator("#review-status")).to_have_text("Reviewed")
    expect(page.locator("#review-history")).to_contain_text("Looks complete.")

    href = page.get_by_role("link", name="PDF").get_attribute("href")
    assert href is not None
    answer = page.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.body())).pages).split()
    )
    for label in (*TIMES, "Incident Description", "Recommendations", "Incident Timeline"):
        assert label in text, label
    if os.environ.get("OPSDESK_SCREENSHOTS") == "1":
        _pdf_page_png(answer.body(), SCREENSHOTS / "pir-pdf.png")
