"""The administrator's side of the job queue: list and count jobs by state, give a dead job
a fresh set of tries, and purge finished ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.jobs import DEAD, DONE, READY, RUNNING, STATES, Job


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
