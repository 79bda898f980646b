"""The incident page through the ASGI stack: the staff working view (two composers, one-click
actions, in-place edits guarded by the version) and the end user's portal (plain words, no
internals, "Is it fixed?" first, withdraw)."""

from __future__ import annotations

import re

import httpx

from tests.api.test_web_pages import client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]

# What the desk keeps to itself: none of it may reach an end user's page.
INTERNALS = (
    "Assigned because",
    "assignment rule",
    "SLA",
    "policy",
    "Enterprise project",
    "Version",
    "version",
    "commit solution",
    "Channel",
    "Source",
    "Workgroup",
    "Work log",
    "Internal note",
    "sla_target",
    "incident_",
    "Network operations",
    "Impact",
    "Urgency",
)


def main_of(html: str) -> str:
    start, end = html.index("<main"), html.index("</main>")
    return html[start:end]


def assert_no_internals(html: str) -> None:
    shown = main_of(html)
    leaked = [word for word in INTERNALS if word in shown]
    assert not leaked, f"the portal shows internals: {leaked}"


async def report(http: httpx.AsyncClient, title: str) -> str:
    page = await http.get("/incidents/new")
    created = await http.post(
        "/incidents/new",
        data={
            "title": title,
            "description": "The VPN client drops every ten minutes.",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert created.status_code == 303, created.text
    number: str = created.headers["location"].rsplit("/", 1)[-1]
    return number


async def switch(http: httpx.AsyncClient, email: str, password: str) -> None:
    page = await http.get("/incidents")
    await http.post("/logout", data={"csrf_token": csrf_of(page.text)})
    await sign_in(http, email, password)


async def post_form(
    http: httpx.AsyncClient, number: str, path: str, data: dict[str, str]
) -> httpx.Response:
    page = await http.get(f"/incidents/{number}")
    return await http.post(
        f"/incidents/{number}/{path}", data={"csrf_token": csrf_of(page.text), **data}
    )


async def test_the_end_user_reads_a_conversation_without_internals(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "VPN drops in the portal test")
    page = await client.get(f"/incidents/{number}")
    assert page.status_code == 200
    assert_no_internals(page.text)
    assert "Received: waiting for someone to pick it up" in page.text
    assert 'action="/incidents/' + number + '/actions/withdraw"' in page.text
    assert "Is it fixed?" not in page.text

    await switch(client, "tech@example.com", "demo-tech")
    staff = await client.get(f"/incidents/{number}")
    # Staff see the internals, and no withdraw: only the reporter may.
    assert "Assigned because" in staff.text and "/actions/withdraw" not in staff.text
    assert (await post_form(client, number, "actions/accept", {})).status_code == 303
    note = await post_form(client, number, "note", {"body": "probably the MTU again"})
    assert note.status_code == 303
    reply = await post_form(
        client, number, "reply", {"body": "Please restart the client once.", "internal": "yes"}
    )
    assert reply.status_code == 303
    resolved = await post_form(
        client,
        number,
        "actions/resolve",
        {
            "cause": "MTU mismatch on the concentrator",
            "solution": "We fixed the VPN settings on our side.",
            "category": "inc_type_p_network_issues",
        },
    )
    assert resolved.status_code == 303, resolved.text

    await switch(client, "user@example.com", "demo-user")
    page = await client.get(f"/incidents/{number}")
    assert_no_internals(page.text)
    shown = main_of(page.text)
    # The reply is public even though the form tried to mark it internal; the note is not.
    assert "Please restart the client once." in shown
    assert "probably the MTU" not in shown
    assert "We are working on it" in shown and "Tess Technician" in shown
    assert "Resolved" in shown and "We fixed the VPN settings on our side." in shown
    # The question comes first, before the conversation.
    assert shown.index("Is it fixed?") < shown.index("Conversation")
    fixed = await post_form(client, number, "actions/confirm", {"accepted": "yes"})
    assert fixed.status_code == 303
    page = await client.get(f"/incidents/{number}")
    shown = main_of(page.text)
    assert "Confirmed: it is fixed" in shown
    assert shown.index('id="feedback-form"') < shown.index("Conversation")
    rated = await post_form(client, number, "feedback", {"rating": "5", "comment": "quick"})
    assert rated.status_code == 303
    assert "5/5" in (await client.get(f"/incidents/{number}")).text


async def test_the_reporter_withdraws_a_report_nobody_has_taken(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "Printer withdrawn in the portal test")
    withdrawn = await post_form(client, number, "actions/withdraw", {})
    assert withdrawn.status_code == 303
    page = await client.get(f"/incidents/{number}")
    assert "You withdrew this report" in page.text
    assert "Withdrawn" in main_of(page.text)
    assert "/actions/withdraw" not in page.text
    assert "/actions/reopen" not in page.text
    history = (await client.get(f"/api/v1/incidents/{number}/history")).json()
    assert history[-1]["action"] == "incident_withdraw"
    again = await post_form(client, number, "actions/withdraw", {})
    assert again.status_code == 409
    assert "no longer possible" in again.text


async def test_staff_get_two_composers_one_click_actions_and_plain_errors(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "Staff composers test")
    await switch(client, "tech@example.com", "demo-tech")
    page = await client.get(f"/incidents/{number}")
    html = page.text
    assert f'action="/incidents/{number}/reply"' in html
    assert f'action="/incidents/{number}/note"' in html
    assert (
        'name="internal"'
        not in html[
            html.index('id="reply-form"') : html.index("</form>", html.index('id="reply-form"'))
        ]
    )
    # Accept needs no parameter: a button, not a form to open.
    accept = re.search(r'<form[^>]*id="action-accept"', html)
    assert accept is not None and "<details" not in accept.group(0)
    assert '<details class="action-form" id="action-reject"' in html
    # A forward without a target is refused in words, not parameter names.
    refused = await post_form(client, number, "actions/forward", {"comment": "over to you"})
    assert refused.status_code == 422
    assert "Choose where it goes: a person, a workgroup or a shift." in refused.text
    assert "assignee_id:" not in refused.text
    assert '<details class="action-form" id="action-forward" open' in refused.text


async def test_fields_are_edited_in_place_and_a_stale_edit_shows_who_changed_it(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "tech@example.com", "demo-tech")
    number = await report(client, "Edit conflict test")
    form = await client.get(f"/incidents/{number}", params={"edit": "classification"})
    assert f'action="/incidents/{number}/edit/classification"' in form.text
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version is not None
    token = csrf_of(form.text)
    fields = {"category": "", "application": "", "region": "", "impact": "1", "urgency": "3"}
    first = await client.post(
        f"/incidents/{number}/edit/classification",
        data={"csrf_token": token, "version": version.group(1), **fields},
    )
    assert first.status_code == 303, first.text
    page = await client.get(f"/incidents/{number}")
    assert "Classification saved." in page.text
    # A second edit from the same, now stale, form: refused, nothing saved, mine kept.
    stale = await client.post(
        f"/incidents/{number}/edit/classification",
        data={"csrf_token": token, "version": version.group(1), **fields, "urgency": "1"},
    )
    assert stale.status_code == 412
    assert "Changed by Tess Technician at" in stale.text and "meanwhile" in stale.text
    assert ">Keep mine</button>" in stale.text and 'id="conflict-reload"' in stale.text
    assert '<option value="1" selected>High</option>' in stale.text
    api = (await client.get(f"/api/v1/incidents/{number}")).json()
    assert (api["impact"], api["urgency"]) == (1, 3)
    fresh = re.search(r'name="version" value="(\d+)"', stale.text)
    assert fresh is not None and int(fresh.group(1)) == api["version"]
    kept = await client.post(
        f"/incidents/{number}/edit/classification",
        data={"csrf_token": token, "version": fresh.group(1), **fields, "urgency": "1"},
    )
    assert kept.status_code == 303
    assert (await client.get(f"/api/v1/incidents/{number}")).json()["urgency"] == 1
    # A bad value is named in words beside the form; an end user may not edit here.
    bad = await client.post(
        f"/incidents/{number}/edit/summary",
        data={"csrf_token": token, "version": str(api["version"] + 1), "title": " "},
    )
    assert bad.status_code == 422 and "Title" in bad.text
    await switch(client, "user@example.com", "demo-user")
    mine = await report(client, "End users do not edit here")
    page = await client.get(f"/incidents/{mine}")
    assert "/edit/" not in page.text
    refused = await client.post(
        f"/incidents/{mine}/edit/summary",
        data={"csrf_token": csrf_of(page.text), "version": "1", "title": "changed"},
    )
    assert refused.status_code == 403
    assert "Only staff edit" in refused.text
    assert (await client.get(f"/api/v1/incidents/{mine}")).json()["title"] != "changed"
