"""The background worker: claims due jobs and runs the handler of their kind.

One loop per process: claim a batch (one transaction), run the handlers with bounded
concurrency, record the outcomes (one transaction). Two kinds of handler:

* transactional — the worker opens the session, passes it as ``ctx.session``, and commits the
  handler's writes together with the job's completion: database work happens exactly once.
* non-transactional (SMTP, HTTP) — the handler does its I/O outside any transaction and the
  worker marks the job done afterwards: delivery is at-least-once, so a worker killed between
  sending and recording sends again on the next try.

A handler that raises is retried with exponential backoff (``core.jobs.fail``) and ends
``dead`` after its last try; a job of a kind nobody registered goes ``dead`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.events import purge_events
from opsdesk.auth.sessions import purge_ended_sessions, session_policy_of
from opsdesk.collaboration import tasks, work_orders
from opsdesk.core import jobs
from opsdesk.core.clock import Clock, SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents.events import INCIDENT_CHANGED
from opsdesk.incidents.sweeper import incident_rules_from, sweep_due
from opsdesk.intake.email.imap import POLL_JOB as IMAP_POLL_JOB
from opsdesk.intake.email.imap import poll_once
from opsdesk.intake.email.intake import Intake
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.notify.mail import MAIL_JOB, MailSender, make_mail_handler
from opsdesk.notify.reminders import (
    CONFIRM_REMINDER_JOB,
    schedule_confirm_reminder,
    send_confirm_reminder,
)
from opsdesk.notify.service import notify_incident_event
from opsdesk.notify.templates import EVENTS as NOTIFY_EVENTS
from opsdesk.notify.webhooks import WEBHOOK_JOB, WebhookSender
from opsdesk.notify.work_notices import send_work_notice
from opsdesk.reviews import major_service
from opsdesk.reviews.pir_service import ensure_review_on_resolve
from opsdesk.sla import clocks as sla_clocks
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla import sweep as sla_sweep

log = logging.getLogger(__name__)

SWEEP_KIND = "incidents.sweep"
SWEEP_BATCH = 500
PURGE_KIND = "jobs.purge"
MAIL_PROCESS_KIND = "mail.process"
MAIL_PROCESS_EVERY_S = 10.0
PURGE_EVERY_S = 3600.0
PURGE_BATCH = 5000
RECURRING_PREFIX = "recurring:"
RECURRING_MAX_ATTEMPTS = 20
STOP_GRACE_S = 30.0
WORK_DUE_SWEEP_S = 60.0


class JobContext:
    """What a handler gets besides its payload: the database, the time, settings, the job."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        job: jobs.ClaimedJob,
        worker_id: str,
        session: AsyncSession | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.job_id = job.id
        self.kind = job.kind
        self.attempt = job.attempt
        self.max_attempts = job.max_attempts
        self.worker_id = worker_id
        self._session = session
        self.reschedule_at: datetime | None = None

    @property
    def session(self) -> AsyncSession:
        """The worker's transaction (transactional handlers only); never commit it yourself."""
        if self._session is None:
            raise RuntimeError(
                f"job kind {self.kind!r} is not registered as transactional: "
                "open your own unit of work with ctx.db.write()"
            )
        return self._session

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def again_at(self, at: datetime) -> None:
        """Run this job again at ``at`` instead of finishing it (recurring work)."""
        self.reschedule_at = at


Handler = Callable[[dict[str, Any], JobContext], Awaitable[None]]


@dataclass(frozen=True)
class HandlerSpec:
    """How the worker runs one kind of job.

    ``every_s`` makes the kind recurring: the worker makes sure one such job exists when it
    starts (dedupe key ``recurring:<kind>``) and, after each successful run, schedules the
    same row again ``every_s`` seconds later unless the handler chose a time itself.
    ``close`` is awaited when the worker stops (e.g. to close a pool of SMTP connections).
    """

    handler: Handler
    transactional: bool = False
    every_s: float | None = None
    max_attempts: int = RECURRING_MAX_ATTEMPTS
    close: Callable[[], Awaitable[None]] | None = None
    # Run once in the background when a long-running worker starts (e.g. probe the SMTP
    # server, so a missing one is said at start-up, once).
    on_start: Callable[[], Coroutine[Any, Any, None]] | None = None


