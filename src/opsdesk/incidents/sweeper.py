"""The lifecycle sweep: time-driven actions (auto-complete, end of pause) run periodically.

Until the durable job table arrives (DESIGN.md, background work), the due work is found by
querying incidents directly, which is as durable: nothing is lost when a process dies,
because the incident rows themselves say what is due, and the next sweep picks it up.
"""

from __future__ import annotations

import asyncio
import logging

from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.incidents.actions import SweepResult, sweep_due
from opsdesk.incidents.service import IncidentRules

log = logging.getLogger(__name__)


async def sweep_once(*, db: Database, clock: Clock, rules: IncidentRules) -> SweepResult:
    """One sweep in one transaction; batches repeat until nothing more is due."""
    total = SweepResult(completed=0, resumed=0)
    while True:
        async with db.write() as session:
            result = await sweep_due(session=session, now=clock.now(), rules=rules)
        total = SweepResult(
            completed=total.completed + result.completed, resumed=total.resumed + result.resumed
        )
        if result.completed + result.resumed == 0:
            return total


async def sweep_forever(
    *, db: Database, clock: Clock, rules: IncidentRules, interval_s: float
) -> None:
    """Sweep every ``interval_s`` seconds until cancelled; a failed sweep is logged and retried."""
    while True:
        try:
            result = await sweep_once(db=db, clock=clock, rules=rules)
            if result.completed or result.resumed:
                log.info(
                    "lifecycle sweep: %d auto-completed, %d resumed",
                    result.completed,
                    result.resumed,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not kill the loop: the next sweep finds the same rows.
            log.exception("lifecycle sweep failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
