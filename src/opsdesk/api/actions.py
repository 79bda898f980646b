"""Lifecycle actions under ``/api/v1/incidents/{number}/actions``: translation only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.api.incidents import expected_version, incident_etag, incident_out
from opsdesk.core.errors import NotFound
from opsdesk.incidents import access
from opsdesk.incidents import actions as action_service
from opsdesk.incidents.fields import history_action_label
from opsdesk.incidents.lifecycle import HISTORY_KEYS, PUBLIC_ACTIONS, Action
from opsdesk.incidents.schemas import (
    ACTION_PARAMS,
    ActionOut,
    ActionsOut,
    IncidentOut,
)
from opsdesk.relations import links

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def _action(name: str) -> Action:
    try:
        action = Action(name)
    except ValueError:
        action = None
    if action is None or action not in PUBLIC_ACTIONS:
        known = ", ".join(a.value for a in PUBLIC_ACTIONS)
        raise NotFound(f"action: no action {name!r}; actions are {known}", field="action")
    return action


def action_out(action: Action) -> ActionOut:
    label = history_action_label(HISTORY_KEYS[action])
    return ActionOut(
        action=action.value,
        name_en=label.en,
        name_zh=label.zh,
        params_schema=ACTION_PARAMS[action].model_json_schema(),
    )


@router.get("/{number}/actions", response_model=ActionsOut)
async def list_actions(number: str, caller: CurrentCaller, db: DB) -> ActionsOut:
    """The actions the caller may take now, each with the JSON schema of its parameters."""
    async with db.read() as session:
        incident = await access.access_incident(session=session, caller=caller, number=number)
    phase = action_service.phase_of_incident(incident)
    return ActionsOut(
        number=incident.number,
        status=incident.status,
        phase=phase.value,
        phase_label=action_service.phase_label(incident),
        version=incident.version,
        actions=[action_out(a) for a in action_service.available_actions(incident, caller)],
    )


@router.post("/{number}/actions/{action}", response_model=IncidentOut)
async def take_action(
    number: str,
    action: str,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    response: Response,
    body: Annotated[dict[str, Any] | None, Body()] = None,
    if_match: Annotated[str | None, Header()] = None,
) -> IncidentOut:
    """Take ``action``; the body is its parameters (see ``GET …/actions``)."""
    chosen = _action(action)
    async with db.write() as session:
        # The body is checked against the incident: a refusal names all that is missing.
        incident = await action_service.take_action(
            session=session,
            caller=caller,
            number=number,
            action=chosen,
            params=body,
            now=clock.now(),
            rules=rules,
            expected_version=expected_version(if_match),
        )
        parents = await links.parent_numbers(session=session, caller=caller, incidents=[incident])
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident, parent=parents.get(incident.id))
