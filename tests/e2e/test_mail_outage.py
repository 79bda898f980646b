"""No SMTP server: said once at start-up, then quiet until mail goes through again."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from opsdesk.core import jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.e2e.test_mail_delivery import Mailbox, _free_port

pytestmark = pytest.mark.e2e
MAILS = 5


def _mail(n: int) -> OutgoingMail:
    return OutgoingMail(
        message_id=f"<outage-{n}@desk.example>",
        sender="desk@desk.example",
        to=f"user{n}@desk.example",
        to_name="",
        subject=f"Mail {n}",
        text="text",
        html="<p>html</p>",
        date="2026-12-04T12:00:00+00:00",
        event="created",
    )


async def _mail_jobs(db: Database) -> list[Job]:
    async with db.read() as session:
        return list(await session.scalars(select(Job).where(Job.kind == MAIL_JOB)))


async def test_a_missing_smtp_server_is_reported_once_then_quietly(
    db: Database, clock: FixedClock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="opsdesk")
    port = _free_port()  # nothing listens here: every fresh machine's localhost:25
    mail_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    async with db.write() as session:
        for n in range(MAILS):
            await jobs.enqueue(
                session, kind=MAIL_JOB, payload=_mail(n).to_payload(), now=clock.now()
            )
    handlers = {MAIL_JOB: default_handlers(mail_settings)[MAIL_JOB]}
    worker = Worker(db=db, clock=clock, handlers=handlers, settings=mail_settings, poll_s=0.05)

    # Start-up: the worker probes the server in the background and runs the first batch.
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):
        if all(job.attempts == 1 for job in await _mail_jobs(db)) and any(
            "not deliverable" in r.getMessage() for r in caplog.records
        ):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await running
    # Retries, hours later: still no server.
    for _ in range(3):
        clock.advance(timedelta(days=1))
        assert await worker.run_once() == MAILS

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"mail is not deliverable: SMTP 127.0.0.1:{port} refused the connection; "
        "mails wait in the jobs table (admin: /admin/jobs) and are retried"
    ]
    quiet = [r for r in caplog.records if r.levelno == logging.DEBUG and MAIL_JOB in r.getMessage()]
    assert len(quiet) == 4 * MAILS
    assert all(job.attempts == 4 and job.state == "ready" for job in await _mail_jobs(db))
    assert all("refused the connection" in (job.last_error or "") for job in await _mail_jobs(db))

    # The server comes up: the next delivery says so, once, and every mail arrives.
    caplog.clear()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(timedelta(days=1))
        assert await worker.run_once() == MAILS
    finally:
        await worker.close()
        controller.stop()
    assert mailbox.count() == MAILS
    back = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
    assert back == [f"mail delivery works again (SMTP 127.0.0.1:{port})"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
