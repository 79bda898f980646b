"""The lifecycle sweep: time-driven actions (auto-complete, end of pause) run periodically.

The due work is found by querying incidents directly, which is durable by itself: nothing is
lost when a process dies, because the incident rows say what is due and the next sweep picks
it up. The worker runs it as the recurring job "incidents.sweep" (opsdesk/worker/handlers.py);
``opsdesk incidents sweep`` runs it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents.acting import Actor
from opsdesk.incidents.actions import apply_action
from opsdesk.incidents.fields import Status
from opsdesk.incidents.lifecycle import Action, SubStatus
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import AutoCompleteParams, ResumeParams


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


@dataclass(frozen=True)
class SweepResult:
    completed: int
    resumed: int


async def sweep_due(
    *, session: AsyncSession, now: datetime, rules: IncidentRules, batch: int = 500
) -> SweepResult:
    """Complete resolved incidents nobody confirmed in time and end pauses that ran out.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several servers can
    sweep at once without acting twice; each incident goes through ``apply_action`` like
    any other action.
    """
    system = Actor(None)
    cutoff = now - rules.auto_complete_after
    due_completion = (
        select(Incident)
        .where(
            Incident.status == str(Status.RESOLVED),
            Incident.major.is_(False),
            Incident.resolved_at <= cutoff,
        )
        .order_by(Incident.resolved_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    completed = 0
    for incident in list(await session.scalars(due_completion)):
        await apply_action(
            session=session,
            incident=incident,
            actor=system,
            action=Action.AUTO_COMPLETE,
            params=AutoCompleteParams(),
            now=now,
            rules=rules,
        )
        completed += 1
    due_resume = (
        select(Incident)
        .where(
            Incident.status == str(Status.ACKNOWLEDGED),
            Incident.sub_status == str(SubStatus.PAUSED),
            Incident.pause_until <= now,
        )
        .order_by(Incident.pause_until)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    resumed = 0
    for incident in list(await session.scalars(due_resume)):
        await apply_action(
            session=session,
            incident=incident,
            actor=system,
            action=Action.RESUME,
            params=ResumeParams(comment="the planned end of the pause was reached"),
            now=now,
            rules=rules,
        )
        resumed += 1
    return SweepResult(completed=completed, resumed=resumed)
