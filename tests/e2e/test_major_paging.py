"""Paging a major incident's response team and reminding its manager: mails delivered by
the worker to a real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents import access, creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.reviews import major_service, major_team
from opsdesk.reviews.major_rules import Declared
from tests.e2e.test_mail_delivery import (  # noqa: F401 - fixtures
    SmtpServer,
    mail_settings,
    smtp_server,
)
from tests.e2e.test_work_notices import _run
from tests.factories import Desk

pytestmark = pytest.mark.e2e


def _take(smtp: SmtpServer) -> list[tuple[str, str]]:
    """(recipient, subject) of the major-incident mails since the last call."""
    with smtp.mailbox.lock:
        received = list(smtp.mailbox.received)
        smtp.mailbox.received.clear()
    found: list[tuple[str, str]] = []
    for recipients, message in received:
        assert isinstance(message, EmailMessage)
        subject = str(message["Subject"])
        if "major incident" in subject.lower():
            found.extend((to, subject) for to in recipients)
    return sorted(found)


async def test_each_member_is_paged_and_the_manager_reminded(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    settings = mail_settings.model_copy(update={"major_update_minutes": "P2=30"})
    now = clock.now()
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(key="webops", name="Web ops", members=[desk.tech2.id]),
            now=now,
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(title="Website down", level="P2", reporter_id=desk.user.id),
            now=now,
        )
        locked = await access.access_incident(
            session=session, caller=desk.tech.caller, number=incident.number, for_update=True
        )
        await major_service.declare(
            session,
            incident=locked,
            actor_id=desk.tech.id,
            how=Declared.MANUAL,
            reason="external website down",
            now=now,
            settings=settings,
            team=major_team.TeamRequest(
                manager_id=desk.manager.id,
                communications_lead_id=desk.admin.id,
                technical_workgroups=["webops"],
            ),
        )
    await _run(db, clock, settings)
    tag = f"[#{incident.number}]"
    assert _take(smtp_server) == [
        ("admin@desk.test", f"{tag} Major incident: you are communications lead for Website down"),
        ("manager@desk.test", f"{tag} Major incident: you are incident manager for Website down"),
        ("tech2@desk.test", f"{tag} Major incident: you are technical lead for Website down"),
    ]
    clock.advance(timedelta(minutes=31))
    await _run(db, clock, settings)
    assert _take(smtp_server) == [
        (
            "manager@desk.test",
            f"{tag} Update due: no update on major incident Website down for 30 minutes",
        )
    ]
