"""A stakeholder update reaches every address of the chosen audiences through the outbox,
the worker and a real SMTP server: one message per recipient, nobody sees the others."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.notify import bounces
from opsdesk.reviews import status_audiences, status_updates
from opsdesk.reviews.status_rules import AudienceKind, UpdateState
from opsdesk.reviews.status_schemas import AudienceIn, StatusUpdateCreate
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.e2e.test_mail_delivery import (  # noqa: F401 - fixtures
    SmtpServer,
    mail_settings,
    smtp_server,
)
from tests.factories import Desk

pytestmark = pytest.mark.e2e


async def _deliver(db: Database, clock: FixedClock, settings: Settings) -> None:
    worker = Worker(db=db, clock=clock, handlers=default_handlers(settings), settings=settings)
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()


@pytest.mark.parametrize("backend", ["sqlite"])  # the database plays no part here
async def test_two_updates_reach_the_stakeholder_list_one_mail_each(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    now = clock.now()
    async with db.write() as session:
        owners = await status_audiences.create_audience(
            session=session,
            caller=desk.manager.caller,
            data=AudienceIn(
                name="Owners",
                kind=AudienceKind.INTERNAL,
                emails=["owner@corp.test"],
                user_ids=[desk.manager.id],
            ),
            now=now,
        )
        customers = await status_audiences.create_audience(
            session=session,
            caller=desk.manager.caller,
            data=AudienceIn(
                name="Customers",
                kind=AudienceKind.CUSTOMERS,
                emails=["alice@cust-a.test", "bob@cust-b.test", "owner@corp.test"],
            ),
            now=now,
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(title="SECRET db-7", application="app_website"),
            now=now,
        )
    for state, message in (
        (UpdateState.INVESTIGATING, "Checkout fails for some customers."),
        (UpdateState.IDENTIFIED, "A faulty update; rolling back."),
    ):
        async with db.write() as session:
            await status_updates.post_update(
                session=session,
                caller=desk.tech.caller,
                data=StatusUpdateCreate(
                    incident=incident.number,
                    state=state,
                    title="Checkout problems",
                    message=message,
                    audience_ids=[owners.id, customers.id],
                ),
                now=now,
                settings=mail_settings,
            )
    await _deliver(db, clock, mail_settings)

    with smtp_server.mailbox.lock:
        received = list(smtp_server.mailbox.received)
    status_mails = []
    for recipients, message in received:
        assert isinstance(message, EmailMessage)
        if message["X-Opsdesk-Event"] == "status_update":
            status_mails.append((recipients, message))
    expected = sorted(
        ["owner@corp.test", "manager@desk.test", "alice@cust-a.test", "bob@cust-b.test"]
    )
    assert len(status_mails) == 8
    for recipients, message in status_mails:
        # Each message is addressed to its one recipient only: no list, no Cc, no Bcc leak.
        assert len(recipients) == 1
        assert str(message["To"]) == recipients[0]
        assert message["Cc"] is None
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert "SECRET" not in text + str(message["Subject"])
        # Only the internal stakeholder (the manager, in no customers' audience) is told the
        # incident's number; owner@corp.test is a customer too and is mailed as one.
        told = incident.number in text and incident.number in str(message["Subject"])
        assert told == (recipients[0] == "manager@desk.test")
        if not told:
            assert incident.number not in text + str(message["Subject"])
    assert sorted({r[0] for r, _m in status_mails}) == expected
    subjects = sorted({str(m["Subject"]) for r, m in status_mails if r[0] != "manager@desk.test"})
    assert subjects == ["[Identified] Checkout problems", "[Investigating] Checkout problems"]
    internal = sorted({str(m["Subject"]) for r, m in status_mails if r[0] == "manager@desk.test"})
    assert internal == [
        f"Incident {incident.number}: [Identified] Checkout problems",
        f"Incident {incident.number}: [Investigating] Checkout problems",
    ]
    identified = next(m for _r, m in status_mails if "Identified" in str(m["Subject"]))
    body = identified.get_body(preferencelist=("plain",))
    assert body is not None and "A faulty update; rolling back." in body.get_content()
    assert "/status/incidents/" in body.get_content()


async def test_an_update_skips_only_the_audience_address_that_bounces(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    now = clock.now()
    async with db.write() as session:
        await bounces.record_bounce(
            session, address="Bob@Cust-B.test", detail="failed 5.1.1 user unknown", now=now
        )
        customers = await status_audiences.create_audience(
            session=session,
            caller=desk.manager.caller,
            data=AudienceIn(
                name="Customers",
                kind=AudienceKind.CUSTOMERS,
                emails=["alice@cust-a.test", "bob@cust-b.test", "carol@cust-c.test"],
            ),
            now=now,
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(title="Checkout", application="app_website"),
            now=now,
        )
        await status_updates.post_update(
            session=session,
            caller=desk.tech.caller,
            data=StatusUpdateCreate(
                incident=incident.number,
                state=UpdateState.INVESTIGATING,
                title="Checkout problems",
                message="Checkout fails for some customers.",
                audience_ids=[customers.id],
            ),
            now=now,
            settings=mail_settings,
        )
    await _deliver(db, clock, mail_settings)

    with smtp_server.mailbox.lock:
        received = list(smtp_server.mailbox.received)
    reached = sorted(
        recipients[0]
        for recipients, message in received
        if message["X-Opsdesk-Event"] == "status_update"
    )
    assert reached == ["alice@cust-a.test", "carol@cust-c.test"]
    async with db.read() as session:
        unsent = await bounces.skipped_mails(session=session, caller=desk.admin.caller)
    assert [(mail.to, mail.event) for mail in unsent] == [("bob@cust-b.test", "status_update")]
    assert unsent[0].reason.startswith("skipped: address bounces (1 bounce")
