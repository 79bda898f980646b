"""Effects of the actions that wait for an incident manager: pausing and lowering the
level are requested, then approved or denied; resume ends a pause, and raising the level
is immediate. Called only through ``actions.apply_action``, which checks the transition
first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.acting import Actor, comment_of
from opsdesk.incidents.lifecycle import Outcome, SubStatus
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import ActionParams, ChangeLevelParams, PauseParams


async def pause(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, PauseParams)
    if params.until <= now:
        raise ValidationFailed(
            "until: the planned end of the pause must be in the future", field="until"
        )
    incident.pause_reason = params.reason
    incident.pause_until = params.until
    return params.reason


async def approve(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    if incident.sub_status == SubStatus.LEVEL_CHANGE_REQUESTED and incident.requested_level:
        incident.level = incident.requested_level
        incident.requested_level = None
    return comment_of(params)


async def deny(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    if incident.sub_status == SubStatus.PAUSE_REQUESTED:
        incident.pause_reason = None
        incident.pause_until = None
    incident.requested_level = None
    return comment_of(params)


async def resume(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.pause_reason = None
    incident.pause_until = None
    return comment_of(params)


async def change_level(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ChangeLevelParams)
    await check_references(session=session, chosen={Kind.LEVEL: params.level})
    # Raising is immediate; lowering waits for an incident manager's approval.
    if outcome is Outcome.RAISE:
        incident.level = params.level
    else:
        incident.requested_level = params.level
    return params.comment
