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
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.intake.email.service import StoredMail

log = logging.getLogger(__name__)

PROCESS_BATCH = 50
IDLE_CHECK_S = 5.0
# After a mail arrives, wait this long before processing: the door's "250" goes out first,
# and mails arriving together are processed in one transaction.
GATHER_S = 0.02


class _Arrival:
    """A mail waiting for the next group commit, and the door waiting for its answer."""

    def __init__(
        self, raw: bytes, door: str, envelope_from: str, envelope_to: tuple[str, ...]
    ) -> None:
        self.raw = raw
        self.door = door
        self.envelope_from = envelope_from
        self.envelope_to = envelope_to
        self.stored: asyncio.Future[StoredMail] = asyncio.get_running_loop().create_future()


class Intake:
    """Stores and processes inbound mail against one database."""

    def __init__(self, *, db: Database, clock: Clock, rules: MailRules) -> None:
        self.db = db
        self.clock = clock
        self.rules = rules
        self._wake = asyncio.Event()
        self._arrivals: list[_Arrival] = []
        self._committer: asyncio.Task[None] | None = None

    async def store(
        self,
        raw: bytes,
        *,
        door: str,
        envelope_from: str = "",
        envelope_to: Sequence[str] = (),
    ) -> StoredMail:
        """Keep the raw mail; returns once it is committed (the door may acknowledge).

        Mails stored at the same moment (concurrent SMTP sessions) share one transaction
        (group commit), so a commit's cost is paid once for all of them.
        """
        arrival = _Arrival(raw, door, envelope_from, tuple(envelope_to))
        self._arrivals.append(arrival)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_arrivals())
        return await arrival.stored

    async def _commit_arrivals(self) -> None:
        while self._arrivals:
            batch, self._arrivals = self._arrivals, []
            try:
                await self._store_batch(batch)
            except Exception:
                # One mail must not refuse its neighbours: store them one by one, so only
                # the one that fails is answered "try again later".
                for arrival in batch:
                    try:
                        await self._store_batch([arrival])
                    except Exception as exc:
                        if not arrival.stored.done():
                            arrival.stored.set_exception(exc)
            self._wake.set()

    async def _store_batch(self, batch: list[_Arrival]) -> None:
        async with self.db.write() as session:
            results = [
                await service.store_mail(
                    session,
                    raw=arrival.raw,
                    door=arrival.door,
                    now=self.clock.now(),
                    envelope_from=arrival.envelope_from,
                    envelope_to=arrival.envelope_to,
                )
                for arrival in batch
            ]
        for arrival, result in zip(batch, results, strict=True):
            if not arrival.stored.done():
                arrival.stored.set_result(result)

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
