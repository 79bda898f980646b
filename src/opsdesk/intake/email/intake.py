"""The units of work every door shares: store one mail (commit), process what is pending.

A door calls ``store`` and only then tells the sender "OK"; processing runs after, in its
own transactions, so a crash between the two leaves a pending mail that the next
``process_all`` (in ``mail serve`` at start, or the worker's ``mail.process`` job) picks up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.intake.email import service
from opsdesk.intake.email.service import MailRules, StoredMail

log = logging.getLogger(__name__)

PROCESS_BATCH = 50
IDLE_CHECK_S = 5.0
# After a mail arrives, wait this long before processing: the door's "250" goes out first,
# and mails arriving together are processed in one transaction.
GATHER_S = 0.02


class Intake:
    """Stores and processes inbound mail against one database."""

    def __init__(self, *, db: Database, clock: Clock, rules: MailRules) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self._wake = asyncio.Event()

    async def store(
        self,
        raw: bytes,
        *,
        door: str,
        envelope_from: str = "",
        envelope_to: Sequence[str] = (),
    ) -> StoredMail:
        """Keep the raw mail; returns once it is committed (the door may acknowledge)."""
        async with self.db.write() as session:
            stored = await service.store_mail(
                session,
                raw=raw,
                door=door,
                now=self.clock.now(),
                envelope_from=envelope_from,
                envelope_to=envelope_to,
            )
        self._wake.set()
        return stored

    async def process_all(self, *, batch: int = PROCESS_BATCH) -> int:
        """Process every pending mail, a batch per transaction; returns how many."""
        total = 0
        while True:
            async with self.db.write() as session:
                done = await service.process_pending(
                    session, rules=self.rules, now=self.clock.now(), limit=batch
                )
            total += done
            if done < batch:
                return total

    async def run_processor(self, stop: asyncio.Event) -> None:
        """Process as mail arrives (and now and then, for mail stored by other processes)."""
        while not stop.is_set():
            self._wake.clear()
            await asyncio.sleep(GATHER_S)
            try:
                await self.process_all()
            except Exception:  # the database may be away for a moment: try again later
                log.exception("processing inbound mail failed; retrying")
                await asyncio.sleep(1)
            with contextlib.suppress(TimeoutError):
                waiters = [asyncio.ensure_future(self._wake.wait())]
                waiters.append(asyncio.ensure_future(stop.wait()))
                try:
                    await asyncio.wait_for(
                        asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), IDLE_CHECK_S
                    )
                finally:
                    for waiter in waiters:
                        waiter.cancel()
