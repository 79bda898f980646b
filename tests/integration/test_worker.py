"""The worker: runs handlers, records outcomes, dead-letters unknown kinds, recurs, rolls back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from opsdesk.auth.events import Client, EventKind, record_event
from opsdesk.auth.models import AuthEvent, AuthSession
from opsdesk.auth.sessions import end_session, session_policy_of, start_session
from opsdesk.core import job_claims, jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import PURGE_KIND, SWEEP_KIND, default_handlers
from opsdesk.worker.runner import HandlerSpec, JobContext, Worker
from tests.factories import Desk
from tests.integration.test_lifecycle_sweep import resolved_incident, state


async def add(db: Database, clock: FixedClock, kind: str, **options: Any) -> None:
    payload = options.pop("payload", {})
    async with db.write() as session:
        await jobs.enqueue(session, kind=kind, payload=payload, now=clock.now(), **options)


async def all_jobs(db: Database) -> list[Job]:
    async with db.read() as session:
        return list(await session.scalars(select(Job).order_by(Job.id)))


def make_worker(
    db: Database, clock: FixedClock, settings: Settings, handlers: dict[str, HandlerSpec], **kw: Any
) -> Worker:
    return Worker(
        db=db, clock=clock, handlers=handlers, settings=settings, worker_id="test:1", **kw
    )


async def test_handlers_run_with_their_payload_and_outcomes_are_recorded(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    seen: list[tuple[Any, int, int]] = []

    async def echo(payload: dict[str, Any], ctx: JobContext) -> None:
        seen.append((payload["n"], ctx.job_id, ctx.attempt))

    async def broken(payload: dict[str, Any], ctx: JobContext) -> None:
        raise RuntimeError("mail server said 451")

    handlers = {"echo": HandlerSpec(echo), "broken": HandlerSpec(broken)}
    for n in range(3):
        await add(db, clock, "echo", payload={"n": n})
    await add(db, clock, "broken", max_attempts=2)
    await add(db, clock, "nobody.knows")
    worker = make_worker(db, clock, settings, handlers, concurrency=2)
    assert await worker.run_once() == 5
    assert sorted(n for n, _id, _attempt in seen) == [0, 1, 2]
    states = {(job.kind, job.state) for job in await all_jobs(db)}
    assert states == {("echo", "done"), ("broken", "ready"), ("nobody.knows", "dead")}
    by_kind = {job.kind: job for job in await all_jobs(db)}
    assert by_kind["broken"].last_error == "RuntimeError: mail server said 451"
    assert by_kind["nobody.knows"].last_error is not None
    assert "unknown job kind 'nobody.knows'" in by_kind["nobody.knows"].last_error
    assert "broken, echo" in by_kind["nobody.knows"].last_error

    assert await worker.run_once() == 0  # the failed one waits for its backoff
    clock.advance(timedelta(seconds=job_claims.BACKOFF_BASE_S))
    assert await worker.run_once() == 1
    assert by_kind["broken"].id in {job.id for job in await all_jobs(db) if job.state == "dead"}


async def test_a_transactional_handler_commits_its_writes_with_the_completion(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    async def fan_out(payload: dict[str, Any], ctx: JobContext) -> None:
        for n in range(payload["count"]):
            await jobs.enqueue(ctx.session, kind="leaf", payload={"n": n}, now=ctx.clock.now())

    async def fan_out_then_fail(payload: dict[str, Any], ctx: JobContext) -> None:
        await fan_out(payload, ctx)
        raise ValueError("half way")

    handlers = {
        "fan": HandlerSpec(fan_out, transactional=True),
        "fan_fail": HandlerSpec(fan_out_then_fail, transactional=True),
    }
    await add(db, clock, "fan", payload={"count": 3})
    await add(db, clock, "fan_fail", payload={"count": 5})
    assert await make_worker(db, clock, settings, handlers, batch=2).run_once() == 2
    kinds = sorted((job.kind, job.state) for job in await all_jobs(db))
    # The failed handler's writes were rolled back; only its retry state was recorded.
    assert kinds == [("fan", "done"), ("fan_fail", "ready")] + [("leaf", "ready")] * 3


async def test_a_transactional_job_taken_over_midway_leaves_no_writes(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(payload: dict[str, Any], ctx: JobContext) -> None:
        started.set()
        await release.wait()
        await jobs.enqueue(ctx.session, kind="side.effect", payload={}, now=ctx.clock.now())

    await add(db, clock, "slow")
    worker = make_worker(db, clock, settings, {"slow": HandlerSpec(slow, transactional=True)})
    running = asyncio.create_task(worker.run_once())
    await started.wait()
    clock.advance(timedelta(seconds=worker.lease_s))
    async with db.write() as session:
        [taken] = await job_claims.claim(
            session, worker_id="other:2", now=clock.now(), limit=1, lease_s=60
        )
    release.set()
    assert await running == 1
    [job] = await all_jobs(db)
    assert (job.id, job.state, job.claimed_by, job.attempts) == (taken.id, "running", "other:2", 2)


async def test_a_recurring_kind_is_ensured_once_and_rescheduled_after_each_run(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    runs: list[int] = []

    async def tick(payload: dict[str, Any], ctx: JobContext) -> None:
        runs.append(ctx.attempt)

    handlers = {"tick": HandlerSpec(tick, every_s=60)}
    worker = make_worker(db, clock, settings, handlers)
    assert await worker.ensure_recurring() == 1
    assert await worker.ensure_recurring() == 0
    assert await worker.run_once() == 1
    [job] = await all_jobs(db)
    assert (job.state, job.due_at, job.dedupe_key) == (
        "ready",
        clock.now() + timedelta(seconds=60),
        "recurring:tick",
    )
    assert await worker.run_once() == 0
    clock.advance(timedelta(seconds=60))
    assert await worker.run_once() == 1
    assert runs == [1, 1] and len(await all_jobs(db)) == 1


async def test_run_forever_stops_when_asked_and_closes_handlers(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    closed: list[bool] = []
    done = asyncio.Event()

    async def work(payload: dict[str, Any], ctx: JobContext) -> None:
        done.set()

    async def close() -> None:
        closed.append(True)

    await add(db, clock, "work")
    worker = make_worker(db, clock, settings, {"work": HandlerSpec(work, close=close)}, poll_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    await asyncio.wait_for(done.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert closed == [True]
    assert [job.state for job in await all_jobs(db)] == ["done"]


async def sweep_job(db: Database) -> Job:
    [job] = [job for job in await all_jobs(db) if job.kind == SWEEP_KIND]
    return job


async def test_the_default_sweep_job_auto_completes_unconfirmed_incidents(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database, settings: Settings
) -> None:
    number = await resolved_incident(client, desk, clock, title="printer jam")
    # Only the sweep: other kinds the incident queued (notifications) are not this test's.
    sweep_only = {SWEEP_KIND: default_handlers(settings)[SWEEP_KIND]}
    async with db.write() as session:
        await session.execute(update(Job).values(due_at=clock.now() + timedelta(days=365)))
    worker = make_worker(db, clock, settings, sweep_only)
    await worker.ensure_recurring()
    assert await worker.run_once() == 1
    assert (await state(client, desk, number))["status"] == "INCIDENT_STATUS_RESOLVED"
    clock.advance(timedelta(days=settings.auto_complete_days))
    assert await worker.run_once() == 1
    assert (await state(client, desk, number))["status"] == "INCIDENT_STATUS_COMPLETED"
    job = await sweep_job(db)
    assert job.state == "ready"
    assert job.due_at == clock.now() + timedelta(seconds=settings.lifecycle_sweep_s)


async def test_serve_runs_the_worker_in_process_and_stops_it_on_shutdown(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    from opsdesk.app import create_app

    app = create_app(settings, db=db, clock=clock)
    async with app.router.lifespan_context(app):
        assert app.state.worker is not None
        deadline = asyncio.get_running_loop().time() + 20
        while not [job for job in await all_jobs(db) if job.kind == SWEEP_KIND]:
            assert asyncio.get_running_loop().time() < deadline, "the sweep job never appeared"
            await asyncio.sleep(0.05)
        while (await sweep_job(db)).due_at == clock.now():
            assert asyncio.get_running_loop().time() < deadline, "the sweep never ran"
            await asyncio.sleep(0.05)
    assert app.state.worker.task.done()
    assert (await sweep_job(db)).state == "ready"


async def test_serve_without_the_worker_starts_none(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    from opsdesk.app import create_app

    app = create_app(settings.model_copy(update={"run_worker": False}), db=db, clock=clock)
    async with app.router.lifespan_context(app):
        assert app.state.worker is None
    assert await all_jobs(db) == []


async def test_the_purge_job_deletes_finished_jobs_older_than_the_setting(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    async def nothing(_payload: dict[str, Any], _ctx: JobContext) -> None:
        return None

    await add(db, clock, "test.old")
    await add(db, clock, "test.failing", max_attempts=1)
    worker = make_worker(db, clock, settings, {"test.old": HandlerSpec(nothing)})
    assert await worker.run_once() == 2  # one done, one dead (unknown kind)
    clock.advance(timedelta(days=settings.jobs_keep_days, seconds=1))
    await add(db, clock, "test.old")
    assert await worker.run_once() == 1  # a recent done job
    purge_only = {PURGE_KIND: default_handlers(settings)[PURGE_KIND]}
    purger = make_worker(db, clock, settings, purge_only)
    await purger.ensure_recurring()
    assert await purger.run_once() == 1
    left = [(job.kind, job.state) for job in await all_jobs(db)]
    # The old done job is gone; the dead one stays for an admin, the recent one stays.
    assert sorted(left) == [(PURGE_KIND, "ready"), ("test.failing", "dead"), ("test.old", "done")]


async def test_the_purge_job_deletes_ended_sessions_and_old_auth_events(
    db: Database, clock: FixedClock, settings: Settings, desk: Desk
) -> None:
    policy = session_policy_of(settings)
    client = Client(address="192.0.2.1", user_agent="test")
    async with db.write() as session:
        old_event_at = clock.now()
        await record_event(
            session=session,
            kind=EventKind.SIGN_IN,
            email="old@example.com",
            user_id=None,
            client=client,
            now=old_event_at,
        )
        signed_out, secret = await start_session(
            session=session,
            user_id=desk.tech.id,
            now=clock.now(),
            policy=policy,
            client_address="192.0.2.1",
            user_agent="test",
        )
        await end_session(session=session, secret=secret, now=clock.now())
        idle, _ = await start_session(
            session=session,
            user_id=desk.tech.id,
            now=clock.now(),
            policy=policy,
            client_address="192.0.2.1",
            user_agent="test",
        )
        ended = {signed_out.id, idle.id}
    clock.advance(timedelta(days=settings.auth_events_keep_days, seconds=policy.idle_s + 1))
    async with db.write() as session:
        live, _ = await start_session(
            session=session,
            user_id=desk.tech.id,
            now=clock.now(),
            policy=policy,
            client_address="192.0.2.1",
            user_agent="test",
        )
        await record_event(
            session=session,
            kind=EventKind.SIGN_IN,
            email="new@example.com",
            user_id=None,
            client=client,
            now=clock.now(),
        )
    purge_only = {PURGE_KIND: default_handlers(settings)[PURGE_KIND]}
    purger = make_worker(db, clock, settings, purge_only)
    await purger.ensure_recurring()
    assert await purger.run_once() == 1
    async with db.read() as session:
        sessions = set(await session.scalars(select(AuthSession.id)))
        emails = list(await session.scalars(select(AuthEvent.email)))
    assert live.id in sessions and not ended & sessions
    assert emails == ["new@example.com"]
