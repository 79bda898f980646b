"""The lifecycle sweep: time-driven actions (auto-complete, end of pause) run periodically.

The due work is found by querying incidents directly, which is durable by itself: nothing is
lost when a process dies, because the incident rows say what is due and the next sweep picks
it up. The worker runs it as the recurring job "incidents.sweep" (opsdesk/worker.py);
``opsdesk incidents sweep`` runs it once.
"""

from __future__ import annotations

from datetime import timedelta

from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents.actions import SweepResult, sweep_due
from opsdesk.incidents.service import IncidentRules


def incident_rules_from(settings: Settings) -> IncidentRules:
    """The incident rules' tunables from the deployment settings (serve and worker alike)."""
    return IncidentRules(
        clock_skew=timedelta(seconds=settings.clock_skew_s),
        reopen_window=timedelta(days=settings.reopen_window_days),
        auto_complete_after=timedelta(days=settings.auto_complete_days),
        attachment_max_bytes=settings.attachment_max_bytes,
        attachment_max_count=settings.attachment_max_count,
    )


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
