"""Durable background jobs: the ``jobs`` table and its verbs (enqueue, claim, complete, fail).

A job is a row. It is enqueued in the same transaction as the change that causes it, so it
exists exactly when that change does. Workers *claim* due jobs by stamping them ``running``
with their id and a lease (``claim_expires_at``); on PostgreSQL the claim skips rows another
worker is claiming (``FOR UPDATE SKIP LOCKED``), on SQLite the single writer serialises it.
A worker that dies leaves its claims to expire, and any worker then takes them over. Every
verb that records an outcome checks that the caller still holds the claim (same worker, same
attempt), so a worker that lost its lease cannot overwrite the work of the one that took over.

States: ``ready`` (waiting for ``due_at``) → ``running`` (claimed) → ``done``; a failure goes
back to ``ready`` with an exponential backoff, or to ``dead`` after ``max_attempts`` tries,
where it waits for an administrator to retry it. A job recorded as skipped starts ``done``,
with the reason in ``last_error``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed

READY = "ready"
RUNNING = "running"
DONE = "done"
DEAD = "dead"
STATES = (READY, RUNNING, DONE, DEAD)
JobState = Literal["ready", "running", "done", "dead"]

KIND_MAX = 64
DEDUPE_KEY_MAX = 200
WORKER_ID_MAX = 128
ERROR_MAX = 2000

BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 3600.0

# The same predicate in the model and in the migration: a dedupe key is unique only among
# live jobs, so a finished job never blocks the next one with the same key.
LIVE_PREDICATE = "state IN ('ready', 'running')"


class Job(Base):
    """One unit of background work, its schedule and its outcome."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "state", "due_at"),
        Index(
            "uq_jobs_live_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text(LIVE_PREDICATE),
            postgresql_where=text(LIVE_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(KIND_MAX))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(WORKER_ID_MAX))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str | None] = mapped_column(String(DEDUPE_KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KnownOutage(Exception):
    """A job failed for a reason already reported once (e.g. the SMTP server is down).

    The worker keeps the message on the job and retries as usual, but logs the failure at
    debug level only: one outage must not fill the log with a line per job attempt."""


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


def _check_text(name: str, value: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise ValidationFailed(f"{name}: must be 1 to {limit} characters", field=name)


def _truncate_error(error: str) -> str:
    return error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    due_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> bool:
    """Add a job; False (and nothing added) when a live job already has ``dedupe_key``.

    ``ON CONFLICT DO NOTHING`` makes the dedupe check race-free on PostgreSQL: two
    transactions enqueueing the same key concurrently end with one job, and neither fails.
    """
    _check_text("kind", kind, KIND_MAX)
    if dedupe_key is not None:
        _check_text("dedupe_key", dedupe_key, DEDUPE_KEY_MAX)
    if max_attempts < 1:
        raise ValidationFailed("max_attempts: must be at least 1", field="max_attempts")
    if dedupe_key is None:
        # Nothing to deduplicate: a plain insert compiled once (every incident change
        # queues one, so this is on the create hot path).
        await session.execute(
            _plain_insert(),
            {
                "kind": kind,
                "payload": payload,
                "state": READY,
                "due_at": due_at or now,
                "attempts": 0,
                "max_attempts": max_attempts,
                "created_at": now,
            },
        )
        return True
    values = {
        "kind": kind,
        "payload": payload,
        "state": READY,
        "due_at": due_at or now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text(LIVE_PREDICATE))
        .returning(Job.id)
    )
    inserted = await session.scalar(statement)
    return inserted is not None


async def record_skipped(
    session: AsyncSession, *, kind: str, payload: dict[str, Any], reason: str, now: datetime
) -> None:
    """A job decided against, kept ``done`` with the reason in ``last_error``: nobody runs it,
    but the queue an administrator lists shows what was not sent beside what was."""
    _check_text("kind", kind, KIND_MAX)
    row = Job(kind=kind, payload=payload, state=DONE, attempts=0, max_attempts=1)
    row.due_at = row.created_at = row.finished_at = now
    row.last_error = _truncate_error(reason or "skipped")
    session.add(row)
    await session.flush()


@cache
def _plain_insert() -> Executable:
    table: Table = Job.__table__  # type: ignore[assignment]
    return insert(table).values(
        kind=bindparam("kind"),
        payload=bindparam("payload", type_=JSON()),
        state=bindparam("state"),
        due_at=bindparam("due_at", type_=UTCDateTime()),
        attempts=bindparam("attempts"),
        max_attempts=bindparam("max_attempts"),
        created_at=bindparam("created_at", type_=UTCDateTime()),
    )


@dataclass(frozen=True)
class NewJob:
    """One job for ``enqueue_many``; the same fields as ``enqueue`` takes."""

    kind: str
    payload: dict[str, Any]
    due_at: datetime | None = None
    dedupe_key: str | None = None
    max_attempts: int = 8


async def enqueue_many(
    session: AsyncSession, *, new_jobs: Sequence[NewJob], now: datetime, chunk: int = 500
) -> int:
    """Add many jobs with a few multi-row inserts (a fan-out); returns how many were added.

    A job whose dedupe key is already live (or repeated in the same call) is skipped.
    """
    for job in new_jobs:
        _check_text("kind", job.kind, KIND_MAX)
        if job.dedupe_key is not None:
            _check_text("dedupe_key", job.dedupe_key, DEDUPE_KEY_MAX)
        if job.max_attempts < 1:
            raise ValidationFailed("max_attempts: must be at least 1", field="max_attempts")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = 0
    for start in range(0, len(new_jobs), chunk):
        rows = [
            {
                "kind": job.kind,
                "payload": job.payload,
                "state": READY,
                "due_at": job.due_at or now,
                "attempts": 0,
                "max_attempts": job.max_attempts,
                "dedupe_key": job.dedupe_key,
                "created_at": now,
            }
            for job in new_jobs[start : start + chunk]
        ]
        result = await session.execute(
            insert(Job)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=text(LIVE_PREDICATE))
            .returning(Job.id)
        )
        added += len(result.all())
    return added


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
    _check_text("worker_id", worker_id, WORKER_ID_MAX)
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
) -> bool:
    """Mark a held job done (or, for a recurring job, ready again at ``reschedule_at``).

    False when the caller no longer holds the claim: the job was taken over, and the
    worker that holds it now records the outcome.
    """
    if reschedule_at is None:
        values: dict[str, Any] = {"state": DONE, "finished_at": now, "claim_expires_at": None}
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
    message = _truncate_error(error or "failed without a message")
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
            state=DEAD, finished_at=now, claim_expires_at=None, last_error=_truncate_error(error)
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def get_job(session: AsyncSession, *, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist", field="id")
    return job


async def retry_dead(session: AsyncSession, *, job_id: int, now: datetime) -> Job:
    """Give a dead job a fresh set of tries, due now (the administrator's Retry button)."""
    job = (
        await session.scalars(select(Job).where(Job.id == job_id).with_for_update())
    ).one_or_none()
    if job is None:
        raise NotFound(f"job {job_id} does not exist", field="id")
    if job.state != DEAD:
        raise Conflict(f"job {job_id} is {job.state}, only dead jobs can be retried", field="id")
    if job.dedupe_key is not None:
        live = await session.scalar(
            select(Job.id).where(Job.dedupe_key == job.dedupe_key, Job.state.in_([READY, RUNNING]))
        )
        if live is not None:
            raise Conflict(
                f"job {live} with the same dedupe key is already waiting; it replaces this one",
                field="id",
            )
    job.state = READY
    job.due_at = now
    job.attempts = 0
    job.claimed_by = None
    job.claim_expires_at = None
    job.finished_at = None
    await session.flush()
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    state: str,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    """Jobs in one state, most recently due first (for the admin pages and API)."""
    if state not in STATES:
        raise ValidationFailed(f"state: must be one of {', '.join(STATES)}", field="state")
    query = select(Job).where(Job.state == state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    query = query.order_by(Job.due_at.desc(), Job.id.desc()).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def count_jobs(session: AsyncSession, *, kind: str | None = None) -> dict[str, int]:
    """How many jobs (of ``kind``, if given) are in each state; every state present."""
    query = select(Job.state, func.count()).group_by(Job.state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    rows = await session.execute(query)
    counts = dict.fromkeys(STATES, 0)
    for state, count in rows.all():
        counts[state] = count
    return counts


async def purge_finished(session: AsyncSession, *, before: datetime, limit: int = 5000) -> int:
    """Delete done jobs that finished before ``before``; dead jobs stay until retried."""
    ids = list(
        await session.scalars(
            select(Job.id)
            .where(Job.state == DONE, Job.finished_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        await session.execute(
            delete(Job).where(Job.id.in_(ids)).execution_options(synchronize_session=False)
        )
    return len(ids)
