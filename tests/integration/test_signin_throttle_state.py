"""Throttle counts stay exact when many processes count failures at once (one UPSERT a key)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from opsdesk.auth.models import AuthThrottle
from opsdesk.auth.signin import count_failure
from opsdesk.auth.throttling import ThrottlePolicy
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database

POLICY = ThrottlePolicy(free_failures=5, first_delay_s=15, max_delay_s=900)
PROCESSES = 4
FAILURES_EACH = 10


async def test_concurrent_failures_from_several_processes_are_all_counted(
    database_url: str, clock: FixedClock
) -> None:
    # One Database (engine and pool) per simulated server process, all on one database.
    databases = [Database(database_url) for _ in range(PROCESSES)]

    async def fail_repeatedly(db: Database) -> list[int]:
        counts = []
        for _ in range(FAILURES_EACH):
            async with db.write() as session:
                counts.append(
                    await count_failure(
                        session=session,
                        key="account:victim@desk.test",
                        policy=POLICY,
                        forget_after_s=3600,
                        now=clock.now(),
                    )
                )
        return counts

    try:
        results = await asyncio.gather(*(fail_repeatedly(db) for db in databases))
        async with databases[0].read() as session:
            row = await session.scalar(select(AuthThrottle))
    finally:
        for db in databases:
            await db.dispose()
    total = PROCESSES * FAILURES_EACH
    # Every answer saw a distinct count: no two processes read the same old value.
    assert sorted(count for counts in results for count in counts) == list(range(1, total + 1))
    assert row is not None and row.failures == total
    assert row.blocked_until == clock.now() + timedelta(seconds=POLICY.delay_after(total))


async def test_failures_are_forgotten_after_a_quiet_spell(db: Database, clock: FixedClock) -> None:
    async def fail() -> int:
        async with db.write() as session:
            return await count_failure(
                session=session, key="address:x", policy=POLICY, forget_after_s=60, now=clock.now()
            )

    assert [await fail() for _ in range(3)] == [1, 2, 3]
    clock.advance(timedelta(seconds=61))
    assert await fail() == 1
