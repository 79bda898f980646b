"""Running jobs: a worker *claims* due jobs, holds them by a lease, and records each
outcome (done, rescheduled, failed with a backoff, dead).

Workers claim due jobs by stamping them ``running`` with their id and a lease
(``claim_expires_at``); on PostgreSQL the claim skips rows another worker is claiming
(``FOR UPDATE SKIP LOCKED``), on SQLite the single writer serialises it. A worker that dies
leaves its claims to expire, and any worker then takes them over. Every verb that records an
outcome checks that the caller still holds the claim (same worker, same attempt), so a
worker that lost its lease cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import ValidationFailed
from opsdesk.core.jobs import (
    DEAD,
    DONE,
    READY,
    RUNNING,
    WORKER_ID_MAX,
    Job,
    check_text,
    truncate_error,
)

BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 3600.0


class KnownOutage(Exception):
    """A job failed for a reason already reported once (e.g. the SMTP server is down).

    The worker keeps the message on the job and retries as usual, but logs the failure at
    debug level only: one outage must not fill the log with a line per job attempt."""


class Skipped(Exception):
    """A job decided against when it came to run (e.g. a mail to an address that bounces
    by now): the worker finishes it ``done`` with this reason in ``last_error``, the way
    ``jobs.record_skipped`` keeps one decided against when queued."""


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a job it holds; ``attempt`` counts from 1."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    claim_expires_at: datetime


FailOutcome = Literal["retry", "dead", "lost"]


def backoff_delay(
    attempt: int,
    *,
    jitter: float,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …).

    The ceiling doubles per attempt from ``base_s`` up to ``cap_s``; ``jitter`` in [0, 1]
    picks a point in the upper half of it, so jobs that failed together (a mail server
    down) do not all come back in the same second, yet none comes back much too early.
    """
    if attempt < 1:
        raise ValueError(f"attempt: must be at least 1, got {attempt}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter: must be between 0 and 1, got {jitter}")
    # Compare exponents instead of computing 2**attempt, which overflows for huge attempts.
    ceiling = cap_s if attempt > 64 else min(cap_s, base_s * 2.0 ** (attempt - 1))
    return ceiling * (0.5 + jitter / 2)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.state == READY, Job.due_at <= now),
        and_(Job.state == RUNNING, Job.claim_expires_at <= now),
    )


async def any_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether ``claim`` would find something: a cheap read before taking the write lock."""
    return await session.scalar(select(Job.id).where(_due(now)).limit(1)) is not None


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    lease_s: float,
    kinds: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs: ready ones, and running ones whose claim expired."""
    check_text("worker_id", worker_id, WORKER_ID_MAX)
    if limit < 1:
        raise ValidationFailed("limit: must be at least 1", field="limit")
    if lease_s <= 0:
        raise ValidationFailed("lease_s: must be positive", field="lease_s")
    due = _due(now)
    if kinds is not None:
        due = and_(due, Job.kind.in_(list(kinds)))
    candidates = (
        select(Job.id)
        .where(due)
        .order_by(Job.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    expires = now + timedelta(seconds=lease_s)
    rows = await session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            state=RUNNING,
            claimed_by=worker_id,
            claim_expires_at=expires,
            attempts=Job.attempts + 1,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.due_at)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(rows.all(), key=lambda row: (row.due_at, row.id))
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            payload=dict(row.payload or {}),
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            claim_expires_at=expires,
        )
        for row in claimed
    ]


def _held(job_id: int, worker_id: str, attempt: int | None) -> ColumnElement[bool]:
    held = and_(Job.id == job_id, Job.state == RUNNING, Job.claimed_by == worker_id)
    if attempt is not None:
        held = and_(held, Job.attempts == attempt)
    return held


