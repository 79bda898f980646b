"""Task and work-order notices (assigned, due soon, overdue) delivered by the worker to a
real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.work_schemas import TaskCreate, TaskUpdate, WorkOrderCreate
from opsdesk.collaboration.work_states import TaskStatus
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.e2e.test_mail_delivery import (  # noqa: F401 - fixtures
    SmtpServer,
    mail_settings,
    smtp_server,
)
from tests.factories import Desk

pytestmark = pytest.mark.e2e


async def _run(db: Database, clock: FixedClock, settings: Settings) -> None:
    worker = Worker(db=db, clock=clock, handlers=default_handlers(settings), settings=settings)
    try:
        await worker.ensure_recurring()
        while await worker.run_once():
            pass
    finally:
        await worker.close()


def _take(smtp: SmtpServer) -> list[tuple[str, str]]:
    """(recipient, subject) of the task and work-order mails since the last call (the
    incident's own mails, e.g. SLA warnings, are left aside)."""
    with smtp.mailbox.lock:
        received = list(smtp.mailbox.received)
        smtp.mailbox.received.clear()
    found = []
    for recipients, message in received:
        assert isinstance(message, EmailMessage)
        subject = str(message["Subject"])
        if "Task #" in subject or "Work order #" in subject:
            found.extend((to, subject) for to in recipients)
    return sorted(found)


async def test_assigned_due_soon_and_overdue_notices_reach_the_people_of_the_work(
    db: Database,
    desk: Desk,
    clock: FixedClock,
    mail_settings: Settings,  # noqa: F811
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    now = clock.now()
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(
                key="field",
                name="Field service",
                members=[desk.tech.id, desk.tech2.id],
                does_work_orders=True,
            ),
            now=now,
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.manager.caller,
            data=IncidentCreate(title="Rack B4 down", reporter_id=desk.user.id),
            now=now,
        )
    await _run(db, clock, mail_settings)
    _take(smtp_server)  # the incident's own mails

    async with db.write() as session:
        task = await tasks.create_task(
            session=session,
            caller=desk.manager.caller,
            number=incident.number,
            data=TaskCreate(
                title="Call the vendor", assignee_id=desk.tech2.id, due_at=now + timedelta(hours=2)
            ),
            now=now,
        )
        quiet = await tasks.create_task(
            session=session,
            caller=desk.manager.caller,
            number=incident.number,
            data=TaskCreate(
                title="Order a spare", workgroup="field", due_at=now + timedelta(hours=2)
            ),
            now=now,
        )
        await work_orders.create_work_order(
            session=session,
            caller=desk.manager.caller,
            number=incident.number,
            data=WorkOrderCreate(
                title="Swap the PSU",
                workgroup="field",
                location="DC1 rack B4",
                planned_end=now + timedelta(hours=3),
            ),
            now=now,
        )
    await _run(db, clock, mail_settings)
    assert _take(smtp_server) == sorted(
        [
            ("tech2@desk.test", f"[#{incident.number}] Task #{task.id} for you: Call the vendor"),
            # No assignee: the group's members are told.
            ("tech2@desk.test", f"[#{incident.number}] Task #{quiet.id} for you: Order a spare"),
            ("tech@desk.test", f"[#{incident.number}] Task #{quiet.id} for you: Order a spare"),
            ("tech2@desk.test", f"[#{incident.number}] Work order #1 for you: Swap the PSU"),
            ("tech@desk.test", f"[#{incident.number}] Work order #1 for you: Swap the PSU"),
        ]
    )
    # A finished task is not chased.
    async with db.write() as session:
        await tasks.update_task(
            session=session,
            caller=desk.tech.caller,
            number=incident.number,
            task_id=quiet.id,
            data=TaskUpdate(status=TaskStatus.DONE),
            now=clock.now(),
        )
    clock.advance(timedelta(hours=1, minutes=30))
    await _run(db, clock, mail_settings)
    assert _take(smtp_server) == [
        ("tech2@desk.test", f"[#{incident.number}] Task #{task.id} is due soon: Call the vendor")
    ]
    await _run(db, clock, mail_settings)
    assert _take(smtp_server) == []  # told once
    clock.advance(timedelta(hours=2))
    await _run(db, clock, mail_settings)
    assert _take(smtp_server) == sorted(
        [
            (
                "tech2@desk.test",
                f"[#{incident.number}] Task #{task.id} is overdue: Call the vendor",
            ),
            ("tech2@desk.test", f"[#{incident.number}] Work order #1 is overdue: Swap the PSU"),
            ("tech@desk.test", f"[#{incident.number}] Work order #1 is overdue: Swap the PSU"),
        ]
    )
    clock.advance(timedelta(hours=2))
    await _run(db, clock, mail_settings)
    assert _take(smtp_server) == []
