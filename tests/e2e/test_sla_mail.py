"""The SLA acceptance scenario: warnings and the breach mail reach a real SMTP server once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.models import IncidentHistory
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.sla import clocks as sla_clocks
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.schemas import CalendarIn, PolicyIn, SpanIn
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.e2e.test_mail_delivery import SmtpServer, mail_settings, smtp_server
from tests.factories import Desk

pytestmark = pytest.mark.e2e
__all__ = ["mail_settings", "smtp_server"]  # fixtures shared with the mail delivery tests

FRIDAY_1755 = datetime(2026, 3, 6, 17, 55, tzinfo=UTC)
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


async def _drain(worker: Worker) -> None:
    while await worker.run_once():
        pass


def _sla_mails(smtp: SmtpServer) -> list[tuple[str, str, str]]:
    """(recipient, subject, text) of every SLA mail the server received, in order."""
    with smtp.mailbox.lock:
        received = list(smtp.mailbox.received)
    found = []
    for recipients, message in received:
        subject = str(message["Subject"])
        if "SLA" in subject:
            body = message.get_body(preferencelist=("plain",))
            text = "" if body is None else str(body.get_content())  # type: ignore[attr-defined]
            found.append((recipients[0], subject, text))
    return found


def _kind(subject: str) -> str:
    return "SLA breached" if "SLA breached" in subject else "SLA warning"


async def test_friday_evening_p2_is_due_monday_and_each_mail_arrives_once(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    mail_settings: Settings,
    smtp_server: SmtpServer,
) -> None:
    clock.set(FRIDAY_1755 - timedelta(hours=1))
    async with db.write() as session:
        await sla_configuration.put_calendar(
            session=session,
            caller=desk.admin.caller,
            key="office",
            data=CalendarIn(
                name="Office Mon-Fri 09:00-18:00",
                hours=[SpanIn(weekday=d, start="09:00", end="18:00") for d in range(5)],
            ),
            now=clock.now(),
        )
        await sla_configuration.put_policy(
            session=session,
            caller=desk.admin.caller,
            key="p2-office",
            data=PolicyIn(
                name="P2 on office hours",
                order=1,
                calendar="office",
                response_s=3600,
                levels=["level_20"],
            ),
            now=clock.now(),
        )
    worker = Worker(
        db=db, clock=clock, handlers=default_handlers(mail_settings), settings=mail_settings
    )
    await worker.ensure_recurring()
    await _drain(worker)

    clock.set(FRIDAY_1755)
    async with db.write() as session:
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(
                title="Payroll export fails", level="P2", assignee_id=desk.tech2.id
            ),
            now=clock.now(),
        )
        # What the incident-changed event does: recompute the clocks in a job.
        await sla_clocks.enqueue_refresh(session, incident_id=incident.id, now=clock.now())
    await _drain(worker)
    async with db.read() as session:
        row = await session.get(IncidentSla, (incident.id, "response"))
    assert row is not None and row.policy == "p2-office"
    assert row.due_at == MONDAY.replace(hour=9, minute=55)
    assert row.next_at == MONDAY.replace(hour=9, minute=25)

    expected: list[tuple[str, str]] = []
    # Step through the weekend and Monday morning, sweeping four times (every 15 s) from
    # each checkpoint: each crossing mails once however often the sweep runs.
    checkpoints = [
        (datetime(2026, 3, 6, 18, 30, tzinfo=UTC), None),
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), None),
        (MONDAY.replace(hour=9, minute=24), None),
        (MONDAY.replace(hour=9, minute=25), "SLA warning"),
        (MONDAY.replace(hour=9, minute=39), None),
        (MONDAY.replace(hour=9, minute=40), "SLA warning"),
        (MONDAY.replace(hour=9, minute=54), None),
        (MONDAY.replace(hour=9, minute=55), "SLA breached"),
        (MONDAY.replace(hour=11, minute=0), None),
    ]
    for at, subject in checkpoints:
        for step in range(4):
            clock.set(at + timedelta(seconds=15 * step))
            await _drain(worker)
        if subject is not None:
            # The default thresholds: 50 % tells the assignee; 75 % and the breach also the
            # incident managers (the incident has no workgroup, so "group" is nobody).
            expected.append(("tech2@desk.test", subject))
            if at >= MONDAY.replace(hour=9, minute=40):
                expected.append(("manager@desk.test", subject))
        mails = _sla_mails(smtp_server)
        assert sorted((to, _kind(s)) for to, s, _t in mails) == sorted(expected), at

    mails = _sla_mails(smtp_server)
    assert all(incident.number in subject for _to, subject, _text in mails)
    assert all("response" in text for _to, _subject, text in mails)
    assert "2026-03-09T09:55:00+00:00" in mails[0][2]
    async with db.read() as session:
        keys = list(
            await session.scalars(
                select(IncidentHistory.action)
                .where(IncidentHistory.incident_id == incident.id)
                .order_by(IncidentHistory.id)
            )
        )
        row = await session.get(IncidentSla, (incident.id, "response"))
    assert [k for k in keys if k.startswith("sla_")] == ["sla_warning", "sla_warning", "sla_breach"]
    assert row is not None and row.breached_at == MONDAY.replace(hour=9, minute=55)
    assert row.acted == [50.0, 75.0, 100.0] and row.next_at is None
