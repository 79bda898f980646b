"""The incident page's "Stakeholder updates" section (staff): the composer (state, public
title, message prefilled from the state's template, audiences) and the posted updates; and
its form is posted to ``web/status_updates.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.incidents.models import Incident
from opsdesk.reviews import status_audiences, status_updates
from opsdesk.reviews.status_rules import STATE_LABELS, UpdateState
from opsdesk.web.common import _user_names

# What usually comes next; the composer preselects it.
NEXT_STATE: dict[UpdateState | None, UpdateState] = {
    None: UpdateState.INVESTIGATING,
    UpdateState.INVESTIGATING: UpdateState.IDENTIFIED,
    UpdateState.IDENTIFIED: UpdateState.MONITORING,
    UpdateState.MONITORING: UpdateState.RESOLVED,
    UpdateState.RESOLVED: UpdateState.INVESTIGATING,
}


@dataclass(frozen=True)
class PostedUpdate:
    id: int
    state: str
    state_label: str
    title: str
    message: str
    is_public: bool
    audiences: str
    recipient_count: int
    posted_by: str
    posted_at: datetime


@dataclass(frozen=True)
class AudienceChoice:
    id: int
    label: str


async def status_context(
    session: AsyncSession, caller: Caller, incident: Incident
) -> dict[str, Any]:
    """The section's context (staff only; end users get nothing)."""
    if not caller.is_staff:
        return {}
    communicated = await status_updates.status_incident_of(session, incident.id)
    previous = UpdateState(communicated.state) if communicated is not None else None
    suggested = NEXT_STATE[previous]
    audiences = [
        row
        for row in await status_audiences.list_audiences(session=session, caller=caller)
        if row.active
    ]
    audience_names = {row.id: row.name for row in audiences}
    updates = await status_updates.updates_of_incident(session, incident.id)
    names = await _user_names(session, [update.posted_by for update in updates])
    return {
        "status_section": {
            "public_id": communicated.public_id if communicated is not None else None,
            "public": communicated is not None and communicated.public,
            "title": communicated.title if communicated is not None else "",
            "states": [(state.value, STATE_LABELS[state]) for state in UpdateState],
            "suggested": suggested.value,
            "message": await status_updates.prefill(
                session=session, incident=incident, state=suggested
            ),
            # Each state's starting text: the composer swaps it in when the state changes
            # and the text was not edited (web/static/status.js).
            "prefills": {
                state.value: await status_updates.prefill(
                    session=session, incident=incident, state=state
                )
                for state in UpdateState
            },
            "audiences": [AudienceChoice(row.id, f"{row.name} ({row.kind})") for row in audiences],
            "updates": [
                PostedUpdate(
                    id=update.id,
                    state=update.state,
                    state_label=STATE_LABELS[UpdateState(update.state)],
                    title=update.title,
                    message=update.message,
                    is_public=update.is_public,
                    audiences=", ".join(
                        audience_names.get(audience_id, f"#{audience_id}")
                        for audience_id in update.audience_ids
                    ),
                    recipient_count=update.recipient_count,
                    posted_by=names.get(update.posted_by, update.posted_by),
                    posted_at=update.posted_at,
                )
                for update in updates
            ],
        }
    }
