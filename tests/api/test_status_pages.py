"""Stakeholder updates in the console, through the ASGI stack on the demo desk: the
incident page's section and its form, and the status page admin."""

from __future__ import annotations

import re

import httpx

from tests.api.test_incident_page import post_form, report, switch
from tests.api.test_web_pages import client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]


async def test_the_incident_page_section_posts_and_refuses_with_the_reason(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "Shop checkout broken in the status test")
    portal = await client.get(f"/incidents/{number}")
    assert 'id="stakeholder-updates"' not in portal.text
    refused = await post_form(
        client, number, "status-updates", {"state": "investigating", "message": "x", "title": "t"}
    )
    assert refused.status_code == 403

    await switch(client, "tech@example.com", "demo-tech")
    page = await client.get(f"/incidents/{number}")
    assert 'id="stakeholder-updates"' in page.text and "No updates posted." in page.text
    assert "We are investigating reports of problems with" in page.text  # the prefill
    # No public title on the first update: refused with the reason, the text kept.
    missing = await post_form(
        client, number, "status-updates", {"state": "investigating", "message": "Kept text"}
    )
    assert missing.status_code == 422
    assert "public title" in missing.text and "Kept text" in missing.text
    audiences = re.findall(r'name="audience_ids" value="(\d+)"', page.text)
    assert audiences, "the demo's audiences are offered"
    posted = await client.post(
        f"/incidents/{number}/status-updates",
        data={
            "csrf_token": csrf_of(page.text),
            "state": "investigating",
            "title": "Checkout unavailable",
            "message": "We are looking into checkout errors.",
            "audience_ids": audiences[0],
            "is_public": "on",
        },
    )
    assert posted.status_code == 303, posted.text
    after = await client.get(f"/incidents/{number}")
    assert "Status update posted: investigating (published on the status page" in after.text
    assert "We are looking into checkout errors." in after.text
    assert 'name="state" id="status-update-state"' in after.text
    assert '<option value="identified" selected>' in after.text
    public = await client.get("/status")
    assert "Checkout unavailable" in public.text
    assert "Shop checkout broken" not in public.text


async def test_status_admin_pages(client: httpx.AsyncClient) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    assert (await client.get("/admin/status")).status_code == 403
    await switch(client, "admin@example.com", "demo-admin")
    page = await client.get("/admin/status")
    assert page.status_code == 200
    assert "Website customers" in page.text and 'id="component-app_erp"' in page.text
    token = csrf_of(page.text)
    listed = await client.post(
        "/admin/status/components/app_erp",
        data={"csrf_token": token, "public": "on", "display_name": "Finance", "override": ""},
    )
    assert listed.status_code == 303
    assert "Finance" in (await client.get("/status")).text
    bad = await client.post(
        "/admin/status/audiences",
        data={"csrf_token": token, "name": "Press", "kind": "customers", "emails": "nope"},
    )
    assert bad.status_code == 422 and "is not an e-mail address" in bad.text
    added = await client.post(
        "/admin/status/audiences",
        data={
            "csrf_token": token,
            "name": "Press",
            "kind": "customers",
            "emails": "press@news.test\nEditor@News.test",
        },
    )
    assert added.status_code == 303
    page = await client.get("/admin/status")
    audience_id = re.search(r'href="/admin/status/audiences/(\d+)">Press<', page.text)
    assert audience_id is not None
    edit = await client.get(f"/admin/status/audiences/{audience_id.group(1)}")
    assert "editor@news.test" in edit.text
    template = await client.post(
        "/admin/status/templates/resolved",
        data={"csrf_token": token, "subject": "{nope}", "body": "b", "message": "m"},
    )
    assert template.status_code == 422 and "unknown placeholder {nope}" in template.text
    saved = await client.post(
        "/admin/status/templates/resolved",
        data={
            "csrf_token": token,
            "subject": "Fixed: {title}",
            "body": "{message}",
            "message": "m",
        },
    )
    assert saved.status_code == 303
    assert "Fixed: {title}" in (await client.get("/admin/status")).text
    deleted = await client.post(
        f"/admin/status/audiences/{audience_id.group(1)}/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 303
