"""The whole way from an incident change to a mailbox: API → event job → worker → SMTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.e2e.test_mail_delivery import SmtpServer, mail_settings, smtp_server
from tests.factories import Desk, create_incident

pytestmark = pytest.mark.e2e

__all__ = ["mail_settings", "smtp_server"]  # fixtures, used by name


async def _deliver_everything(db: Database, clock: FixedClock, settings: Settings) -> None:
    worker = Worker(db=db, clock=clock, handlers=default_handlers(settings), settings=settings)
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()


async def test_with_the_defaults_the_reporter_is_mailed_on_create_and_on_resolve(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    clock: FixedClock,
    mail_settings: Settings,
    smtp_server: SmtpServer,
) -> None:
    created = await create_incident(client, desk.user, title="Printer on fire")
    number = created["number"]
    await _deliver_everything(db, clock, mail_settings)
    mailbox = smtp_server.mailbox
    assert [rcpt for rcpt, _ in mailbox.received] == [["user@desk.test"]]
    receipt = mailbox.received[0][1]
    assert receipt["Subject"].startswith(f"[#{number}]")
    assert receipt["Auto-Submitted"] == "auto-generated"
    assert receipt["X-Auto-Response-Suppress"] == "All"
    assert receipt["X-Loop"]
    root = receipt["Message-ID"]

    clock.advance(timedelta(minutes=5))
    for action, params in (
        ("accept", {}),
        (
            "resolve",
            {
                "cause": "toner overheated",
                "solution": "replaced the fuser",
                "category": "inc_type_p_function_issues",
            },
        ),
    ):
        response = await client.post(
            f"/api/v1/incidents/{number}/actions/{action}", json=params, headers=desk.tech.headers
        )
        assert response.status_code == 200, response.text
    await _deliver_everything(db, clock, mail_settings)
    # Accepted and resolved both tell the reporter; each mail answers the receipt.
    to_user = [message for rcpt, message in mailbox.received[1:] if rcpt == ["user@desk.test"]]
    subjects = [message["Subject"] for message in to_user]
    assert len(to_user) == 2, subjects
    assert any("resolved" in subject.lower() for subject in subjects), subjects
    for message in to_user:
        assert message["In-Reply-To"] == root
        assert root in message["References"]
    # Running the worker again sends nothing more: every event was handled once.
    count = mailbox.count()
    await _deliver_everything(db, clock, mail_settings)
    assert mailbox.count() == count

    # Days later, nobody confirmed: the reporter is reminded, once, in the same thread.
    clock.advance(timedelta(days=mail_settings.confirm_reminder_days, seconds=1))
    await _deliver_everything(db, clock, mail_settings)
    await _deliver_everything(db, clock, mail_settings)
    reminders = mailbox.received[count:]
    assert [rcpt for rcpt, _ in reminders] == [["user@desk.test"]]
    assert reminders[0][1]["Subject"].startswith(f"[#{number}] Please confirm")
    assert reminders[0][1]["In-Reply-To"] == root


async def test_a_confirmed_resolution_is_not_reminded(
    client: httpx.AsyncClient,
    desk: Desk,
    db: Database,
    clock: FixedClock,
    mail_settings: Settings,
    smtp_server: SmtpServer,
) -> None:
    number = (await create_incident(client, desk.user, title="Badge reader"))["number"]
    for actor, action, params in (
        (desk.tech, "accept", {}),
        (
            desk.tech,
            "resolve",
            {
                "cause": "dead battery",
                "solution": "new battery",
                "category": "inc_type_p_function_issues",
            },
        ),
        (desk.user, "confirm", {"accepted": True}),
    ):
        response = await client.post(
            f"/api/v1/incidents/{number}/actions/{action}", json=params, headers=actor.headers
        )
        assert response.status_code == 200, response.text
    await _deliver_everything(db, clock, mail_settings)
    count = smtp_server.mailbox.count()
    clock.advance(timedelta(days=mail_settings.confirm_reminder_days, seconds=1))
    await _deliver_everything(db, clock, mail_settings)
    subjects = [message["Subject"] for _, message in smtp_server.mailbox.received[count:]]
    assert not [subject for subject in subjects if "Please confirm" in subject]
