"""The operator view of inbound mail: the admin API and the admin page."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.intake.email import service
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.intake.email.parser import parse_mail
from tests import mail_samples as samples
from tests.api.test_web_pages import csrf_of, sign_in
from tests.factories import Desk


async def receive(db: Database, clock: FixedClock, rules: MailRules, raw: bytes) -> int:
    async with db.write() as session:
        stored = await service.store_mail(session, raw=raw, door="smtp", now=clock.now())
    async with db.write() as session:
        await service.process_pending(session, rules=rules, now=clock.now())
    return stored.id


@pytest.fixture
def rules(tmp_path: Path) -> MailRules:
    # What the app's settings give (mail_from opsdesk@localhost), with a rate limit of 1.
    return MailRules(
        our_address="opsdesk@localhost",
        our_domain="localhost",
        rate_limit=1,
        rate_window=timedelta(minutes=10),
        storage_dir=tmp_path / "attachments",
    )


async def test_admins_list_every_mail_with_its_outcome_and_process_held_ones_again(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, rules: MailRules
) -> None:
    created = await receive(db, clock, rules, samples.plain("a@corp.example", "VPN", "down"))
    held = await receive(db, clock, rules, samples.plain("a@corp.example", "VPN 2", "down"))
    ooo = await receive(db, clock, rules, samples.out_of_office("b@corp.example", "IM1"))
    failed = await receive(db, clock, rules, b"  \r\n")
    listing = await client.get("/api/v1/admin/inbound-mails", headers=desk.admin.headers)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["total"] == 4
    outcomes = {item["id"]: (item["status"], item["outcome"]) for item in body["items"]}
    assert outcomes == {
        created: ("done", "created"),
        held: ("held", "held_rate_limit"),
        ooo: ("done", "ignored_auto_reply"),
        failed: ("failed", "failed_parse"),
    }
    first = next(item for item in body["items"] if item["id"] == created)
    assert first["incident_number"] and first["sender"] == "a@corp.example"
    only_held = await client.get(
        "/api/v1/admin/inbound-mails?status=held", headers=desk.admin.headers
    )
    assert [item["id"] for item in only_held.json()["items"]] == [held]

    again = await client.post(
        f"/api/v1/admin/inbound-mails/{held}/process", headers=desk.admin.headers
    )
    assert again.status_code == 200, again.text
    assert (again.json()["outcome"], again.json()["attempts"]) == ("created", 2)
    twice = await client.post(
        f"/api/v1/admin/inbound-mails/{created}/process", headers=desk.admin.headers
    )
    assert twice.status_code == 409 and twice.json()["error"]["field"] == "status"

    raw = await client.get(f"/api/v1/admin/inbound-mails/{failed}/raw", headers=desk.admin.headers)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.content == b"  \r\n"


async def test_bad_parameters_name_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    for query, field in (("status=lost", "status"), ("outcome=eaten", "outcome")):
        response = await client.get(
            f"/api/v1/admin/inbound-mails?{query}", headers=desk.admin.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    missing = await client.get("/api/v1/admin/inbound-mails/999999", headers=desk.admin.headers)
    assert missing.status_code == 404


@pytest.mark.parametrize("who", ["manager", "tech", "user"])
async def test_only_admins_see_inbound_mail(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    clock: FixedClock,
    rules: MailRules,
    who: str,
) -> None:
    mail_id = await receive(db, clock, rules, samples.plain("a@corp.example", "VPN", "down"))
    headers = getattr(desk, who).headers
    for path in ("", f"/{mail_id}"):
        response = await client.get(f"/api/v1/admin/inbound-mails{path}", headers=headers)
        assert response.status_code == 403
    # The original mail is for every staff member (a reply's full text), never end users.
    raw = await client.get(f"/api/v1/admin/inbound-mails/{mail_id}/raw", headers=headers)
    assert raw.status_code == (403 if who == "user" else 200)
    post = await client.post(f"/api/v1/admin/inbound-mails/{mail_id}/process", headers=headers)
    assert post.status_code == 403
    assert (await client.get("/api/v1/admin/inbound-mails")).status_code == 401


async def test_the_inbound_mail_page_shows_outcomes_and_processes_again(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, rules: MailRules
) -> None:
    created = await receive(db, clock, rules, samples.plain("a@corp.example", "VPN", "down"))
    held = await receive(db, clock, rules, samples.plain("a@corp.example", "VPN 2", "down"))
    assert (await client.get("/admin/inbound-mail")).headers["location"].startswith("/login")
    assert (await sign_in(client, "admin@desk.test", "admin-password")).status_code == 303
    page = await client.get("/admin/inbound-mail")
    assert page.status_code == 200
    assert f'id="mail-{created}"' in page.text and "Created an incident" in page.text
    assert "Held: sender rate limit" in page.text and "limit 1" in page.text
    assert 'href="/admin/inbound-mail"' in (await client.get("/admin")).text
    assert f'action="/admin/inbound-mail/{held}/process"' in page.text
    assert f'action="/admin/inbound-mail/{created}/process"' not in page.text

    refused = await client.post(f"/admin/inbound-mail/{held}/process", data={"csrf_token": "x"})
    assert refused.status_code == 403
    done = await client.post(
        f"/admin/inbound-mail/{held}/process", data={"csrf_token": csrf_of(page.text)}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/admin/inbound-mail")
    after = await client.get("/admin/inbound-mail?show=held")
    assert f"Mail {held} processed again: Created an incident." in after.text
    assert f'id="mail-{held}"' not in after.text


async def test_the_inbound_mail_page_is_for_admins_only(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await sign_in(client, "user@desk.test", "user-password")
    assert (await client.get("/admin/inbound-mail")).status_code == 403
    assert 'href="/admin"' not in (await client.get("/incidents")).text


async def test_demo_data_shows_each_kind_of_outcome(
    client: httpx.AsyncClient, db: Database, clock: FixedClock
) -> None:
    from opsdesk.auth.roles import Role
    from opsdesk.core.clock import SystemClock
    from opsdesk.demo.data import load_demo
    from tests.factories import make_actor

    async with db.write() as session:
        assert await load_demo(session=session, clock=SystemClock())
    admin = await make_actor(db, clock, Role.ADMIN, "second-admin@desk.test")
    listing = await client.get("/api/v1/admin/inbound-mails", headers=admin.headers)
    outcomes = [item["outcome"] for item in reversed(listing.json()["items"])]
    assert outcomes == ["created", "threaded", "ignored_auto_reply", "bounce"]
    numbers = {item["incident_number"] for item in listing.json()["items"]} - {None}
    assert len(numbers) == 1
    [number] = numbers
    incident = await client.get(f"/api/v1/incidents/{number}", headers=admin.headers)
    assert incident.json()["channel"] == "email"


async def test_staff_list_the_mails_of_an_incident_and_open_their_originals(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, rules: MailRules
) -> None:
    first = await receive(db, clock, rules, samples.plain("user@desk.test", "VPN", "down"))
    listing = await client.get("/api/v1/admin/inbound-mails", headers=desk.admin.headers)
    number = listing.json()["items"][0]["incident_number"]
    root = f"<incident-{number}@localhost>"
    relaxed = replace(rules, rate_limit=0)
    reply = await receive(
        db, clock, relaxed, samples.gmail_reply("user@desk.test", number, root, "Still down.")
    )
    mails = await client.get(f"/api/v1/incidents/{number}/mails", headers=desk.tech.headers)
    assert mails.status_code == 200, mails.text
    assert [(m["id"], m["outcome"]) for m in mails.json()] == [
        (first, "created"),
        (reply, "threaded"),
    ]
    original = await client.get(
        f"/api/v1/admin/inbound-mails/{reply}/raw", headers=desk.tech.headers
    )
    # The quoted history the conversation entry lost is in the original.
    assert "Helpdesk <helpdesk@desk.test> wrote:" in parse_mail(original.content).text
    refused = await client.get(f"/api/v1/incidents/{number}/mails", headers=desk.user.headers)
    assert refused.status_code == 403
    missing = await client.get("/api/v1/incidents/IM1/mails", headers=desk.tech.headers)
    assert missing.status_code == 404
