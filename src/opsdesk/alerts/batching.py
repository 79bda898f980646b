"""Single-event senders (PagerDuty Events v2) committed together: one transaction per burst.

A PagerDuty sender posts one event per request. Committing each in its own transaction makes
the fixed cost of a transaction (session, BEGIN, COMMIT and its WAL flush) the price of every
event. Here concurrent requests meet in a queue: while one transaction is being committed,
the events that arrive wait, and the next transaction takes all of them. Under light load a
batch is one event and nothing waits; under a storm a batch is as large as the concurrency.
No timer delays an event: a batch starts as soon as the previous one has committed.

Each request still answers only after its own event is committed. A batch that fails is
retried one event per transaction, so one bad event cannot fail the others' requests.
Within a batch, events are applied in arrival order: a batch is cut where an event's dedup
key was already seen in it, because ``ingest`` resolves a post's alerts before it upserts
the firing ones (a trigger then a resolve of one key must not become a resolve then a
trigger).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from opsdesk.alerts.payloads import NormalisedAlert
from opsdesk.alerts.service import IntegrationView, ingest
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.incidents.rules import IncidentRules

log = logging.getLogger(__name__)

# Events per transaction at most: enough to absorb any realistic concurrency per process,
# small enough that one transaction's statements stay short.
MAX_BATCH = 500


@dataclass(frozen=True)
class _Pending:
    integration: IntegrationView
    alert: NormalisedAlert
    done: asyncio.Future[None]


def segments(batch: Sequence[_Pending]) -> list[list[_Pending]]:
    """Runs of one integration's events in arrival order, no dedup key twice in a run."""
    runs: list[list[_Pending]] = []
    seen: set[str] = set()
    for item in batch:
        key = item.alert.dedup_key
        current = runs[-1] if runs else None
        if current is None or current[0].integration.id != item.integration.id or key in seen:
            runs.append([item])
            seen = {key}
        else:
            current.append(item)
            seen.add(key)
    return runs


class IngestBatcher:
    """One per process and database: see the module's docstring."""

    def __init__(self, *, db: Database, clock: Clock, rules: IncidentRules) -> None:
        self._db = db
        self._clock = clock
        self._rules = rules
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, integration: IntegrationView, alert: NormalisedAlert) -> None:
        """Return once ``alert`` is committed; raise what storing it raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(integration, alert, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # A client that goes away must not cancel the flush the others wait for.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._queue:
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
            try:
                await self._commit(batch)
            except Exception as error:
                if len(batch) == 1:
                    _settle(batch, error=error)
                    continue
                log.debug("a batch of %d events failed; retrying them one by one", len(batch))
                for item in batch:
                    try:
                        await self._commit([item])
                    except Exception as item_error:
                        _settle([item], error=item_error)
                    else:
                        _settle([item])
            except BaseException as stopping:  # cancelled at shutdown: nobody waits forever
                _settle([*batch, *self._queue], error=stopping)
                self._queue.clear()
                raise
            else:
                _settle(batch)

    async def _commit(self, batch: Sequence[_Pending]) -> None:
        async with self._db.write() as session:
            now = self._clock.now()
            for run in segments(batch):
                await ingest(
                    session=session,
                    integration=run[0].integration,
                    alerts=[item.alert for item in run],
                    now=now,
                    rules=self._rules,
                )


def _settle(batch: Sequence[_Pending], *, error: BaseException | None = None) -> None:
    for item in batch:
        if item.done.done():
            continue
        if error is None:
            item.done.set_result(None)
        else:
            item.done.set_exception(error)
