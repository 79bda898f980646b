"""The Links section of the incident page through the ASGI stack, on the demo desk: the
parent banner, children and links with their states, the add and remove forms (CSRF, staff
only, refusals shown beside the form), and what an end user's page leaves out."""

from __future__ import annotations

import re

import httpx

from tests.api.test_incident_page import assert_no_internals, switch
from tests.api.test_web_pages import _number_of, client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]

OUTAGE = "Remote access gateway gw-02 drops sessions"


def section_of(html: str) -> str:
    start = html.index('id="links"')
    return html[start : html.index("</section>", start)]


async def form_post(
    http: httpx.AsyncClient, number: str, path: str, data: dict[str, str]
) -> httpx.Response:
    page = await http.get(f"/incidents/{number}")
    return await http.post(
        f"/incidents/{number}/{path}", data={"csrf_token": csrf_of(page.text), **data}
    )


async def test_staff_see_parent_children_and_links_and_change_them_by_form(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    vpn = await _number_of(client, "Cannot connect to VPN")
    outage = await _number_of(client, "gw-02")
    freeze = await _number_of(client, "freeze")
    page = await client.get(f"/incidents/{vpn}")
    banner = re.search(r'id="parent-banner">(.*?)</div>', page.text, re.DOTALL)
    assert banner is not None
    assert outage in banner.group(1)
    assert OUTAGE in banner.group(1)
    assert "In Progress" in banner.group(1)
    parent_page = await client.get(f"/incidents/{outage}")
    children = re.findall(r'class="link-child" id="child-(IM\d+)"', parent_page.text)
    assert vpn in children
    assert len(children) == 3
    assert "Causes" in section_of(parent_page.text)

    added = await form_post(
        client,
        vpn,
        "links",
        {"kind": "related", "number": freeze},
    )
    assert added.status_code == 303, added.text
    shown = await client.get(f"/incidents/{vpn}")
    assert f"Linked: related to {freeze}." in shown.text
    link_id = re.search(r'class="link-row" id="link-(\d+)"', shown.text)
    assert link_id is not None
    assert "Remote desktop sessions freeze" in section_of(shown.text)

    twice = await form_post(client, vpn, "links", {"kind": "related", "number": freeze})
    assert twice.status_code == 409
    assert "already linked" in twice.text
    assert f'value="{freeze}"' in twice.text  # what was typed stays in the form
    unknown = await form_post(client, vpn, "links", {"kind": "blocks", "number": freeze})
    assert unknown.status_code == 422
    assert "unknown link kind" in unknown.text
    bad_id = await form_post(client, vpn, "links/abc/remove", {})
    assert bad_id.status_code == 422

    removed = await form_post(client, vpn, f"links/{link_id.group(1)}/remove", {})
    assert removed.status_code == 303, removed.text
    assert 'class="link-row"' not in (await client.get(f"/incidents/{vpn}")).text
    no_csrf = await client.post(f"/incidents/{vpn}/links/parent/remove", data={})
    assert no_csrf.status_code == 403
    cleared = await form_post(client, vpn, "links/parent/remove", {})
    assert cleared.status_code == 303, cleared.text
    after = await client.get(f"/incidents/{vpn}")
    assert f"Parent {outage} removed." in after.text
    assert 'id="parent-banner"' not in after.text
    again = await form_post(client, vpn, "links/parent/remove", {})
    assert again.status_code == 404
    assert "has no parent" in again.text


async def test_end_users_see_only_their_own_linked_incidents_and_no_forms(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    vpn = await _number_of(client, "Cannot connect to VPN")
    sales = await _number_of(client, "Sales team")
    page = await client.get(f"/incidents/{vpn}")
    assert page.status_code == 200
    # The parent was opened by staff for staff: the end user does not see it.
    assert 'id="parent-banner"' not in page.text
    assert OUTAGE not in page.text
    assert 'id="link-form"' not in page.text
    assert_no_internals(page.text)
    sales_page = await client.get(f"/incidents/{sales}")
    # Related to a staff incident the user may not see: nothing of it shows.
    assert "Remote desktop sessions freeze" not in sales_page.text
    refused = await form_post(client, vpn, "links", {"kind": "related", "number": sales})
    assert refused.status_code == 403
    assert "only staff link incidents" in refused.text
    await switch(client, "tech@example.com", "demo-tech")
    staff_view = await client.get(f"/incidents/{sales}")
    assert "Remote desktop sessions freeze" in section_of(staff_view.text)


async def test_a_merged_incident_shows_no_link_forms(client: httpx.AsyncClient) -> None:
    """Its links moved to its primary, where they are changed."""
    await sign_in(client, "tech@example.com", "demo-tech")
    merged = await _number_of(client, "Mails to finance@ bounce")
    page = await client.get(f"/incidents/{merged}")
    assert page.status_code == 200
    assert 'id="link-form"' not in page.text
    assert "/links/" not in page.text