@dataclass
class _Outcome:
    job: jobs.ClaimedJob
    error: str | None = None
    dead: bool = False
    recorded: bool = False
    reschedule_at: datetime | None = None


class _ClaimLost(Exception):
    """Raised inside a transactional job to roll back writes made under a lost claim."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """Claims and runs jobs for the handlers it knows; any number may share a database."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        handlers: Mapping[str, HandlerSpec],
        settings: Settings | None = None,
        worker_id: str | None = None,
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        batch: int = 100,
        concurrency: int = 16,
    ) -> None:
        if lease_s <= 0 or poll_s <= 0:
            raise ValueError("lease_s and poll_s must be positive")
        if batch < 1 or concurrency < 1:
            raise ValueError("batch and concurrency must be at least 1")
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self.settings = settings or Settings()
        self.worker_id = worker_id or default_worker_id()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.batch = batch
        self.concurrency = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for jobs now instead of at the next poll (after enqueueing in-process)."""
        self._wake.set()

    async def ensure_recurring(self) -> int:
        """Enqueue each recurring kind that has no live job yet; returns how many were added."""
        added = 0
        async with self.db.write() as session:
            for kind, spec in sorted(self.handlers.items()):
                if spec.every_s is None:
                    continue
                added += await jobs.enqueue(
                    session,
                    kind=kind,
                    payload={},
                    now=self.clock.now(),
                    dedupe_key=RECURRING_PREFIX + kind,
                    max_attempts=spec.max_attempts,
                )
        return added

    async def run_once(self) -> int:
        """Claim one batch, run it, record the outcomes; returns how many jobs were claimed."""
        if self.db.is_sqlite:
            # SQLite has one writer: an idle poll must not take it from the web requests.
            async with self.db.read() as session:
                if not await jobs.any_due(session, now=self.clock.now()):
                    return 0
        async with self.db.write() as session:
            claimed = await jobs.claim(
                session,
                worker_id=self.worker_id,
                now=self.clock.now(),
                limit=self.batch,
                lease_s=self.lease_s,
            )
        if not claimed:
            return 0
        pending = {job.id: job for job in claimed}
        heartbeat = asyncio.create_task(self._heartbeat(pending), name="opsdesk-job-heartbeat")
        try:
            outcomes = await asyncio.gather(*(self._run_guarded(job, pending) for job in claimed))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        await self._record(outcomes)
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run batches until ``stop`` is set; the batch in hand is finished, not abandoned."""
        ensured = False
        checks = [
            asyncio.create_task(spec.on_start(), name=f"opsdesk-start-{kind}")
            for kind, spec in self.handlers.items()
            if spec.on_start is not None
        ]
        try:
            while not stop.is_set():
                claimed = 0
                try:
                    if not ensured:
                        await self.ensure_recurring()
                        ensured = True
                    claimed = await self.run_once()
                except Exception:
                    # A database outage must not end the loop: claims expire, nothing is lost.
                    log.exception("worker %s: batch failed; retrying", self.worker_id)
                if claimed == 0:
                    await self._sleep(stop)
        finally:
            for check in checks:
                check.cancel()
            await asyncio.gather(*checks, return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        for spec in self.handlers.values():
            if spec.close is not None:
                try:
                    await spec.close()
                except Exception:
                    log.exception("worker %s: closing a handler failed", self.worker_id)

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _heartbeat(self, pending: dict[int, jobs.ClaimedJob]) -> None:
        """Keep the claims of slow jobs alive so that no other worker takes them over."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not pending:
                continue
            try:
                async with self.db.write() as session:
                    await jobs.extend_claims(
                        session,
                        jobs=list(pending.values()),
                        worker_id=self.worker_id,
                        now=self.clock.now(),
                        lease_s=self.lease_s,
                    )
            except Exception:
                log.exception("worker %s: extending claims failed", self.worker_id)

    async def _run_guarded(
        self, job: jobs.ClaimedJob, pending: dict[int, jobs.ClaimedJob]
    ) -> _Outcome:
        async with self._limit:
            try:
                return await self._run(job)
            finally:
                pending.pop(job.id, None)

    async def _run(self, job: jobs.ClaimedJob) -> _Outcome:
        spec = self.handlers.get(job.kind)
        if spec is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return _Outcome(
                job,
                error=f"unknown job kind {job.kind!r}: no handler is registered (known: {known})",
                dead=True,
            )
        try:
            if spec.transactional:
                async with self.db.write() as session:
                    ctx = self._context(job, session)
                    await spec.handler(dict(job.payload), ctx)
                    held = await jobs.complete(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        now=self.clock.now(),
                        attempt=job.attempt,
                        reschedule_at=self._next_run(spec, ctx),
                    )
                    if not held:
                        raise _ClaimLost
                return _Outcome(job, recorded=True)
            ctx = self._context(job, None)
            await spec.handler(dict(job.payload), ctx)
            return _Outcome(job, reschedule_at=self._next_run(spec, ctx))
        except _ClaimLost:
            log.warning(
                "worker %s: job %d (%s) was taken over; its writes were rolled back",
                self.worker_id,
                job.id,
                job.kind,
            )
            return _Outcome(job, recorded=True)
        except jobs.KnownOutage as exc:
            # The handler reported the outage once already; the job keeps the reason.
            log.debug(
                "worker %s: job %d (%s) attempt %d/%d failed: %s",
                self.worker_id,
                job.id,
                job.kind,
                job.attempt,
                job.max_attempts,
                exc,
            )
            return _Outcome(job, error=str(exc))
        except Exception as exc:
            # One line per failure (the reason is also kept on the job for admins); the
            # traceback only when debugging.
            log.warning(
                "worker %s: job %d (%s) attempt %d/%d failed: %s",
                self.worker_id,
                job.id,
                job.kind,
                job.attempt,
                job.max_attempts,
                _describe(exc),
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return _Outcome(job, error=_describe(exc))

    def _context(self, job: jobs.ClaimedJob, session: AsyncSession | None) -> JobContext:
        return JobContext(
            db=self.db,
            clock=self.clock,
            settings=self.settings,
            job=job,
            worker_id=self.worker_id,
            session=session,
        )

    def _next_run(self, spec: HandlerSpec, ctx: JobContext) -> datetime | None:
        if ctx.reschedule_at is not None:
            return ctx.reschedule_at
        if spec.every_s is not None:
            return self.clock.now() + timedelta(seconds=spec.every_s)
        return None

    async def _record(self, outcomes: Sequence[_Outcome]) -> None:
        """Write every outcome of a batch in one transaction."""
        todo = [outcome for outcome in outcomes if not outcome.recorded]
        if not todo:
            return
        now = self.clock.now()
        lost = 0
        async with self.db.write() as session:
            done = [o.job for o in todo if o.error is None and o.reschedule_at is None]
            held = await jobs.complete_many(session, jobs=done, worker_id=self.worker_id, now=now)
            lost += len(done) - len(held)
            for outcome in todo:
                job = outcome.job
                if outcome.error is None and outcome.reschedule_at is not None:
                    ok = await jobs.complete(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        now=now,
                        attempt=job.attempt,
                        reschedule_at=outcome.reschedule_at,
                    )
                    lost += not ok
                elif outcome.error is not None and outcome.dead:
                    ok = await jobs.kill(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        error=outcome.error,
                        now=now,
                        attempt=job.attempt,
                    )
                    lost += not ok
                elif outcome.error is not None:
                    result = await jobs.fail(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        error=outcome.error,
                        now=now,
                        attempt=job.attempt,
                    )
                    lost += result == "lost"
                    if result == "dead":
                        log.error(
                            "job %d (%s) is dead after %d attempts: %s",
                            job.id,
                            job.kind,
                            job.attempt,
                            outcome.error,
                        )
        if lost:
            log.warning(
                "worker %s: %d jobs had been taken over by another worker", self.worker_id, lost
            )


def default_handlers(settings: Settings) -> dict[str, HandlerSpec]:
    """Every job kind opsdesk knows; features add their kinds here."""
    rules = incident_rules_from(settings)

    async def sweep_incidents(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        result = await sweep_due(session=ctx.session, now=now, rules=rules, batch=SWEEP_BATCH)
        if max(result.completed, result.resumed) >= SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    async def incident_changed(payload: dict[str, Any], ctx: JobContext) -> None:
        # One transaction: the clocks it stores and the mails and webhook deliveries it
        # queues commit with this job's completion, so a retried event never does twice.
        await sla_clocks.refresh_incident_sla(
            ctx.session, incident_id=int(payload["incident_id"]), now=ctx.clock.now()
        )
        for event in payload["events"]:
            if event in NOTIFY_EVENTS:
                await notify_incident_event(
                    ctx.session,
                    incident_id=payload["incident_id"],
                    event=event,
                    actor_id=payload.get("actor_id"),
                    now=ctx.clock.now(),
                    comment=payload.get("comment", ""),
                    extra={"event_key": f"job-{ctx.job_id}"},
                    settings=settings,
                )
        # Major-incident rules (P1, interrupted critical application) after every change.
        await major_service.apply_rules(
            ctx.session,
            incident_id=int(payload["incident_id"]),
            now=ctx.clock.now(),
            settings=settings,
        )
        if "resolved" in payload["events"] and settings.confirm_reminder_days > 0:
            await schedule_confirm_reminder(
                ctx.session,
                incident_id=int(payload["incident_id"]),
                now=ctx.clock.now(),
                after=timedelta(days=settings.confirm_reminder_days),
            )
        if "resolved" in payload["events"]:
            # A required post-incident review starts when its incident resolves (reviews/
            # sits above incidents, so it hears of the resolve through this event).
            await ensure_review_on_resolve(
                ctx.session,
                incident_id=int(payload["incident_id"]),
                now=ctx.clock.now(),
                settings=settings,
            )

    async def confirm_reminder(payload: dict[str, Any], ctx: JobContext) -> None:
        await send_confirm_reminder(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=settings
        )

    async def sweep_sla(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        result = await sla_sweep.sweep_sla(ctx.session, now=now, limit=SWEEP_BATCH)
        if result.claimed >= SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    async def refresh_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        await sla_clocks.refresh_incident_sla(
            ctx.session, incident_id=int(payload["incident_id"]), now=ctx.clock.now()
        )

    async def recompute_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        last = await sla_clocks.recompute_batch(
            ctx.session, after_id=int(payload["after_id"]), now=now
        )
        if last is not None:  # the next batch is its own job: each commits on its own
            await jobs.enqueue(
                ctx.session,
                kind=sla_configuration.RECOMPUTE_JOB,
                payload={"after_id": last},
                now=now,
            )

    async def notify_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        await sla_sweep.send_notification(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=ctx.settings
        )

    async def purge_jobs(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        before = now - timedelta(days=settings.jobs_keep_days)
        purged = await jobs.purge_finished(ctx.session, before=before, limit=PURGE_BATCH)
        # Ended web sessions and old auth events go with the same daily sweep.
        purged = max(
            purged,
            await purge_ended_sessions(
                session=ctx.session,
                now=now,
                policy=session_policy_of(settings),
                limit=PURGE_BATCH,
            ),
            await purge_events(
                session=ctx.session,
                before=now - timedelta(days=settings.auth_events_keep_days),
                limit=PURGE_BATCH,
            ),
        )
        if purged >= PURGE_BATCH:
            ctx.again_at(now)  # a full batch may leave more: go on at once

    async def sweep_major(_payload: dict[str, Any], ctx: JobContext) -> None:
        await major_service.sweep(ctx.session, now=ctx.clock.now(), settings=settings)

    async def work_notice(payload: dict[str, Any], ctx: JobContext) -> None:
        await send_work_notice(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=ctx.settings
        )

    async def sweep_work_due(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        due = await tasks.sweep_due_tasks(ctx.session, now=now)
        late = await work_orders.sweep_overdue_work_orders(ctx.session, now=now)
        if max(due.due_soon, due.overdue, late) >= tasks.SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    mail_rules = MailRules.from_settings(settings)

    async def process_mail(_payload: dict[str, Any], ctx: JobContext) -> None:
        # Mail stored by the pipe, by IMAP, or by a listener that died before processing.
        await Intake(db=ctx.db, clock=ctx.clock, rules=mail_rules).process_all()

    async def poll_imap(_payload: dict[str, Any], ctx: JobContext) -> None:
        intake = Intake(db=ctx.db, clock=ctx.clock, rules=mail_rules)
        await poll_once(settings, lambda raw: intake.store(raw, door="imap"))
        await intake.process_all()

    mail = MailSender(settings)
    webhooks = WebhookSender(settings)
    imap = (
        {IMAP_POLL_JOB: HandlerSpec(poll_imap, every_s=settings.imap_interval_s)}
        if settings.imap_host
        else {}
    )
    return {
        **imap,
        MAIL_PROCESS_KIND: HandlerSpec(process_mail, every_s=MAIL_PROCESS_EVERY_S),
        PURGE_KIND: HandlerSpec(purge_jobs, transactional=True, every_s=PURGE_EVERY_S),
        sla_sweep.SWEEP_JOB: HandlerSpec(
            sweep_sla, transactional=True, every_s=settings.sla_sweep_s
        ),
        sla_clocks.REFRESH_JOB: HandlerSpec(refresh_sla, transactional=True, max_attempts=8),
        sla_configuration.RECOMPUTE_JOB: HandlerSpec(
            recompute_sla, transactional=True, max_attempts=8
        ),
        sla_sweep.NOTIFY_JOB: HandlerSpec(notify_sla, transactional=True, max_attempts=8),
        INCIDENT_CHANGED: HandlerSpec(incident_changed, transactional=True),
        CONFIRM_REMINDER_JOB: HandlerSpec(confirm_reminder, transactional=True, max_attempts=8),
        tasks.WORK_NOTICE_JOB: HandlerSpec(work_notice, transactional=True, max_attempts=8),
        tasks.DUE_SWEEP_JOB: HandlerSpec(
            sweep_work_due, transactional=True, every_s=WORK_DUE_SWEEP_S
        ),
        major_service.SWEEP_JOB: HandlerSpec(
            sweep_major, transactional=True, every_s=settings.major_sweep_s
        ),
        SWEEP_KIND: HandlerSpec(
            sweep_incidents, transactional=True, every_s=settings.lifecycle_sweep_s
        ),
        MAIL_JOB: HandlerSpec(
            make_mail_handler(settings, mail), close=mail.close, on_start=mail.probe
        ),
        WEBHOOK_JOB: HandlerSpec(webhooks.deliver, close=webhooks.close),
    }


async def run_worker_process(
    settings: Settings,
    *,
    handlers: Mapping[str, HandlerSpec] | None = None,
    concurrency: int = 16,
    batch: int = 100,
    lease_s: float = 60.0,
    poll_s: float = 1.0,
    once: bool = False,
) -> int:
    """The body of ``opsdesk worker``: run until SIGTERM/SIGINT (or one batch with ``once``).

    A signal stops claiming and lets the jobs in hand finish. Returns how many jobs the
    ``once`` batch claimed (0 when running until stopped).
    """
    db = Database(settings.resolved_database_url(), pool_size=max(4, concurrency + 2))
    worker = Worker(
        db=db,
        clock=SystemClock(),
        handlers=handlers if handlers is not None else default_handlers(settings),
        settings=settings,
        lease_s=lease_s,
        poll_s=poll_s,
        batch=batch,
        concurrency=concurrency,
    )
    try:
        if once:
            await worker.ensure_recurring()
            try:
                return await worker.run_once()
            finally:
                await worker.close()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker %s started", worker.worker_id)
        await worker.run_forever(stop)
        log.info("worker %s stopped", worker.worker_id)
        return 0
    finally:
        await db.dispose()


@dataclass
class InProcessWorker:
    """The worker ``opsdesk serve`` runs beside the web app (OPSDESK_RUN_WORKER)."""

    worker: Worker
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(
            self.worker.run_forever(self.stop), name="opsdesk-in-process-worker"
        )

    async def shutdown(self, grace_s: float = STOP_GRACE_S) -> None:
        """Finish the batch in hand (up to ``grace_s``), then cancel what is left."""
        if self.task is None:
            return
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=grace_s)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
