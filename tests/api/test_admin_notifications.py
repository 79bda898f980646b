"""Notification admin pages: rules, templates previewed on a real incident, webhooks, deliveries,
addresses that bounce."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from opsdesk.core import job_claims
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from opsdesk.intake.email import service as intake
from opsdesk.notify import service as notify_service
from tests import mail_samples
from tests.api.admin_pages import NOT_ADMINS, as_admin, as_someone, error_beside
from tests.factories import Desk, create_incident


async def test_rules_are_saved_from_the_grid(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    csrf = await as_admin(client)
    page = await client.get("/admin/notifications")
    assert page.status_code == 200 and 'name="created:group"' in page.text
    form = {"csrf_token": csrf, "created:enabled": "on", "created:reporter": "on"}
    saved = await client.post("/admin/notifications/rules", data=form)
    assert saved.status_code == 303
    async with db.read() as session:
        rules = {
            r.event: r
            for r in await notify_service.get_rules(session=session, caller=desk.admin.caller)
        }
    assert (rules["created"].recipients, rules["created"].enabled) == (["reporter"], True)
    assert (rules["resolved"].recipients, rules["resolved"].enabled) == ([], False)


async def test_a_template_is_previewed_on_a_real_incident_then_saved_and_reset(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    incident = await create_incident(client, desk.user, title="Printer on fire")
    csrf = await as_admin(client)
    url = "/admin/mail-templates/resolved"
    assert (await client.get(url)).status_code == 200
    template = {
        "csrf_token": csrf,
        "subject": "Fixed: {{ incident.title }}",
        "text_body": "Hello {{ recipient_name }}, {{ incident.number }} is resolved.",
        "html_body": "<p>{{ incident.title }}</p>",
        "number": incident["number"],
    }
    broken = await client.post(url, data={**template, "text_body": "{{ oops", "action": "save"})
    assert broken.status_code == 422 and "Syntax error" in error_beside(broken.text, "text_body")
    unknown = await client.post(url, data={**template, "number": "IM000", "action": "preview"})
    assert unknown.status_code == 422 and error_beside(unknown.text, "number")
    preview = await client.post(url, data={**template, "action": "preview"})
    assert preview.status_code == 200
    assert '<span id="preview-subject">Fixed: Printer on fire</span>' in preview.text
    assert f"{incident['number']} is resolved." in preview.text
    shown = await client.get(url)
    assert "the shipped template" in shown.text  # a preview saves nothing
    saved = await client.post(url, data={**template, "action": "save"})
    assert saved.status_code == 303
    assert 'value="Fixed: {{ incident.title }}"' in (await client.get(url)).text
    reset = await client.post(f"{url}/reset", data={"csrf_token": csrf})
    assert reset.status_code == 303
    assert "the shipped template" in (await client.get(url)).text
    assert (await client.get("/admin/mail-templates/nonsense")).status_code == 404


async def test_webhooks_are_added_tested_and_their_deliveries_listed(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    csrf = await as_admin(client)
    hook = {
        "csrf_token": csrf,
        "url": "https://hooks.example.com/opsdesk",
        "secret": "s" * 20,
        "events": ["incident.created"],
        "description": "chat bridge",
    }
    bad_url = await client.post("/admin/webhooks", data={**hook, "url": "ftp://x"})
    assert bad_url.status_code == 422 and "http" in error_beside(bad_url.text, "url")
    short = await client.post("/admin/webhooks", data={**hook, "secret": "short"})
    assert short.status_code == 422 and error_beside(short.text, "secret")
    assert "s" * 20 not in short.text  # the secret is never echoed
    made = await client.post("/admin/webhooks", data=hook)
    assert made.status_code == 303
    page_url = made.headers["location"]
    webhook_id = int(page_url.rsplit("/", 1)[1])
    assert "No deliveries yet." in (await client.get(page_url)).text

    sent = await client.post(f"{page_url}/test", data={"csrf_token": csrf})
    assert sent.status_code == 303
    log = await client.get(page_url)
    assert "Test delivery" in log.text and re.search(
        r"<td>webhook.test</td><td>Waiting</td>", log.text
    )
    async with db.write() as session:
        [job] = await job_claims.claim(
            session, worker_id="w:1", now=clock.now(), limit=1, lease_s=30
        )
        assert job.payload["subscription_id"] == webhook_id
        await job_claims.fail(
            session, job_id=job.id, worker_id="w:1", error="HTTP 500", now=clock.now()
        )
    failed = await client.get(page_url)
    assert "<td>Failed</td>" in failed.text and "HTTP 500" in failed.text
    deleted = await client.post(f"{page_url}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (await client.get(page_url)).status_code == 404


@pytest.mark.parametrize("who", NOT_ADMINS)
async def test_notification_pages_are_for_admins_only(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    csrf = await as_someone(client, desk, db, clock, who)
    assert (await client.get("/admin/notifications")).status_code == 403
    assert (await client.get("/admin/mail-templates/created")).status_code == 403
    posted = await client.post(
        "/admin/webhooks",
        data={"csrf_token": csrf, "url": "https://x.test/", "secret": "s" * 20, "events": "*"},
    )
    assert posted.status_code == 403


async def test_bouncing_addresses_and_their_unsent_mails_are_listed_and_cleared(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    incident = await create_incident(client, desk.tech, title="Printer", reporter_id=desk.user.id)
    number = incident["number"]
    async with db.read() as session:
        incident_id = await session.scalar(select(Incident.id).where(Incident.number == number))
    assert incident_id is not None
    rules = intake.MailRules(
        our_address="opsdesk@localhost", our_domain="localhost", storage_dir=tmp_path
    )
    report = mail_samples.dsn_bounce(f"<incident-{number}@localhost>", "user@desk.test", number)
    async with db.write() as session:
        await intake.store_mail(session, raw=report, door="smtp", now=clock.now())
    async with db.write() as session:
        await intake.process_pending(session, rules=rules, now=clock.now())
    async with db.write() as session:
        queued = await notify_service.notify_incident_event(
            session,
            incident_id=incident_id,
            event="resolved",
            actor_id=desk.tech.id,
            now=clock.now(),
        )
    assert queued == 0
    headers = desk.admin.headers
    listed = (await client.get("/api/v1/admin/bouncing-addresses", headers=headers)).json()
    assert [(row["address"], row["bounces"]) for row in listed] == [("user@desk.test", 1)]
    assert "5.1.1" in listed[0]["last_status"]
    done = await client.get(
        "/api/v1/admin/jobs", params={"state": "done", "kind": "mail.deliver"}, headers=headers
    )
    [skipped] = [job for job in done.json()["items"] if job["payload"]["to"] == "user@desk.test"]
    assert skipped["last_error"].startswith("skipped: address bounces (1 bounce")

    csrf = await as_admin(client)
    page = (await client.get("/admin/notifications")).text
    bouncing = page[page.index('id="bouncing-list"') : page.index('id="skipped-heading"')]
    assert "<td>user@desk.test</td><td>1</td>" in bouncing and "failed 5.1.1" in bouncing
    unsent = page[page.index('id="skipped-mails"') : page.index('id="webhooks"')]
    assert f'<a href="/incidents/{number}">{number}</a>' in unsent
    assert "user@desk.test" in unsent and "skipped: address bounces" in unsent
    cleared = await client.post(
        "/admin/notifications/bouncing/clear",
        data={"csrf_token": csrf, "address": "User@Desk.test"},
    )
    assert cleared.status_code == 303
    page = (await client.get("/admin/notifications")).text
    assert "user@desk.test gets notifications again." in page
    assert "No address bounces." in page
    again = await client.delete("/api/v1/admin/bouncing-addresses/user@desk.test", headers=headers)
    assert again.status_code == 404 and again.json()["error"]["field"] == "address"
    async with db.write() as session:
        queued = await notify_service.notify_incident_event(
            session,
            incident_id=incident_id,
            event="completed",
            actor_id=desk.tech.id,
            now=clock.now(),
        )
    assert queued == 1  # mailed again once cleared
