"""Stakeholder updates through the ASGI stack: the API and its permissions, the public
status page and its Atom feed (which never show anything internal), caching, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
from sqlalchemy import select

from opsdesk.auth import service as auth_service
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.models import IncidentHistory
from opsdesk.intake.email import service as intake
from opsdesk.intake.email.outcomes import MailRules
from tests import mail_samples
from tests.api.admin_pages import as_admin
from tests.factories import Desk, create_incident

ATOM = "{http://www.w3.org/2005/Atom}"
SECRETS = (
    "SECRET-INTERNAL-TITLE",
    "SECRET-DESCRIPTION",
    "SECRET-NOTE",
    "SECRET-WORKLOG",
    "SECRET-REPLY",
    "HIDDEN-MAIL-ONLY",
)


async def _public(client: httpx.AsyncClient, desk: Desk) -> None:
    for key in ("app_website", "app_email"):
        response = await client.put(
            f"/api/v1/status-components/{key}",
            json={"public": True, "display_name": f"Public {key}"},
            headers=desk.admin.headers,
        )
        assert response.status_code == 200, response.text


async def _audience(client: httpx.AsyncClient, desk: Desk, **fields: Any) -> dict[str, Any]:
    body = {"name": "Customers", "kind": "customers", "emails": ["a@cust.test"], **fields}
    response = await client.post(
        "/api/v1/status-audiences", json=body, headers=desk.manager.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _post(
    client: httpx.AsyncClient, desk: Desk, number: str, **fields: Any
) -> httpx.Response:
    body = {"incident": number, "state": "investigating", "message": "We are looking.", **fields}
    return await client.post("/api/v1/status-updates", json=body, headers=desk.tech.headers)


async def test_two_updates_on_status_and_feed_and_nothing_internal_anywhere(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    await _public(client, desk)
    audience = await _audience(client, desk, emails=["a@cust.test", "b@cust.test"])
    incident = await create_incident(
        client,
        desk.tech,
        title="SECRET-INTERNAL-TITLE db-7 failover",
        description="SECRET-DESCRIPTION root password rotated",
        level="P1",
        application="app_website",
        service_interrupted=True,
    )
    number = incident["number"]
    for body in (
        {"body": "SECRET-NOTE customer X is angry", "internal": True},
        {"body": "SECRET-REPLY to the reporter"},
    ):
        answer = await client.post(
            f"/api/v1/incidents/{number}/conversations", json=body, headers=desk.tech.headers
        )
        assert answer.status_code == 201, answer.text
    logged = await client.post(
        f"/api/v1/incidents/{number}/worklogs",
        json={"description": "SECRET-WORKLOG restarted pods", "time_spent_minutes": 5},
        headers=desk.tech.headers,
    )
    assert logged.status_code == 201, logged.text

    first = await _post(
        client,
        desk,
        number,
        title="Website unavailable",
        message="The website is down. We are investigating <urgently> & carefully.",
        audience_ids=[audience["id"]],
    )
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/api/v1/status-updates/{first.json()['id']}"
    second = await _post(
        client, desk, number, state="identified", message="Cause found; fixing it."
    )
    assert second.status_code == 201, second.text
    assert second.json()["title"] == "Website unavailable"
    public_id = second.json()["public_id"]

    # Another incident whose update is mailed only: never on the page.
    other = await create_incident(client, desk.tech, title="SECRET-INTERNAL-TITLE 2")
    hidden = await _post(
        client,
        desk,
        other["number"],
        title="HIDDEN-MAIL-ONLY title",
        message="HIDDEN-MAIL-ONLY text",
        is_public=False,
        audience_ids=[audience["id"]],
    )
    assert hidden.status_code == 201, hidden.text

    # Anonymous: the page, the incident's page and the feed.
    page = await client.get("/status")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    html = page.text
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/status/feed.atom"' in html
    assert "Website unavailable" in html and "Cause found; fixing it." in html
    assert "&lt;urgently&gt; &amp; carefully" in html
    assert html.index("Cause found") < html.index("The website is down")  # newest first
    assert "Public app_website" in html and "Major outage" in html
    detail = await client.get(f"/status/incidents/{public_id}")
    assert detail.status_code == 200 and "Cause found" in detail.text
    feed = await client.get("/status/feed.atom")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)  # noqa: S314 - our own feed, parsed to check it
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    contents = [entry.findtext(f"{ATOM}content") for entry in entries]
    assert contents[1] == "The website is down. We are investigating <urgently> & carefully."
    assert entries[0].findtext(f"{ATOM}title") == "Identified: Website unavailable"
    assert all(entry.findtext(f"{ATOM}id") for entry in entries)

    async with db.read() as session:
        names = [
            (await auth_service.get_user(session=session, user_id=actor.id)).name
            for actor in (desk.tech, desk.manager, desk.admin)
        ]
    planted = [*SECRETS, number, other["number"], *names, desk.tech.id, "cust.test"]
    for body in (html, detail.text, feed.text):
        for text in planted:
            assert text not in body, text
    assert (await client.get(f"/status/incidents/{hidden.json()['public_id']}")).status_code == 404

    # One mail per recipient (customers never see each other), and the history row.
    async with db.read() as session:
        mails = [
            job.payload
            for job in await session.scalars(select(Job).where(Job.kind == "mail.deliver"))
            if job.payload.get("event") == "status_update"
        ]
        rows = list(
            await session.scalars(
                select(IncidentHistory).where(IncidentHistory.action == "incident_status_update")
            )
        )
    assert sorted(mail["to"] for mail in mails) == ["a@cust.test"] * 2 + ["b@cust.test"] * 2
    assert all(number not in mail["subject"] + mail["text"] for mail in mails)
    assert all("SECRET" not in mail["subject"] + mail["text"] for mail in mails)
    assert len(rows) == 3 and all(row.internal for row in rows)
    assert rows[0].comment.startswith("Status update posted: investigating")

    # Staff list and read them.
    listed = await client.get(
        "/api/v1/status-updates", params={"incident": number}, headers=desk.tech.headers
    )
    assert listed.status_code == 200
    assert [item["state"] for item in listed.json()["items"]] == ["identified", "investigating"]
    by_app = await client.get(
        "/api/v1/status-updates", params={"application": "app_website"}, headers=desk.tech.headers
    )
    assert by_app.json()["total"] == 2
    one = await client.get(
        f"/api/v1/status-updates/{first.json()['id']}", headers=desk.tech.headers
    )
    assert one.status_code == 200 and one.json()["recipient_count"] == 2


async def test_internal_stakeholders_mails_name_the_incident_number_customers_never(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    internal = await _audience(
        client,
        desk,
        name="Service owners",
        kind="internal",
        emails=["owner@corp.test", "shared@corp.test"],
        user_ids=[desk.manager.id],
    )
    customers = await _audience(client, desk, emails=["a@cust.test", "shared@corp.test"])
    number = (await create_incident(client, desk.tech, title="SECRET-INTERNAL-TITLE"))["number"]
    posted = await _post(
        client,
        desk,
        number,
        title="Website slow",
        audience_ids=[internal["id"], customers["id"]],
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["recipient_count"] == 4
    async with db.read() as session:
        mails = {
            job.payload["to"]: job.payload
            for job in await session.scalars(select(Job).where(Job.kind == "mail.deliver"))
            if job.payload.get("event") == "status_update"
        }
    assert sorted(mails) == [
        "a@cust.test",
        "manager@desk.test",
        "owner@corp.test",
        "shared@corp.test",
    ]
    for address in ("owner@corp.test", "manager@desk.test"):
        mail = mails[address]
        assert mail["subject"] == f"Incident {number}: [Investigating] Website slow"
        assert mail["text"].startswith("We are investigating a problem affecting")  # as before
        assert mail["text"].endswith(f"Incident: {number}")
        assert number in mail["html"]
    # A customer, and an address that is a customer's too, get the mail without the number.
    for address in ("a@cust.test", "shared@corp.test"):
        mail = mails[address]
        assert mail["subject"] == "[Investigating] Website slow"
        assert all(number not in mail[part] for part in ("subject", "text", "html"))
    for mail in mails.values():
        assert "SECRET" not in mail["subject"] + mail["text"] + mail["html"]
        assert f"[#{number}]" not in mail["subject"]  # a reply must not land on the incident


async def test_an_audience_address_that_bounces_is_skipped_and_recorded_the_others_mailed(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    # The address bounced a status mail before: inbound mail reads the report and marks it.
    rules = MailRules(our_address="opsdesk@localhost", our_domain="localhost", storage_dir=tmp_path)
    report = mail_samples.dsn_bounce("<status-abc.1.x@localhost>", "Gone@Cust.test", "")
    async with db.write() as session:
        await intake.store_mail(session, raw=report, door="smtp", now=clock.now())
    async with db.write() as session:
        await intake.process_pending(session, rules=rules, now=clock.now())
    audience = await _audience(
        client, desk, emails=["a@cust.test", "gone@cust.test", "b@cust.test"]
    )
    number = (await create_incident(client, desk.tech, title="Shop"))["number"]
    posted = await _post(client, desk, number, title="Shop down", audience_ids=[audience["id"]])
    assert posted.status_code == 201, posted.text
    async with db.read() as session:
        rows = [
            job
            for job in await session.scalars(select(Job).where(Job.kind == "mail.deliver"))
            if job.payload.get("event") == "status_update"
        ]
        history = list(
            await session.scalars(
                select(IncidentHistory.comment).where(
                    IncidentHistory.action == HistoryAction.STATUS_UPDATE
                )
            )
        )
    sent = sorted(job.payload["to"] for job in rows if job.state == "ready")
    assert sent == ["a@cust.test", "b@cust.test"]
    [skipped] = [job for job in rows if job.state == "done"]
    assert skipped.payload["to"] == "gone@cust.test" and skipped.attempts == 0
    assert skipped.payload["subject"] == "[Investigating] Shop down"
    assert skipped.last_error is not None
    assert skipped.last_error.startswith("skipped: address bounces (1 bounce")
    assert "failed 5.1.1" in skipped.last_error
    assert any("mailed to 3 recipients" in c and "1 not mailed" in c for c in history if c)
    await as_admin(client)
    page = (await client.get("/admin/notifications")).text
    unsent = page[page.index('id="skipped-mails"') : page.index('id="webhooks"')]
    assert "gone@cust.test" in unsent and "status_update" in unsent
    assert "a@cust.test" not in unsent and number not in unsent


async def test_caching_headers_and_etag(client: httpx.AsyncClient, desk: Desk) -> None:
    for path in ("/status", "/status/feed.atom"):
        first = await client.get(path)
        assert first.headers["cache-control"] == "public, max-age=30"
        etag = first.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
    assert (await client.get("/status/incidents/nope")).status_code == 404


async def test_permissions(client: httpx.AsyncClient, desk: Desk) -> None:
    incident = await create_incident(client, desk.user, title="Mine")
    body = {"incident": incident["number"], "state": "investigating", "message": "x", "title": "t"}
    # End users cannot post or read the API; anonymous callers neither; /status is open.
    assert (
        await client.post("/api/v1/status-updates", json=body, headers=desk.user.headers)
    ).status_code == 403
    assert (
        await client.get("/api/v1/status-updates", headers=desk.user.headers)
    ).status_code == 403
    assert (await client.get("/api/v1/status-updates")).status_code == 401
    assert (await client.post("/api/v1/status-updates", json=body)).status_code == 401
    assert (await client.get("/status")).status_code == 200
    # Audiences: managers change them, technicians only read them; templates and
    # components are the administrators'.
    audience = {"name": "Owners", "kind": "internal", "emails": ["o@x.test"]}
    assert (
        await client.post("/api/v1/status-audiences", json=audience, headers=desk.tech.headers)
    ).status_code == 403
    assert (
        await client.get("/api/v1/status-audiences", headers=desk.tech.headers)
    ).status_code == 200
    template = {"subject": "s", "body": "b {message}", "message": "m"}
    assert (
        await client.put(
            "/api/v1/status-templates/identified", json=template, headers=desk.manager.headers
        )
    ).status_code == 403
    assert (
        await client.put(
            "/api/v1/status-components/app_email", json={}, headers=desk.manager.headers
        )
    ).status_code == 403


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return str(response.json())


async def test_bad_input_names_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    incident = await create_incident(client, desk.tech, title="Broken")
    number = incident["number"]
    assert "title" in _field(await _post(client, desk, number))  # first needs a public title
    assert "state" in _field(await _post(client, desk, number, state="exploded", title="t"))
    assert "message" in _field(await _post(client, desk, number, message="", title="t"))
    assert "audience_ids.0" in _field(
        await _post(client, desk, number, title="t", audience_ids=[999])
    )
    assert "application" in _field(
        await _post(client, desk, number, title="t", application="app_nope")
    )
    assert "audience_ids" in _field(await _post(client, desk, number, title="t", is_public=False))
    missing = await _post(client, desk, "IM-NOPE", title="t")
    assert missing.status_code == 404
    assert (await _post(client, desk, number, title="t", state="resolved")).status_code == 201
    assert "state" in _field(await _post(client, desk, number, state="monitoring"))
    reopened = await _post(client, desk, number, state="investigating")
    assert reopened.status_code == 201

    bad_mail = await client.post(
        "/api/v1/status-audiences",
        json={"name": "x", "kind": "internal", "emails": ["ok@x.test", "nope"]},
        headers=desk.manager.headers,
    )
    assert "emails.1" in _field(bad_mail)
    bad_kind = await client.post(
        "/api/v1/status-audiences",
        json={"name": "x", "kind": "everyone", "emails": ["ok@x.test"]},
        headers=desk.manager.headers,
    )
    assert "kind" in _field(bad_kind)
    empty = await client.post(
        "/api/v1/status-audiences",
        json={"name": "x", "kind": "internal"},
        headers=desk.manager.headers,
    )
    assert "emails" in _field(empty)
    template = {"subject": "{state}", "body": "{secret_field}", "message": "m"}
    refused = await client.put(
        "/api/v1/status-templates/identified", json=template, headers=desk.admin.headers
    )
    assert "body" in _field(refused) and "secret_field" in refused.text
    unknown_state = await client.put(
        "/api/v1/status-templates/exploded",
        json={"subject": "s", "body": "b", "message": "m"},
        headers=desk.admin.headers,
    )
    assert "state" in _field(unknown_state)


async def test_audience_crud_templates_and_components(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    created = await _audience(client, desk, name="Owners", kind="internal", user_ids=[desk.tech.id])
    path = f"/api/v1/status-audiences/{created['id']}"
    assert (await client.get(path, headers=desk.tech.headers)).json()["user_ids"] == [desk.tech.id]
    changed = await client.put(
        path,
        json={"name": "Owners 2", "kind": "internal", "emails": ["X@Y.test"], "active": False},
        headers=desk.admin.headers,
    )
    assert changed.status_code == 200 and changed.json()["emails"] == ["x@y.test"]
    twin = await client.post(
        "/api/v1/status-audiences",
        json={"name": "Owners 2", "kind": "internal", "emails": ["z@y.test"]},
        headers=desk.manager.headers,
    )
    assert twin.status_code == 409
    assert (await client.delete(path, headers=desk.manager.headers)).status_code == 204
    assert (await client.get(path, headers=desk.tech.headers)).status_code == 404

    template = {
        "subject": "[{state}] {title}",
        "body": "{message}\n-- {status_url}",
        "message": "Hi",
    }
    saved = await client.put(
        "/api/v1/status-templates/monitoring", json=template, headers=desk.admin.headers
    )
    assert saved.status_code == 200 and saved.json()["customized"] is True
    listed = await client.get("/api/v1/status-templates", headers=desk.tech.headers)
    assert [item["state"] for item in listed.json()] == [
        "investigating",
        "identified",
        "monitoring",
        "resolved",
    ]
    reset = await client.delete("/api/v1/status-templates/monitoring", headers=desk.admin.headers)
    assert reset.json()["customized"] is False

    override = await client.put(
        "/api/v1/status-components/app_erp",
        json={"public": True, "override": "degraded"},
        headers=desk.admin.headers,
    )
    assert override.status_code == 200 and override.json()["state"] == "degraded"
    assert (
        await client.put("/api/v1/status-components/app_nope", json={}, headers=desk.admin.headers)
    ).status_code == 404
    components = await client.get("/api/v1/status-components", headers=desk.tech.headers)
    assert any(item["application"] == "app_erp" and item["public"] for item in components.json())
    assert "Degraded performance" in (await client.get("/status")).text
