"""Effects of the actions on who handles an incident: accept (take it), reject, forward
(to a person, a shift or a workgroup) and remark. Called only through
``actions.apply_action``, which checks the transition first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents import assigning
from opsdesk.incidents.acting import Actor, comment_of
from opsdesk.incidents.fields import OwnerType
from opsdesk.incidents.lifecycle import Outcome
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules, normalize_owner
from opsdesk.incidents.schemas import ActionParams, ForwardParams, RejectParams, RemarkParams


async def accept(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    # Whoever accepts takes the incident: a shift's ticket now has a person.
    if actor.caller is not None:
        incident.owner_type = str(OwnerType.INDIVIDUAL)
        incident.assignee_id = actor.caller.user_id
        incident.assignee_scene = None
        incident.assignee_role = None
        incident.assignment_rule_id = None
        incident.assignment_note = f"accepted by {actor.caller.name}"
    incident.accepted_at = now
    return comment_of(params)


async def reject(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, RejectParams)
    return params.reason


async def forward(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ForwardParams)
    person_or_shift = {"assignee_id", "assignee_scene", "assignee_role"}
    if params.workgroup is None and all(getattr(params, name) is None for name in person_or_shift):
        raise ValidationFailed(
            "assignee_id: forward to a person (assignee_id), a shift "
            "(assignee_scene + assignee_role) or a workgroup (workgroup)",
            field="assignee_id",
        )
    owner = normalize_owner(params.model_dump(include=person_or_shift))
    await assigning.check_people(
        session=session, assignee_id=owner["assignee_id"], reporter_id=None
    )
    who = actor.caller.name if actor.caller is not None else "opsdesk"
    found = await assigning.by_hand(
        session=session, owner=owner, workgroup=params.workgroup, now=now, who=who
    )
    assert found is not None
    columns = assigning.columns_of(found)
    if params.workgroup is None:
        columns["workgroup"] = incident.workgroup  # a person or shift keeps the group
    unchanged = all(
        columns[name] == getattr(incident, name)
        for name in ("workgroup", "owner_type", "assignee_id", "assignee_scene", "assignee_role")
    )
    if unchanged:
        raise ValidationFailed(
            "assignee_id: the incident already has this owner", field="assignee_id"
        )
    columns["assignment_note"] = f"{found.note} ({params.comment})"[:300]
    for name, value in columns.items():
        setattr(incident, name, value)
    return params.comment


async def remark(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, RemarkParams)
    return params.note
