"""Issue 31's acceptance, end to end on one desk: a P1 raised by an Alertmanager alert is
declared major, gets a response team (each member mailed through a real SMTP server), posts
two stakeholder updates (on /status, in the Atom feed, mailed to the stakeholder list) and
resolves; its post-incident review has the five times of the time summary filled from the
history with their sources, goes through submitted → reviewed → approved, and its PDF,
turned back into text, has every section and every time."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.api.test_alerts import am_alert, am_payload
from tests.e2e.test_mail_delivery import (  # noqa: F401 - fixtures
    SmtpServer,
    mail_settings,
    smtp_server,
)
from tests.factories import Desk

pytestmark = pytest.mark.e2e

ATOM = "{http://www.w3.org/2005/Atom}"
UPDATES = (
    ("investigating", "Checkout fails for some customers; we are looking into it."),
    ("identified", "A faulty payment gateway release; rolling it back now."),
)
INTERNAL_TITLE = "CheckoutErrors on pay-gw-7 (internal)"


async def _work_off(db: Database, clock: FixedClock, settings: Settings) -> None:
    """Everything the worker has queued, done: events, rules, mails."""
    worker = Worker(db=db, clock=clock, handlers=default_handlers(settings), settings=settings)
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _mails(server: SmtpServer, event: str) -> list[tuple[str, EmailMessage]]:
    with server.mailbox.lock:
        received = list(server.mailbox.received)
    found = []
    for recipients, message in received:
        assert isinstance(message, EmailMessage)
        if message["X-Opsdesk-Event"] == event:
            found.extend((recipient, message) for recipient in recipients)
    return found


@pytest.mark.parametrize("backend", ["sqlite"])  # each part also runs on PostgreSQL alone
async def test_a_p1_from_an_alert_runs_as_a_major_incident_to_an_approved_review(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    clock: FixedClock,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    admin, manager, tech, tech2 = desk.admin, desk.manager, desk.tech, desk.tech2

    # Monitoring: an Alertmanager integration whose rule makes critical checkout alerts P1s.
    integration = await _ok(
        await client.post(
            "/api/v1/integrations",
            json={"name": "Prometheus", "kind": "alertmanager"},
            headers=admin.headers,
        )
    )
    await _ok(
        await client.post(
            f"/api/v1/integrations/{integration['id']}/rules",
            json={
                "name": "Checkout is P1",
                "position": 1,
                "conditions": [{"key": "service", "op": "eq", "value": "checkout"}],
                "level": "level_10",
                "application": "app_website",
                "assignee_id": tech.id,
            },
            headers=admin.headers,
        )
    )
    await _ok(
        await client.put(
            "/api/v1/status-components/app_website",
            json={"public": True, "display_name": "Web shop"},
            headers=admin.headers,
        )
    )
    stakeholders = await _ok(
        await client.post(
            "/api/v1/status-audiences",
            json={
                "name": "Web shop stakeholders",
                "kind": "customers",
                "emails": ["cfo@shop.test", "support-lead@shop.test"],
            },
            headers=manager.headers,
        )
    )
    alert = am_alert("CheckoutErrors", service="checkout", instance="pay-gw-7")
    alert["annotations"] = {"summary": INTERNAL_TITLE}
    fired = await _ok(
        await client.post(
            f"/api/v1/alerts/alertmanager/{integration['key']}",
            json=am_payload([alert]),
        )
    )
    (number,) = fired["incidents"]
    incident = await _ok(await client.get(f"/api/v1/incidents/{number}", headers=tech.headers))
    assert incident["level"] == "level_10" and incident["source"] == "incident_source_alarm"
    base = f"/api/v1/incidents/{number}"

    # Declared major with a response team; every member is paged by mail.
    clock.advance(timedelta(minutes=4))
    major = await _ok(
        await client.post(
            f"{base}/major",
            json={
                "reason": "Checkout down for every customer",
                "manager_id": manager.id,
                "communications_lead_id": tech.id,
                "technical_leads": [tech2.id],
            },
            headers=admin.headers,  # the duty officer, not on the team: everyone is paged
        )
    )
    assert major["active"] is True and major["war_room_id"] is not None
    assert {(m["user_id"], m["role"]) for m in major["team"]} >= {
        (manager.id, "incident_manager"),
        (tech.id, "communications_lead"),
        (tech2.id, "technical_lead"),
    }
    await _work_off(db, clock, mail_settings)
    paged_mails = _mails(smtp_server, "major_paged")
    paged = {recipient for recipient, _message in paged_mails}
    assert paged >= {"manager@desk.test", "tech@desk.test", "tech2@desk.test"}
    for _recipient, message in paged_mails:  # the number in the subject and both bodies
        assert str(message["Subject"]).startswith(f"[#{number}] Major incident: you are ")
        for kind in ("plain", "html"):
            part = message.get_body(preferencelist=(kind,))
            assert part is not None and number in part.get_content()

    # The desk takes it: accepted, then second-level support works on it.
    clock.advance(timedelta(minutes=3))
    await _ok(await client.post(f"{base}/actions/accept", json={}, headers=tech.headers))
    clock.advance(timedelta(minutes=10))
    await _ok(
        await client.post(
            f"{base}/actions/forward",
            json={"assignee_id": tech2.id, "comment": "Payment gateway team"},
            headers=tech.headers,
        )
    )
    clock.advance(timedelta(minutes=5))
    await _ok(
        await client.post(
            f"{base}/worklogs",
            json={"description": "Rolled back the gateway release", "time_spent_minutes": 25},
            headers=tech2.headers,
        )
    )

    # Two stakeholder updates: on the status page, in the feed, mailed to the list.
    for state, message in UPDATES:
        clock.advance(timedelta(minutes=5))
        await _ok(
            await client.post(
                "/api/v1/status-updates",
                json={
                    "incident": number,
                    "state": state,
                    "title": "Checkout problems",
                    "message": message,
                    "audience_ids": [stakeholders["id"]],
                },
                headers=tech.headers,
            )
        )
    page = await client.get("/status")
    assert page.status_code == 200 and "Checkout problems" in page.text
    assert 'type="application/atom+xml"' in page.text
    feed = await client.get("/status/feed.atom")
    entries = ET.fromstring(feed.content).findall(f"{ATOM}entry")  # noqa: S314 - our own feed
    contents = " ".join(
        "".join(entry.itertext())
        for entry in entries
        if "Checkout problems" in "".join(entry.itertext())
    )
    for _state, message in UPDATES:
        assert message in page.text and message in contents
    for public in (page.text, feed.text):
        assert INTERNAL_TITLE not in public and number not in public
    await _work_off(db, clock, mail_settings)
    mailed = _mails(smtp_server, "status_update")
    assert sorted(recipient for recipient, _m in mailed) == sorted(
        ["cfo@shop.test", "support-lead@shop.test"] * 2
    )

    # Service restored and resolved; the review is created with the five times.
    clock.advance(timedelta(minutes=12))
    await _ok(
        await client.post(
            f"{base}/actions/resolve",
            json={
                "cause": "a faulty payment gateway release",
                "solution": "rolled the release back",
                "category": "inc_type_p_function_issues",
                "fault_recovery_time": (clock.now() - timedelta(minutes=2)).isoformat(),
            },
            headers=tech2.headers,
        )
    )
    await _work_off(db, clock, mail_settings)
    listed = await _ok(
        await client.get("/api/v1/reviews", params={"incident": number}, headers=tech.headers)
    )
    (summary,) = listed["items"]
    review = await _ok(await client.get(f"/api/v1/reviews/{summary['id']}", headers=tech.headers))
    history = await _ok(await client.get(f"{base}/history", headers=tech.headers))
    rows = history["items"] if isinstance(history, dict) else history
    row_ids = {row["id"] for row in rows}
    assert len(review["time_summary"]) == 5
    for entry in review["time_summary"]:
        assert entry["value"], entry
        assert entry["source_id"] in row_ids, entry  # each time shows the row it came from
    assert review["client_impact_minutes"] > 0

    # The workflow: submitted by its author, reviewed, approved.
    rid = review["id"]
    await _ok(
        await client.patch(
            f"/api/v1/reviews/{rid}",
            json={
                "client_impact": "Customers could not pay for 45 minutes.",
                "worked_well": "Paging reached the whole team within minutes.",
                "did_not_work": "The release had no canary stage.",
                "recommendations": "Canary every gateway release.",
            },
            headers=tech2.headers,
        )
    )
    for actor, step, status in (
        (tech2, "submit", "submitted"),
        (manager, "review", "reviewed"),
        (admin, "approve", "approved"),
    ):
        moved = await _ok(
            await client.post(
                f"/api/v1/reviews/{rid}/actions/{step}", json={}, headers=actor.headers
            )
        )
        assert moved["status"] == status

    # The PDF, read back: every section and every time of the summary.
    pdf = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "pdf"}, headers=tech.headers
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).split()
    )
    for heading in (
        "Incident Description",
        "Time Summary",
        "Client Impact",
        "Incident Resolution",
        "What Worked Well",
        "What Didn't Work Well",
        "Recommendations",
        "Post-Incident Action Items",
        "Incident Timeline",
    ):
        assert heading in text, heading
    for entry in moved["time_summary"]:
        assert entry["label"] in text, entry["label"]
        assert entry["value"][:10] in text and entry["value"][11:16] in text, entry
    assert number in text and "Canary every gateway release." in text
