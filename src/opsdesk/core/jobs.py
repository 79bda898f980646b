"""Durable background jobs: the ``jobs`` table, its states, and queueing (enqueue one, many,
or record one decided against).

A job is a row. It is enqueued in the same transaction as the change that causes it, so it
exists exactly when that change does. Workers claim and run it (``core.job_claims``);
administrators list, retry and purge jobs (``core.job_admin``).

States: ``ready`` (waiting for ``due_at``) → ``running`` (claimed) → ``done``; a failure goes
back to ``ready`` with an exponential backoff, or to ``dead`` after ``max_attempts`` tries,
where it waits for an administrator to retry it. A job recorded as skipped starts ``done``,
with the reason in ``last_error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Executable,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime
from opsdesk.core.errors import ValidationFailed

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


def check_text(name: str, value: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise ValidationFailed(f"{name}: must be 1 to {limit} characters", field=name)


def truncate_error(error: str) -> str:
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
    check_text("kind", kind, KIND_MAX)
    if dedupe_key is not None:
        check_text("dedupe_key", dedupe_key, DEDUPE_KEY_MAX)
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
    check_text("kind", kind, KIND_MAX)
    row = Job(kind=kind, payload=payload, state=DONE, attempts=0, max_attempts=1)
    row.due_at = row.created_at = row.finished_at = now
    row.last_error = truncate_error(reason or "skipped")
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
        check_text("kind", job.kind, KIND_MAX)
        if job.dedupe_key is not None:
            check_text("dedupe_key", job.dedupe_key, DEDUPE_KEY_MAX)
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
