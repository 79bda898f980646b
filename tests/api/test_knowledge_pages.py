"""Knowledge pages through the ASGI stack on the demo desk: the staff list, article page and
forms, the portal's help pages, and the incident page's knowledge section."""

from __future__ import annotations

import re

import httpx

from tests.api.test_incident_page import post_form, report, switch
from tests.api.test_web_pages import client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


async def post_article(
    http: httpx.AsyncClient, path: str, data: dict[str, str], page: str = "/knowledge"
) -> httpx.Response:
    shown = await http.get(page)
    return await http.post(path, data={"csrf_token": csrf_of(shown.text), **data})


def article_id_of(response: httpx.Response) -> int:
    match = re.search(r"/knowledge/(\d+)", response.headers["location"])
    assert match is not None, response.headers["location"]
    return int(match.group(1))


async def test_staff_write_submit_publish_and_restore_in_the_console(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    listing = await client.get("/knowledge")
    assert listing.status_code == 200
    assert 'href="/knowledge" aria-current="page">Knowledge<' in listing.text
    assert "Checkout API returns HTTP 500" in listing.text  # in review, staff only
    found = await client.get("/knowledge", params={"q": "toner", "status": "published"})
    assert "Printer prints blank pages" in found.text
    assert "Wi-Fi" not in found.text
    # The empty form for a new article (it once failed on the fields it had no value for).
    blank = await client.get("/knowledge/new")
    assert blank.status_code == 200, blank.text
    assert 'id="article-title" value=""' in blank.text
    bad = await post_article(client, "/knowledge", {"title": "", "workaround": "x"})
    assert bad.status_code == 422
    assert 'id="form-error"' in bad.text
    created = await post_article(
        client,
        "/knowledge",
        {
            "title": "Teams camera is black",
            "body": "The camera shows black in Teams calls.",
            "workaround": "Close other apps using the camera, then restart Teams.",
            "visibility": "public",
            "category": "inc_type_p_config_issues",
            "keywords": "teams, camera",
        },
    )
    assert created.status_code == 303, created.text
    aid = article_id_of(created)
    page = await client.get(f"/knowledge/{aid}")
    assert 'id="step-submit"' in page.text
    assert "teams, camera" in page.text
    edited = await post_article(
        client,
        f"/knowledge/{aid}/edit",
        {
            "title": "Teams camera shows black",
            "workaround": "Close other apps using the camera, then restart Teams.",
            "visibility": "public",
            "version": "1",
            "note": "Clearer title",
        },
        page=f"/knowledge/{aid}/edit",
    )
    assert edited.status_code == 303, edited.text
    stale = await post_article(
        client,
        f"/knowledge/{aid}/edit",
        {"title": "Lost update", "version": "1", "visibility": "public"},
        page=f"/knowledge/{aid}/edit",
    )
    assert stale.status_code == 409
    assert "changed meanwhile" in stale.text
    submitted = await post_article(
        client, f"/knowledge/{aid}/steps/submit", {}, f"/knowledge/{aid}"
    )
    assert submitted.status_code == 303
    refused = await post_article(client, f"/knowledge/{aid}/steps/publish", {}, f"/knowledge/{aid}")
    assert refused.status_code == 403
    assert "incident manager" in refused.text
    restored = await post_article(
        client, f"/knowledge/{aid}/versions/1/restore", {}, f"/knowledge/{aid}"
    )
    assert restored.status_code == 303
    page = await client.get(f"/knowledge/{aid}")
    assert "Teams camera is black" in page.text
    assert "Version 3 (current)" in page.text
    uploaded = await client.post(
        f"/knowledge/{aid}/files",
        data={"csrf_token": csrf_of(page.text)},
        files={"files": ("camera.png", PNG, "image/png")},
    )
    assert uploaded.status_code == 303
    fake = await client.post(
        f"/knowledge/{aid}/files",
        data={"csrf_token": csrf_of(page.text)},
        files={"files": ("camera.png", b"not an image", "image/png")},
    )
    assert fake.status_code == 422
    no_csrf = await client.post(f"/knowledge/{aid}/steps/draft", data={})
    assert no_csrf.status_code == 403

    await switch(client, "manager@example.com", "demo-manager")
    published = await post_article(
        client, f"/knowledge/{aid}/steps/publish", {}, f"/knowledge/{aid}"
    )
    assert published.status_code == 303
    assert "Published" in (await client.get(f"/knowledge/{aid}")).text


async def test_end_users_read_help_articles_without_internals_and_vote(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    listing = await client.get("/knowledge")
    assert listing.status_code == 200
    assert "Help articles" in listing.text
    assert "Wi-Fi drops on floor 3" in listing.text
    for hidden in ("transport rule", "Checkout API", "network drive", "VPN client 4.x"):
        assert hidden not in listing.text, hidden
    assert "Staff only" not in listing.text
    wifi = re.search(r'href="/knowledge/(\d+)">Wi-Fi', listing.text)
    assert wifi is not None
    url = f"/knowledge/{wifi.group(1)}"
    page = await client.get(url)
    assert "Did this help?" in page.text
    for internal in ("Version", "Workflow", "Author", "Applied", "demo-tech", "History"):
        assert internal not in page.text, internal
    voted = await post_article(client, f"{url}/feedback", {"helped": "no"}, url)
    assert voted.status_code == 303
    assert "You answered: no" in (await client.get(url)).text
    for staff_only in (3, 5, 6, 7):  # staff-only, in review, draft, retired
        assert (await client.get(f"/knowledge/{staff_only}")).status_code == 404
    assert (await client.get("/knowledge/new")).status_code == 403
    sneaky = await post_article(client, "/knowledge", {"title": "x"})
    assert sneaky.status_code == 403


async def test_incident_page_drafts_from_the_solution_and_applies_an_article(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "VPN authentication failed in the knowledge test")
    assert 'id="knowledge"' not in (await client.get(f"/incidents/{number}")).text
    refused = await post_form(client, number, "articles/2/apply", {})
    assert refused.status_code == 403

    await switch(client, "tech@example.com", "demo-tech")
    page = await client.get(f"/incidents/{number}")
    assert 'id="knowledge"' in page.text
    assert 'id="kb-draft"' not in page.text  # no solution yet
    assert 'id="kb-apply-article"' in page.text
    draft = await post_form(client, number, "articles/5/apply", {})  # in review
    assert draft.status_code == 409
    assert "only published articles" in draft.text
    applied = await post_form(client, number, "articles/apply", {"article_id": "2"})
    assert applied.status_code == 303, applied.text
    page = await client.get(f"/incidents/{number}")
    assert "Forget saved credentials" in page.text
    assert "Applied knowledge article #2" in page.text
    again = await post_form(client, number, "articles/2/apply", {})
    assert again.status_code == 303

    assert (await post_form(client, number, "actions/accept", {})).status_code == 303
    resolved = await post_form(
        client,
        number,
        "actions/resolve",
        {
            "cause": "Expired password",
            "solution": "Password changed, credentials cleared",
            "category": "inc_type_p_network_issues",
        },
    )
    assert resolved.status_code == 303, resolved.text
    drafted = await post_form(client, number, "article", {})
    assert drafted.status_code == 303, drafted.text
    aid = article_id_of(drafted)
    form = await client.get(f"/knowledge/{aid}/edit")
    assert "Password changed, credentials cleared" in form.text
    article = await client.get(f"/knowledge/{aid}")
    assert f'href="/incidents/{number}"' in article.text
    page = await client.get(f"/incidents/{number}")
    assert f'href="/knowledge/{aid}"' in page.text

    await switch(client, "user@example.com", "demo-user")
    portal = await client.get(f"/incidents/{number}")
    assert "Forget saved credentials" in portal.text  # the reply
    assert f"/knowledge/{aid}" not in portal.text  # a staff-only draft
    assert "Applied knowledge article" not in portal.text
