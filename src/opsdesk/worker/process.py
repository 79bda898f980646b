"""Running the worker: the ``opsdesk worker`` process, and the worker ``opsdesk serve`` runs
beside the web app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field

from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import HandlerSpec, Worker

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0


async def run_worker_process(
    settings: Settings,
    *,
    handlers: Mapping[str, HandlerSpec] | None = None,
    concurrency: int = 16,
    batch: int = 100,
    lease_s: float = 60.0,
    poll_s: float = 1.0,
    once: bool = False,
) -> int:
    """The body of ``opsdesk worker``: run until SIGTERM/SIGINT (or one batch with ``once``).

    A signal stops claiming and lets the jobs in hand finish. Returns how many jobs the
    ``once`` batch claimed (0 when running until stopped).
    """
    db = Database(settings.resolved_database_url(), pool_size=max(4, concurrency + 2))
    worker = Worker(
        db=db,
        clock=SystemClock(),
        handlers=handlers if handlers is not None else default_handlers(settings),
        settings=settings,
        lease_s=lease_s,
        poll_s=poll_s,
        batch=batch,
        concurrency=concurrency,
    )
    try:
        if once:
            await worker.ensure_recurring()
            try:
                return await worker.run_once()
            finally:
                await worker.close()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker %s started", worker.worker_id)
        await worker.run_forever(stop)
        log.info("worker %s stopped", worker.worker_id)
        return 0
    finally:
        await db.dispose()


@dataclass
class InProcessWorker:
    """The worker ``opsdesk serve`` runs beside the web app (OPSDESK_RUN_WORKER)."""

    worker: Worker
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(
            self.worker.run_forever(self.stop), name="opsdesk-in-process-worker"
        )

    async def shutdown(self, grace_s: float = STOP_GRACE_S) -> None:
        """Finish the batch in hand (up to ``grace_s``), then cancel what is left."""
        if self.task is None:
            return
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=grace_s)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
