"""Downgrading a major incident from the incident page (SQLite and PostgreSQL): who is
offered the form, CSRF, the required reason shown beside its field, and what the incident
page and the war room page show after a downgrade."""

from __future__ import annotations

from typing import Any

import httpx

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_desk_pages import PASSWORD, sign_in, staff
from tests.factories import Actor, Desk, create_incident

FORM = 'id="major-downgrade-form"'


async def declared(client: httpx.AsyncClient, desk: Desk, manager: Actor) -> dict[str, Any]:
    """An end user's incident, declared major by a technician with ``manager`` in charge."""
    number = (await create_incident(client, desk.user, title="Payroll export fails"))["number"]
    answer = await client.post(
        f"/api/v1/incidents/{number}/major",
        json={"reason": "all payroll runs fail", "manager_id": manager.id},
        headers=desk.tech.headers,
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    assert body["war_room_status"] == "started"
    return body


async def major_of(client: httpx.AsyncClient, desk: Desk, number: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/incidents/{number}/major", headers=desk.manager.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def as_user(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in afresh as ``email``; the page's CSRF token."""
    client.cookies.clear()
    return await sign_in(client, email, password)


async def test_only_those_who_may_downgrade_get_the_form(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    manager = await staff(db, clock, Role.INCIDENT_MANAGER, "im-pages@desk.test")
    tech = await staff(db, clock, Role.TECHNICIAN, "tech-pages@desk.test")
    lead = await staff(db, clock, Role.TECHNICIAN, "lead-pages@desk.test")
    number = (await declared(client, desk, desk.manager))["incident_number"]

    await as_user(client, manager.caller.email)
    page = await client.get(f"/incidents/{number}")
    assert page.status_code == 200 and FORM in page.text
    assert 'for="downgrade-reason"' in page.text

    # A technician sees the section but not the form, and the service refuses the post.
    csrf = await as_user(client, tech.caller.email)
    page = await client.get(f"/incidents/{number}")
    assert 'id="major-heading"' in page.text and FORM not in page.text
    refused = await client.post(
        f"/incidents/{number}/major/downgrade", data={"csrf_token": csrf, "reason": "not major"}
    )
    assert refused.status_code == 403
    assert 'id="form-error"' in refused.text
    assert "Only an incident manager or this major incident&#39;s manager may" in refused.text
    # Who is asking is checked before what was typed: no reason is still a 403 for them.
    empty = await client.post(
        f"/incidents/{number}/major/downgrade", data={"csrf_token": csrf, "reason": ""}
    )
    assert empty.status_code == 403
    assert (await major_of(client, desk, number))["active"] is True

    # The end user's portal page has no major section at all; posting is refused.
    csrf = await as_user(client, desk.user.caller.email, "user-password")
    page = await client.get(f"/incidents/{number}")
    assert page.status_code == 200
    assert 'id="major-heading"' not in page.text and FORM not in page.text
    refused = await client.post(
        f"/incidents/{number}/major/downgrade", data={"csrf_token": csrf, "reason": "not major"}
    )
    assert refused.status_code == 403
    assert (await major_of(client, desk, number))["active"] is True

    # A technician who is this major incident's manager is offered the form.
    other = (await declared(client, desk, lead))["incident_number"]
    await as_user(client, lead.caller.email)
    assert FORM in (await client.get(f"/incidents/{other}")).text
    assert FORM not in (await client.get(f"/incidents/{number}")).text


async def test_downgrade_needs_a_reason_then_closes_the_war_room(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    manager = await staff(db, clock, Role.INCIDENT_MANAGER, "im-pages@desk.test")
    major = await declared(client, desk, desk.manager)
    number, room_id, room_number = (
        major["incident_number"],
        major["war_room_id"],
        major["war_room_number"],
    )
    csrf = await as_user(client, manager.caller.email)
    url = f"/incidents/{number}/major/downgrade"

    # Without the session's CSRF token: refused, nothing changed.
    forged = await client.post(url, data={"csrf_token": "forged", "reason": "not major"})
    assert forged.status_code == 403
    assert (await major_of(client, desk, number))["active"] is True

    # Without a reason (or only blanks): 422, the error beside the reason field.
    for blank in ("", "   "):
        missing = await client.post(url, data={"csrf_token": csrf, "reason": blank})
        assert missing.status_code == 422, missing.text
        assert 'id="downgrade-reason-error"' in missing.text
        assert "Reason is required." in missing.text
        assert 'aria-invalid="true"' in missing.text
        assert '<details class="action-form" id="major-downgrade" open>' in missing.text
    still = await major_of(client, desk, number)
    assert still["active"] is True and still["war_room_status"] == "started"
    room = await client.get(f"/api/v1/war-rooms/{room_id}", headers=desk.manager.headers)
    assert room.json()["status"] == "started"

    # With a reason: an ordinary incident again, its war room closed with the reason.
    done = await client.post(url, data={"csrf_token": csrf, "reason": "only one user affected"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/incidents/{number}#major"
    page = (await client.get(f"/incidents/{number}")).text
    assert f"Downgraded to an ordinary incident. War room {room_number} closed." in page
    assert '<span class="badge badge-alert">Major incident</span>' not in page
    assert FORM not in page
    assert "only one user affected" in page[page.index('id="history"') :]
    assert "Downgraded from major incident: only one user affected" in page
    after = await major_of(client, desk, number)
    assert after["active"] is False and after["downgrade_reason"] == "only one user affected"
    incident = await client.get(f"/api/v1/incidents/{number}", headers=desk.manager.headers)
    assert incident.json()["major"] is False
    room = await client.get(f"/api/v1/war-rooms/{room_id}", headers=desk.manager.headers)
    assert room.json()["status"] == "closed"

    # The war room page says a downgrade closed it, and why.
    room_page = (await client.get(f"/war-rooms/{room_id}")).text
    assert 'id="war-room-closed"' in room_page
    assert "by a downgrade: the incident is no longer a major incident" in room_page
    assert "(only one user affected)" in room_page
    assert "No longer a major incident" in room_page

    # Downgrading again: nothing to downgrade, said on the page.
    again = await client.post(url, data={"csrf_token": csrf, "reason": "again"})
    assert again.status_code == 404
    assert "is not a major incident" in again.text


async def test_a_room_closed_by_its_manager_does_not_claim_a_downgrade(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    manager = await staff(db, clock, Role.INCIDENT_MANAGER, "im-pages@desk.test")
    room_id = (await declared(client, desk, desk.manager))["war_room_id"]
    closed = await client.patch(
        f"/api/v1/war-rooms/{room_id}",
        json={"status": "closed", "fault_cause": "disk full", "fault_impact": "payroll late"},
        headers=desk.manager.headers,
    )
    assert closed.status_code == 200, closed.text
    await as_user(client, manager.caller.email)
    room_page = (await client.get(f"/war-rooms/{room_id}")).text
    assert 'id="war-room-closed"' in room_page
    assert "by a downgrade" not in room_page
    assert "Major incident ·" in room_page
