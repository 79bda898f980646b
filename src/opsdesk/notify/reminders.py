"""Reminders: mails that are due later, unless the incident moved on in the meantime.

The confirmation reminder asks the reporter of a resolved incident to confirm (or reopen)
before the auto-complete closes it. It is a job due some days after the resolution,
queued when the resolution is handled; when it comes due it checks that the incident is
still resolved *by that same resolution*, so a confirm, a reopen or a second resolution in
between cancels it without anyone having to find and delete the job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import jobs
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import notify_incident_event

CONFIRM_REMINDER_JOB = "notify.confirm_reminder"
CONFIRM_REMINDER_EVENT = "confirm_reminder"


async def schedule_confirm_reminder(
    session: AsyncSession, *, incident_id: int, now: datetime, after: timedelta
) -> bool:
    """Queue the reminder of the incident's current resolution, ``after`` from now."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.status != Status.RESOLVED or incident.resolved_at is None:
        return False
    resolved_at = incident.resolved_at.isoformat()
    return await jobs.enqueue(
        session,
        kind=CONFIRM_REMINDER_JOB,
        payload={"incident_id": incident_id, "resolved_at": resolved_at},
        now=now,
        due_at=now + after,
        dedupe_key=f"{CONFIRM_REMINDER_JOB}:{incident_id}:{resolved_at}",
    )


async def send_confirm_reminder(
    session: AsyncSession, *, payload: dict[str, Any], now: datetime, settings: Settings
) -> int:
    """The due reminder: mail the reporter if that resolution still waits; else nothing."""
    incident = await session.get(Incident, int(payload["incident_id"]))
    if (
        incident is None
        or incident.status != Status.RESOLVED
        or incident.resolved_at is None
        or incident.resolved_at.isoformat() != payload["resolved_at"]
    ):
        return 0
    return await notify_incident_event(
        session,
        incident_id=incident.id,
        event=CONFIRM_REMINDER_EVENT,
        actor_id=None,
        now=now,
        extra={"event_key": f"reminder-{payload['resolved_at']}"},
        settings=settings,
        webhooks=False,
    )
