"""Post-incident review pages on the demo desk: list, detail, edits, workflow, the incident
page's section; end users are refused."""

from __future__ import annotations

import re

import httpx

from tests.api.test_incident_page import switch
from tests.api.test_web_pages import client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]


async def form(
    http: httpx.AsyncClient, page_url: str, url: str, data: dict[str, str]
) -> httpx.Response:
    page = await http.get(page_url)
    return await http.post(url, data={"csrf_token": csrf_of(page.text), **data})


async def test_the_review_pages_show_sources_edit_with_reasons_and_move_the_workflow(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    assert (await client.get("/reviews")).status_code == 403
    assert (await client.get("/reviews/1")).status_code == 403

    await switch(client, "tech2@example.com", "demo-tech")
    listing = await client.get("/reviews")
    assert listing.status_code == 200 and "Payroll database unreachable" in listing.text
    review_id = re.search(r'href="/reviews/(\d+)"', listing.text)
    assert review_id is not None
    url = f"/reviews/{review_id.group(1)}"
    page = await client.get(url)
    assert page.status_code == 200
    assert 'id="review-status">Submitted<' in page.text
    for label in (
        "Failure Occurred",
        "Operations Notified",
        "Operations On-Site",
        "Second Level Support On-Site",
        "Services Restored",
    ):
        assert label in page.text
    sources = re.findall(r'href="/incidents/(\w+)#history-(\d+)"', page.text)
    assert len(sources) == 5, sources
    number = sources[0][0]
    incident_page = await client.get(f"/incidents/{number}")
    for _n, row_id in sources:
        assert f'id="history-{row_id}"' in incident_page.text
    assert 'id="review-link"' in incident_page.text
    assert "Alert when the log archive job fails" in page.text
    assert 'id="step-review"' not in page.text  # a technician is no assistant director

    await switch(client, "manager@example.com", "demo-manager")
    refused = await form(client, url, f"{url}/steps/return", {"comment": ""})
    assert refused.status_code == 422 and "comment" in refused.text
    returned = await form(client, url, f"{url}/steps/return", {"comment": "Add the root cause"})
    assert returned.status_code == 303
    page = await client.get(url)
    assert 'id="review-status">Returned<' in page.text and "Add the root cause" in page.text

    await switch(client, "tech2@example.com", "demo-tech")
    no_reason = await form(
        client, url, f"{url}/times/operations_notified", {"value": "2030-01-01T10:00", "reason": ""}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    edited = await form(
        client,
        url,
        f"{url}/times/operations_notified",
        {"value": "2020-01-01T10:00", "reason": "the NOC phoned first"},
    )
    assert edited.status_code == 303
    saved = await form(
        client,
        url,
        f"{url}/sections",
        {"title": "Payroll database outage", "resolution": "Root cause: failed archive job."},
    )
    assert saved.status_code == 303
    page = await client.get(url)
    assert "the NOC phoned first" in page.text and "2020-01-01 10:00 UTC" in page.text
    assert "Payroll database outage" in page.text
    submitted = await form(client, url, f"{url}/steps/submit", {"comment": ""})
    assert submitted.status_code == 303

    # An incident without a review: start one from its page.
    other = await client.get("/incidents?per_page=100")
    numbers = re.findall(r'href="/incidents/(IM\d+)"', other.text)
    target = next(n for n in numbers if n != number)
    started = await form(client, f"/incidents/{target}", f"/incidents/{target}/review", {})
    assert started.status_code == 303 and started.headers["location"].startswith("/reviews/")
