"""The job runner: claims due jobs and runs the handler of their kind.

One loop per process: claim a batch (one transaction), run the handlers with bounded
concurrency, record the outcomes (one transaction). Two kinds of handler:

* transactional — the worker opens the session, passes it as ``ctx.session``, and commits the
  handler's writes together with the job's completion: database work happens exactly once.
* non-transactional (SMTP, HTTP) — the handler does its I/O outside any transaction and the
  worker marks the job done afterwards: delivery is at-least-once, so a worker killed between
  sending and recording sends again on the next try.

A handler that raises is retried with exponential backoff (``core.job_claims.fail``) and ends
``dead`` after its last try; a job of a kind nobody registered goes ``dead`` at once. One that
raises ``core.job_claims.Skipped`` decided against the work (a mail to an address that bounces
by now): the job ends ``done`` with the reason kept in ``last_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import job_claims, jobs
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings

log = logging.getLogger(__name__)

RECURRING_PREFIX = "recurring:"
RECURRING_MAX_ATTEMPTS = 20


class JobContext:
    """What a handler gets besides its payload: the database, the time, settings, the job."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        job: job_claims.ClaimedJob,
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
    job: job_claims.ClaimedJob
    error: str | None = None
    dead: bool = False
    skipped: str | None = None
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
                if not await job_claims.any_due(session, now=self.clock.now()):
                    return 0
        async with self.db.write() as session:
            claimed = await job_claims.claim(
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

    async def _heartbeat(self, pending: dict[int, job_claims.ClaimedJob]) -> None:
        """Keep the claims of slow jobs alive so that no other worker takes them over."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not pending:
                continue
            try:
                async with self.db.write() as session:
                    await job_claims.extend_claims(
                        session,
                        jobs=list(pending.values()),
                        worker_id=self.worker_id,
                        now=self.clock.now(),
                        lease_s=self.lease_s,
                    )
            except Exception:
                log.exception("worker %s: extending claims failed", self.worker_id)

    async def _run_guarded(
        self, job: job_claims.ClaimedJob, pending: dict[int, job_claims.ClaimedJob]
    ) -> _Outcome:
        async with self._limit:
            try:
                return await self._run(job)
            finally:
                pending.pop(job.id, None)

    async def _run(self, job: job_claims.ClaimedJob) -> _Outcome:
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
                    held = await job_claims.complete(
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
        except job_claims.Skipped as exc:
            # Decided against, not failed: done, with the reason for the admin's lists.
            log.info("worker %s: job %d (%s) skipped: %s", self.worker_id, job.id, job.kind, exc)
            return _Outcome(job, skipped=str(exc))
        except job_claims.KnownOutage as exc:
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

    def _context(self, job: job_claims.ClaimedJob, session: AsyncSession | None) -> JobContext:
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
            done = [
                o.job
                for o in todo
                if o.error is None and o.reschedule_at is None and o.skipped is None
            ]
            held = await job_claims.complete_many(
                session, jobs=done, worker_id=self.worker_id, now=now
            )
            lost += len(done) - len(held)
            for outcome in todo:
                job = outcome.job
                if outcome.skipped is not None:
                    ok = await job_claims.complete(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        now=now,
                        attempt=job.attempt,
                        skipped=outcome.skipped,
                    )
                    lost += not ok
                elif outcome.error is None and outcome.reschedule_at is not None:
                    ok = await job_claims.complete(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        now=now,
                        attempt=job.attempt,
                        reschedule_at=outcome.reschedule_at,
                    )
                    lost += not ok
                elif outcome.error is not None and outcome.dead:
                    ok = await job_claims.kill(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        error=outcome.error,
                        now=now,
                        attempt=job.attempt,
                    )
                    lost += not ok
                elif outcome.error is not None:
                    result = await job_claims.fail(
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
