"""The jobs table: enqueue and dedupe, claim, complete, fail and back off, dead letter, takeover."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsdesk.core import job_admin, job_claims, jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.job_claims import ClaimedJob
from opsdesk.core.jobs import Job

A = "host-a:1"
B = "host-b:2"


async def add(db: Database, clock: FixedClock, kind: str = "test.echo", **options: Any) -> bool:
    payload = options.pop("payload", {"n": 1})
    async with db.write() as session:
        return await jobs.enqueue(session, kind=kind, payload=payload, now=clock.now(), **options)


async def claim(
    db: Database, clock: FixedClock, worker: str = A, limit: int = 10, lease_s: float = 30
) -> list[ClaimedJob]:
    async with db.write() as session:
        return await job_claims.claim(
            session, worker_id=worker, now=clock.now(), limit=limit, lease_s=lease_s
        )


async def load(db: Database, job_id: int) -> Job:
    async with db.read() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def fail(db: Database, clock: FixedClock, job: ClaimedJob, worker: str = A) -> str:
    async with db.write() as session:
        return await job_claims.fail(
            session, job_id=job.id, worker_id=worker, error="boom", now=clock.now(), jitter=1.0
        )


async def test_an_enqueued_job_is_claimed_once_with_its_payload(
    db: Database, clock: FixedClock
) -> None:
    assert await add(db, clock, payload={"to": "ops@example.com", "n": [1, 2]})
    [job] = await claim(db, clock)
    assert (job.kind, job.payload, job.attempt) == (
        "test.echo",
        {"to": "ops@example.com", "n": [1, 2]},
        1,
    )
    assert job.claim_expires_at == clock.now() + timedelta(seconds=30)
    assert await claim(db, clock, worker=B) == []
    row = await load(db, job.id)
    assert (row.state, row.claimed_by, row.attempts) == ("running", A, 1)


async def test_a_job_is_not_claimed_before_it_is_due(db: Database, clock: FixedClock) -> None:
    await add(db, clock, due_at=clock.now() + timedelta(minutes=5))
    assert await claim(db, clock) == []
    clock.advance(timedelta(minutes=5))
    assert len(await claim(db, clock)) == 1


async def test_claim_takes_the_earliest_due_first_and_respects_limit_and_kinds(
    db: Database, clock: FixedClock
) -> None:
    for minutes, kind in [(3, "a"), (1, "b"), (2, "a"), (0, "a")]:
        await add(
            db,
            clock,
            kind=kind,
            payload={"m": minutes},
            due_at=clock.now() - timedelta(minutes=minutes),
        )
    first = await claim(db, clock, limit=2)
    assert [job.payload["m"] for job in first] == [3, 2]
    async with db.write() as session:
        only_b = await job_claims.claim(
            session, worker_id=B, now=clock.now(), limit=10, lease_s=30, kinds=["b"]
        )
    assert [job.payload["m"] for job in only_b] == [1]
    assert [job.payload["m"] for job in await claim(db, clock)] == [0]


async def test_a_dedupe_key_allows_one_live_job_and_frees_up_when_it_finishes(
    db: Database, clock: FixedClock
) -> None:
    assert await add(db, clock, dedupe_key="sla:42")
    assert not await add(db, clock, dedupe_key="sla:42")
    assert await add(db, clock, dedupe_key="sla:43")
    [job, _other] = await claim(db, clock)
    assert not await add(db, clock, dedupe_key="sla:42")  # running still counts as live
    async with db.write() as session:
        assert await job_claims.complete(session, job_id=job.id, worker_id=A, now=clock.now())
    assert await add(db, clock, dedupe_key="sla:42")
    assert await add(db, clock) and await add(db, clock)  # no key: never deduplicated
    async with db.read() as session:
        assert (await job_admin.count_jobs(session))["ready"] == 3


async def test_concurrent_enqueues_with_one_dedupe_key_make_one_job_and_no_error(
    db: Database, clock: FixedClock
) -> None:
    results = await asyncio.gather(*(add(db, clock, dedupe_key="once") for _ in range(20)))
    assert sorted(results) == [False] * 19 + [True]
    async with db.read() as session:
        assert (await job_admin.count_jobs(session))["ready"] == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": ""}, "kind"),
        ({"kind": "k" * 65}, "kind"),
        ({"dedupe_key": "d" * 201}, "dedupe_key"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
async def test_bad_enqueue_input_names_the_field(
    db: Database, clock: FixedClock, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await add(db, clock, **options)
    assert caught.value.field == field


async def test_complete_marks_done_and_a_stranger_cannot_complete(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock)
    [job] = await claim(db, clock)
    async with db.write() as session:
        assert not await job_claims.complete(session, job_id=job.id, worker_id=B, now=clock.now())
    clock.advance(timedelta(seconds=2))
    async with db.write() as session:
        assert await job_claims.complete(
            session, job_id=job.id, worker_id=A, now=clock.now(), attempt=job.attempt
        )
        assert not await job_claims.complete(session, job_id=job.id, worker_id=A, now=clock.now())
    row = await load(db, job.id)
    assert (row.state, row.finished_at, row.claim_expires_at) == ("done", clock.now(), None)


async def test_complete_many_records_a_batch_in_one_statement(
    db: Database, clock: FixedClock
) -> None:
    for _ in range(5):
        await add(db, clock)
    claimed = await claim(db, clock)
    async with db.write() as session:
        done = await job_claims.complete_many(
            session, jobs=claimed[:4], worker_id=A, now=clock.now()
        )
    assert done == {job.id for job in claimed[:4]}
    async with db.read() as session:
        counts = await job_admin.count_jobs(session)
    assert (counts["done"], counts["running"]) == (4, 1)


async def test_a_failure_is_retried_after_a_growing_backoff_then_the_job_dies(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock, max_attempts=3)
    [job] = await claim(db, clock)
    assert await fail(db, clock, job) == "retry"
    row = await load(db, job.id)
    assert (row.state, row.last_error, row.claimed_by) == ("ready", "boom", None)
    assert row.due_at == clock.now() + timedelta(seconds=job_claims.backoff_delay(1, jitter=1.0))
    assert await claim(db, clock) == []  # not before the backoff
    clock.advance(timedelta(seconds=10))
    [job] = await claim(db, clock)
    assert job.attempt == 2
    assert await fail(db, clock, job) == "retry"
    assert (await load(db, job.id)).due_at == clock.now() + timedelta(seconds=20)
    clock.advance(timedelta(seconds=20))
    [job] = await claim(db, clock)
    assert await fail(db, clock, job) == "dead"
    row = await load(db, job.id)
    assert (row.state, row.attempts, row.finished_at) == ("dead", 3, clock.now())
    clock.advance(timedelta(days=1))
    assert await claim(db, clock) == []


async def test_a_long_error_is_stored_truncated(db: Database, clock: FixedClock) -> None:
    await add(db, clock)
    [job] = await claim(db, clock)
    async with db.write() as session:
        await job_claims.fail(
            session, job_id=job.id, worker_id=A, error="x" * 10_000, now=clock.now()
        )
    stored = (await load(db, job.id)).last_error
    assert stored is not None and len(stored) == jobs.ERROR_MAX


async def test_an_expired_claim_is_taken_over_and_the_stale_worker_cannot_record(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock)
    [stale] = await claim(db, clock, worker=A, lease_s=30)
    clock.advance(timedelta(seconds=29))
    assert await claim(db, clock, worker=B) == []  # the lease still holds
    clock.advance(timedelta(seconds=1))
    [fresh] = await claim(db, clock, worker=B)
    assert (fresh.id, fresh.attempt) == (stale.id, 2)
    async with db.write() as session:
        assert not await job_claims.complete(session, job_id=stale.id, worker_id=A, now=clock.now())
        assert (
            await job_claims.complete_many(session, jobs=[stale], worker_id=A, now=clock.now())
            == set()
        )
        assert not await job_claims.kill(
            session, job_id=stale.id, worker_id=A, error="x", now=clock.now()
        )
    assert await fail(db, clock, stale, worker=A) == "lost"
    row = await load(db, fresh.id)
    assert (row.state, row.claimed_by, row.last_error) == ("running", B, None)
    async with db.write() as session:
        assert await job_claims.complete(
            session, job_id=fresh.id, worker_id=B, now=clock.now(), attempt=2
        )
    assert (await load(db, fresh.id)).state == "done"


async def test_the_same_worker_cannot_record_an_older_attempt_of_its_own(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock)
    [first] = await claim(db, clock, worker=A, lease_s=5)
    clock.advance(timedelta(seconds=5))
    [second] = await claim(db, clock, worker=A, lease_s=5)
    async with db.write() as session:
        assert not await job_claims.complete(
            session, job_id=first.id, worker_id=A, now=clock.now(), attempt=first.attempt
        )
        assert (
            await job_claims.complete_many(session, jobs=[first], worker_id=A, now=clock.now())
            == set()
        )
        assert await job_claims.complete_many(
            session, jobs=[second], worker_id=A, now=clock.now()
        ) == {second.id}


async def test_extending_claims_keeps_a_slow_job_from_being_taken_over(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock)
    [job] = await claim(db, clock, lease_s=30)
    clock.advance(timedelta(seconds=20))
    async with db.write() as session:
        held = await job_claims.extend_claims(
            session, jobs=[job], worker_id=A, now=clock.now(), lease_s=30
        )
    assert held == {job.id}
    clock.advance(timedelta(seconds=20))
    assert await claim(db, clock, worker=B) == []


async def test_a_recurring_job_is_rescheduled_in_place(db: Database, clock: FixedClock) -> None:
    await add(db, clock, dedupe_key="recurring:tick")
    [job] = await claim(db, clock)
    later = clock.now() + timedelta(minutes=1)
    async with db.write() as session:
        assert await job_claims.complete(
            session, job_id=job.id, worker_id=A, now=clock.now(), reschedule_at=later
        )
    row = await load(db, job.id)
    assert (row.state, row.due_at, row.attempts, row.claimed_by) == ("ready", later, 0, None)
    assert not await add(db, clock, dedupe_key="recurring:tick")


async def test_an_admin_retries_a_dead_job_with_fresh_tries(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock, max_attempts=1, dedupe_key="mail:7")
    [job] = await claim(db, clock)
    assert await fail(db, clock, job) == "dead"
    async with db.read() as session:
        [dead] = await job_admin.list_jobs(session, state="dead")
    assert dead.id == job.id and dead.last_error == "boom"
    clock.advance(timedelta(hours=1))
    async with db.write() as session:
        retried = await job_admin.retry_dead(session, job_id=job.id, now=clock.now())
    assert (retried.state, retried.attempts, retried.due_at) == ("ready", 0, clock.now())
    assert retried.finished_at is None
    [again] = await claim(db, clock)
    assert (again.id, again.attempt) == (job.id, 1)
    with pytest.raises(Conflict, match="running"):
        async with db.write() as session:
            await job_admin.retry_dead(session, job_id=job.id, now=clock.now())
    with pytest.raises(NotFound):
        async with db.write() as session:
            await job_admin.retry_dead(session, job_id=job.id + 1000, now=clock.now())


async def test_a_dead_job_is_not_retried_while_a_live_one_has_its_dedupe_key(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock, max_attempts=1, dedupe_key="sla:9")
    [job] = await claim(db, clock)
    await fail(db, clock, job)
    assert await add(db, clock, dedupe_key="sla:9")
    with pytest.raises(Conflict, match="dedupe key"):
        async with db.write() as session:
            await job_admin.retry_dead(session, job_id=job.id, now=clock.now())


async def test_list_jobs_filters_by_state_and_kind_and_pages(
    db: Database, clock: FixedClock
) -> None:
    for n in range(5):
        await add(db, clock, kind="a" if n % 2 else "b", due_at=clock.now() + timedelta(minutes=n))
    async with db.read() as session:
        page1 = await job_admin.list_jobs(session, state="ready", limit=2)
        page2 = await job_admin.list_jobs(session, state="ready", limit=2, offset=2)
        only_a = await job_admin.list_jobs(session, state="ready", kind="a")
        counts_a = await job_admin.count_jobs(session, kind="a")
        with pytest.raises(ValidationFailed, match="state"):
            await job_admin.list_jobs(session, state="lost")
    assert [job.due_at for job in page1 + page2] == sorted(
        (job.due_at for job in page1 + page2), reverse=True
    )
    assert {job.kind for job in only_a} == {"a"} and len(only_a) == 2
    assert counts_a == {"ready": 2, "running": 0, "done": 0, "dead": 0}


async def test_purge_removes_old_done_jobs_only(db: Database, clock: FixedClock) -> None:
    for _ in range(3):
        await add(db, clock)
    claimed = await claim(db, clock)
    async with db.write() as session:
        await job_claims.complete_many(session, jobs=claimed[:2], worker_id=A, now=clock.now())
    clock.advance(timedelta(days=8))
    async with db.write() as session:
        removed = await job_admin.purge_finished(session, before=clock.now() - timedelta(days=7))
    assert removed == 2
    async with db.read() as session:
        assert (await job_admin.count_jobs(session))["running"] == 1
        assert list(await session.scalars(select(Job.id))) == [claimed[2].id]


async def test_concurrent_claimers_never_get_the_same_job(db: Database, clock: FixedClock) -> None:
    async with db.write() as session:
        for n in range(300):
            await jobs.enqueue(session, kind="k", payload={"n": n}, now=clock.now())

    async def drain(worker: str) -> list[int]:
        got: list[int] = []
        while batch := await claim(db, clock, worker=worker, limit=7):
            got.extend(job.id for job in batch)
        return got

    results = await asyncio.gather(*(drain(f"w{n}") for n in range(4)))
    every = [job_id for ids in results for job_id in ids]
    assert len(every) == len(set(every)) == 300


async def test_enqueue_many_adds_a_fan_out_and_skips_live_dedupe_keys(
    db: Database, clock: FixedClock
) -> None:
    await add(db, clock, dedupe_key="mail:1")
    new_jobs = [
        jobs.NewJob(kind="mail", payload={"n": n}, dedupe_key=f"mail:{n % 4}") for n in range(8)
    ]
    new_jobs.append(jobs.NewJob(kind="mail", payload={}, due_at=clock.now() + timedelta(hours=1)))
    async with db.write() as session:
        added = await jobs.enqueue_many(session, new_jobs=new_jobs, now=clock.now(), chunk=3)
    assert added == 4  # mail:0, mail:2, mail:3 once each, and the one without a key
    async with db.read() as session:
        keys = sorted(
            str(job.dedupe_key) for job in await job_admin.list_jobs(session, state="ready")
        )
    assert keys == ["None", "mail:0", "mail:1", "mail:2", "mail:3"]
    with pytest.raises(ValidationFailed) as caught:
        async with db.write() as session:
            await jobs.enqueue_many(session, new_jobs=[jobs.NewJob("", {})], now=clock.now())
    assert caught.value.field == "kind"
