"""Notification admin pages: rules, templates previewed on a real incident, webhooks, deliveries."""

from __future__ import annotations

import re

import httpx
import pytest

from opsdesk.core import jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.notify import service as notify_service
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
        [job] = await jobs.claim(session, worker_id="w:1", now=clock.now(), limit=1, lease_s=30)
        assert job.payload["subscription_id"] == webhook_id
        await jobs.fail(session, job_id=job.id, worker_id="w:1", error="HTTP 500", now=clock.now())
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
