"""Worker processes on PostgreSQL: two share 10,000 jobs, and a kill -9 loses nothing."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from opsdesk.core import jobs
from opsdesk.core.database import Database
from tests.e2e import recording_handlers
from tests.e2e.workers import wait_until, worker_pool

HANDLERS = "tests.e2e.recording_handlers"
log = logging.getLogger(__name__)


@pytest.fixture
def backend() -> str:
    return "postgres"  # SKIP LOCKED across processes is the point; skipped without PostgreSQL


def sql(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(statement.encode()).fetchall())


def prepare(database_url: str, count: int, sleep_s: float) -> None:
    async def work() -> None:
        db = Database(database_url)
        try:
            async with db.write() as session:
                await session.execute(text(recording_handlers.CREATE_TABLE))
                new_jobs = [
                    jobs.NewJob(kind=recording_handlers.KIND, payload={"n": n, "sleep_s": sleep_s})
                    for n in range(count)
                ]
                assert await jobs.enqueue_many(session, new_jobs=new_jobs, now=datetime.now(UTC))
        finally:
            await db.dispose()

    asyncio.run(work())


def counts(database_url: str) -> dict[str, int]:
    return dict(sql(database_url, "SELECT state, count(*) FROM jobs GROUP BY state"))


def runs(database_url: str) -> dict[int, list[tuple[str, float, float]]]:
    by_job: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for job_id, worker, started, ended in sql(
        database_url, "SELECT job_id, worker, started, ended FROM job_runs"
    ):
        by_job[job_id].append((worker, started, ended))
    return by_job


def overlapping(by_job: dict[int, list[tuple[str, float, float]]]) -> list[int]:
    clashes = []
    for job_id, spans in by_job.items():
        ordered = sorted(spans, key=lambda span: span[1])
        if any(later[1] < earlier[2] for earlier, later in itertools.pairwise(ordered)):
            clashes.append(job_id)
    return clashes


def test_two_worker_processes_share_10000_jobs_without_running_one_twice_at_once(
    database_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    total = 10_000
    prepare(database_url, total, sleep_s=0.001)
    job_ids = {row[0] for row in sql(database_url, "SELECT id FROM jobs")}
    with worker_pool(database_url, tmp_path) as pool:
        began = time.monotonic()
        first = pool.start(handler_module=HANDLERS, concurrency=16, batch=100)
        second = pool.start(handler_module=HANDLERS, concurrency=16, batch=100)
        wait_until(
            lambda: counts(database_url).get("done", 0) == total,
            timeout_s=50,
            what=f"{total} jobs done",
            workers=[first, second],
        )
        elapsed = time.monotonic() - began
        assert first.stop() == 0 and second.stop() == 0  # SIGTERM: a clean exit
    by_job = runs(database_url)
    assert set(by_job) == job_ids
    assert overlapping(by_job) == []
    twice = [job_id for job_id, spans in by_job.items() if len(spans) > 1]
    assert twice == []  # no claim expired, so no job may have run a second time at all
    per_worker: dict[str, int] = defaultdict(int)
    for spans in by_job.values():
        per_worker[spans[0][0]] += 1
    assert len(per_worker) == 2 and min(per_worker.values()) > total // 10, per_worker
    record_property("jobs_per_s", round(total / elapsed))
    log.info("%d jobs in %.1f s (%.0f/s); split %s", total, elapsed, total / elapsed, per_worker)


def test_a_worker_killed_mid_batch_leaves_its_jobs_to_the_next_one(
    database_url: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    total, batch, lease_s = 1_000, 50, 3.0
    prepare(database_url, total, sleep_s=0.02)
    with worker_pool(database_url, tmp_path) as pool:
        doomed = pool.start(handler_module=HANDLERS, concurrency=8, batch=batch, lease_s=lease_s)
        wait_until(
            lambda: len(runs(database_url)) >= 200 and counts(database_url).get("running", 0) > 0,
            timeout_s=30,
            what="the first worker to get going",
            workers=[doomed],
        )
        doomed.kill_hard()
        orphaned = counts(database_url).get("running", 0)
        assert orphaned > 0  # killed mid-batch, with claims left behind
        rescuer = pool.start(handler_module=HANDLERS, concurrency=8, batch=batch, lease_s=lease_s)
        wait_until(
            lambda: counts(database_url).get("done", 0) == total,
            timeout_s=45,
            what="every job done after the crash",
            workers=[rescuer],
        )
        assert rescuer.stop() == 0
    by_job = runs(database_url)
    assert len(by_job) == total
    assert overlapping(by_job) == []
    twice = sorted(job_id for job_id, spans in by_job.items() if len(spans) > 1)
    # Only jobs the killed worker held can run again, and at most one batch of them.
    assert len(twice) <= min(orphaned, batch)
    retried = sql(database_url, "SELECT count(*) FROM jobs WHERE attempts > 1")[0][0]
    assert retried == orphaned
    record_property("ran_twice", len(twice))
    log.info("kill -9 with %d jobs claimed: all %d done, %d ran twice", orphaned, total, len(twice))
