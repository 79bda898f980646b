"""The major-incident section of the incident page: its context (used by ``incident_page``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.settings import Settings
from opsdesk.incidents.models import Incident
from opsdesk.reviews import major_service as major
from opsdesk.reviews import major_team
from opsdesk.reviews.major_rules import TEAM_ROLE_LABELS
from opsdesk.reviews.war_room_states import STATUS_NAMES, WarRoomStatus


async def section(
    session: AsyncSession, caller: Caller, incident: Incident, settings: Settings
) -> dict[str, Any]:
    """``major``: the declaration view (None if never declared), and what the caller may do."""
    if not caller.is_staff:
        return {}
    row = await major_team.major_of(session, incident.id)
    view = None if row is None else await major.view(session, incident, row, settings=settings)
    status_label = (
        STATUS_NAMES[WarRoomStatus(view.war_room_status)].en
        if view is not None and view.war_room_status
        else ""
    )
    return {
        "major": view,
        "major_room_status": status_label,
        "major_may_lead": major_team.may_lead(caller, row),
        "major_roles": list(TEAM_ROLE_LABELS.items()),
    }
