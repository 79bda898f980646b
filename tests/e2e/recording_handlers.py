"""A test job kind, ``test.record``: sleeps a little and records who ran it, from when to when.

Rows go to ``job_runs`` (created by the test) and are committed before the handler returns,
so before the worker marks the job done: exactly the window in which a crash makes a job
run twice, so the table shows every run, including those of a worker killed mid-batch.
Concurrent handlers share one commit (group commit), so that recording does not dominate
the cost of the jobs being measured.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text

from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.worker.runner import HandlerSpec, JobContext

KIND = "test.record"
CREATE_TABLE = (
    "CREATE TABLE job_runs (job_id BIGINT NOT NULL, worker TEXT NOT NULL,"
    " started DOUBLE PRECISION NOT NULL, ended DOUBLE PRECISION NOT NULL)"
)
INSERT = text("INSERT INTO job_runs VALUES (:job_id, :worker, :started, :ended)")


class GroupCommit:
    """Rows waiting to be written; whoever finds no flush running writes everyone's."""

    def __init__(self) -> None:
        self.waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.lock = asyncio.Lock()

    async def write(self, db: Database, row: dict[str, Any]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((row, done))
        async with self.lock:
            if not done.done():
                batch, self.waiting = self.waiting, []
                try:
                    async with db.write() as session:
                        await session.execute(INSERT, [entry for entry, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    raise
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        await done


def handlers(settings: Settings) -> dict[str, HandlerSpec]:
    group = GroupCommit()

    async def record(payload: dict[str, Any], ctx: JobContext) -> None:
        started = time.time()
        await asyncio.sleep(float(payload.get("sleep_s", 0.0)))
        ended = time.time()
        row = {"job_id": ctx.job_id, "worker": ctx.worker_id, "started": started, "ended": ended}
        await group.write(ctx.db, row)

    return {KIND: HandlerSpec(record)}
