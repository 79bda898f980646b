"""Incident events: what happened to an incident, queued in the transaction of the change.

The incident layer only says *that* something happened; the worker hands each event to
the features above it (the SLA clock, notifications, webhooks). Because the job row is
written in the same transaction as the change, an event is never lost between "saved"
and "acted on", and a change that rolls back leaves no event behind.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import jobs
from opsdesk.incidents.lifecycle import Action

INCIDENT_CHANGED = "incident.changed"
# What the worker keeps of a comment: enough for a mail, never a whole document.
COMMENT_MAX = 2000


class IncidentEvent(StrEnum):
    """The events people are told about; every other change is ``UPDATED``."""

    CREATED = "created"
    UPDATED = "updated"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    PUBLIC_REPLY = "public_reply"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    COMPLETED = "completed"


ACTION_EVENTS: dict[Action, IncidentEvent] = {
    Action.ACCEPT: IncidentEvent.ACCEPTED,
    Action.FORWARD: IncidentEvent.ASSIGNED,
    Action.RESOLVE: IncidentEvent.RESOLVED,
    Action.REOPEN: IncidentEvent.REOPENED,
    Action.CLOSE: IncidentEvent.COMPLETED,
    Action.WITHDRAW: IncidentEvent.COMPLETED,
    Action.AUTO_COMPLETE: IncidentEvent.COMPLETED,
}


async def publish(
    session: AsyncSession,
    *,
    incident_id: int,
    events: list[IncidentEvent],
    actor_id: str | None,
    now: datetime,
    comment: str = "",
) -> None:
    """Queue one ``incident.changed`` job carrying ``events`` (in the order they happened)."""
    await jobs.enqueue(
        session,
        kind=INCIDENT_CHANGED,
        payload={
            "incident_id": incident_id,
            "events": [event.value for event in events],
            "actor_id": actor_id,
            "comment": comment[:COMMENT_MAX],
        },
        now=now,
    )