async def complete(
    session: AsyncSession,
    *,
    job_id: int,
    worker_id: str,
    now: datetime,
    attempt: int | None = None,
    reschedule_at: datetime | None = None,
    skipped: str | None = None,
) -> bool:
    """Mark a held job done (or, for a recurring job, ready again at ``reschedule_at``);
    ``skipped`` is why it was not done after all, kept in ``last_error``.

    False when the caller no longer holds the claim: the job was taken over, and the
    worker that holds it now records the outcome.
    """
    if reschedule_at is None:
        values: dict[str, Any] = {"state": DONE, "finished_at": now, "claim_expires_at": None}
        if skipped is not None:
            values["last_error"] = truncate_error(skipped or "skipped")
    else:
        # A recurring job keeps its row (and its dedupe key) and starts counting tries anew.
        values = {
            "state": READY,
            "due_at": reschedule_at,
            "attempts": 0,
            "claimed_by": None,
            "claim_expires_at": None,
            "last_error": None,
        }
    result = await session.execute(
        update(Job)
        .where(_held(job_id, worker_id, attempt))
        .values(**values)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def complete_many(
    session: AsyncSession,
    *,
    jobs: Sequence[ClaimedJob],
    worker_id: str,
    now: datetime,
) -> set[int]:
    """Mark many held jobs done in one statement; returns the ids this worker still held."""
    if not jobs:
        return set()
    result = await session.execute(
        update(Job)
        .where(
            tuple_(Job.id, Job.attempts).in_([(job.id, job.attempt) for job in jobs]),
            Job.state == RUNNING,
            Job.claimed_by == worker_id,
        )
        .values(state=DONE, finished_at=now, claim_expires_at=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def extend_claims(
    session: AsyncSession,
    *,
    jobs: Sequence[ClaimedJob],
    worker_id: str,
    now: datetime,
    lease_s: float,
) -> set[int]:
    """Push the lease of jobs still running further out; returns the ids still held."""
    if not jobs:
        return set()
    result = await session.execute(
        update(Job)
        .where(
            tuple_(Job.id, Job.attempts).in_([(job.id, job.attempt) for job in jobs]),
            Job.state == RUNNING,
            Job.claimed_by == worker_id,
        )
        .values(claim_expires_at=now + timedelta(seconds=lease_s))
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def fail(
    session: AsyncSession,
    *,
    job_id: int,
    worker_id: str,
    error: str,
    now: datetime,
    attempt: int | None = None,
    jitter: float | None = None,
) -> FailOutcome:
    """Record a failed try: back to ``ready`` after a backoff, or ``dead`` when out of tries.

    ``error`` is stored truncated; callers pass a description, never credentials.
    Returns "lost" (and changes nothing) when the caller no longer holds the claim.
    """
    row = (
        await session.execute(
            select(Job.attempts, Job.max_attempts)
            .where(_held(job_id, worker_id, attempt))
            .with_for_update()
        )
    ).first()
    if row is None:
        return "lost"
    message = truncate_error(error or "failed without a message")
    if row.attempts >= row.max_attempts:
        values: dict[str, Any] = {
            "state": DEAD,
            "finished_at": now,
            "claim_expires_at": None,
            "last_error": message,
        }
        outcome: FailOutcome = "dead"
    else:
        delay = backoff_delay(row.attempts, jitter=random.random() if jitter is None else jitter)  # noqa: S311 - spreading retries is not cryptography
        values = {
            "state": READY,
            "due_at": now + timedelta(seconds=delay),
            "claimed_by": None,
            "claim_expires_at": None,
            "last_error": message,
        }
        outcome = "retry"
    await session.execute(
        update(Job)
        .where(_held(job_id, worker_id, attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return outcome


async def kill(
    session: AsyncSession,
    *,
    job_id: int,
    worker_id: str,
    error: str,
    now: datetime,
    attempt: int | None = None,
) -> bool:
    """Send a held job straight to ``dead`` (no retry can help, e.g. an unknown kind)."""
    result = await session.execute(
        update(Job)
        .where(_held(job_id, worker_id, attempt))
        .values(
            state=DEAD, finished_at=now, claim_expires_at=None, last_error=truncate_error(error)
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None
