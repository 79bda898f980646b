"""COC workflow: ShowIncidentTask (the workflow node and its operations) and the actions
that carry them out, HandleIncident (v2) and HandleCocIncident (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.api.coc import tasks as coc_tasks
from opsdesk.api.coc.bodies import (
    ACTION_BODY,
    HANDLE_BODY,
)
from opsdesk.api.coc.envelope import envelope
from opsdesk.api.coc.keys import (
    COC_NAMES,
    RESUBMIT_NAMES,
    V2_KEYS,
    action_for,
    coc_params,
    doc_ids,
    key_of,
)
from opsdesk.api.coc.requests import IncidentId, json_body, operator_of, required_text
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, ValidationFailed
from opsdesk.incidents import access, attachments
from opsdesk.incidents.acting import Actor
from opsdesk.incidents.actions import apply_action, available_actions, phase_of_incident
from opsdesk.incidents.lifecycle import PHASE_LABELS, Action, Phase
from opsdesk.incidents.models import Incident
from opsdesk.incidents.params import parse_params
from opsdesk.incidents.rules import IncidentRules

router = APIRouter(tags=["COC-compatible"])

# Workflow nodes (ShowIncidentTask) ---------------------------------------------------------

_NODE_TYPES = {
    Phase.PAUSE_REQUESTED: "ApprovalNode",
    Phase.LEVEL_CHANGE_REQUESTED: "ApprovalNode",
    Phase.PAUSED: "PauseNode",
    Phase.COMPLETED: "EndNode",
}


def task_id_of(incident: Incident) -> str:
    """The current node's task: it changes with every change, so an action sent for a
    node the incident has left is refused instead of applied to the wrong state."""
    return f"{phase_of_incident(incident).value}-{incident.version}"


@router.get("/v2/incidents/{incident_id}/tasks")
async def show_tasks(incident_id: IncidentId, caller: CurrentCaller, db: DB) -> dict[str, Any]:
    async with db.read() as session:
        incident = await access.access_incident(session=session, caller=caller, number=incident_id)
        work = await coc_tasks.work_nodes(session=session, caller=caller, incident=incident)
    phase = phase_of_incident(incident)
    task_id = task_id_of(incident)
    operations = [
        {"task_id": task_id, "key": key_of(action, phase)}
        for action in available_actions(incident, caller)
        if action in V2_KEYS
    ]
    node = {
        "type": _NODE_TYPES.get(phase, "OperateNode"),
        "name": PHASE_LABELS[phase].zh,
        "key": phase.value,
        "state": "running" if phase is not Phase.COMPLETED else "finished",
        "operations": operations,
    }
    return envelope([node, *work])


async def _act(
    *,
    session: AsyncSession,
    actor: Caller,
    number: str,
    key: str,
    raw_params: Any,
    now: datetime,
    rules: IncidentRules,
    v1: bool,
    task_id: str | None = None,
) -> None:
    incident = await access.access_incident(
        session=session, caller=actor, number=number, for_update=True
    )
    if task_id is not None and task_id != task_id_of(incident):
        raise Conflict(
            f"task_id: {task_id!r} is not the incident's current task; ask "
            f"/v2/incidents/{number}/tasks again",
            field="task_id",
        )
    phase = phase_of_incident(incident)
    action = action_for(key, phase, available_actions(incident, actor), v1=v1)
    translated = coc_params(action, raw_params)
    if action is Action.RESOLVE and isinstance(raw_params, dict):
        documents = doc_ids(raw_params.get("resolve_attachments"), "params.resolve_attachments")
        translated["attachment_ids"] = await attachments.claim_uploads(
            session=session,
            caller=actor,
            number=number,
            doc_ids=documents,
            now=now,
            rules=rules,
            context="solution",
        )
    try:
        params = parse_params(action, translated)
        await apply_action(
            session=session,
            incident=incident,
            actor=Actor(actor),
            action=action,
            params=params,
            now=now,
            rules=rules,
        )
    except ValidationFailed as exc:
        field = exc.field or "params"
        if action is Action.REOPEN and field in RESUBMIT_NAMES:
            field = f"resubmission.{field}"  # a resubmitted field the service refused
        coc_name = COC_NAMES.get(field, field)
        raise ValidationFailed(
            exc.message.replace(exc.field or "params", f"params.{coc_name}", 1),
            field=f"params.{coc_name}",
        ) from None
    if action is Action.REOPEN and isinstance(raw_params, dict):
        await attachments.claim_uploads(
            session=session,
            caller=actor,
            number=number,
            doc_ids=doc_ids(raw_params.get("attachments"), "params.attachments"),
            now=now,
            rules=rules,
        )


@router.post("/v2/incidents/{incident_id}/actions", openapi_extra=ACTION_BODY)
async def handle_incident(
    incident_id: IncidentId,
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
) -> dict[str, Any]:
    body = await json_body(request)
    task_id = required_text(body, "task_id", 100)
    key = required_text(body, "action", 100).strip()
    async with db.write() as session:
        await _act(
            session=session,
            actor=caller,
            number=incident_id,
            key=key,
            raw_params=body.get("params"),
            now=clock.now(),
            rules=rules,
            v1=False,
            task_id=task_id.strip(),
        )
    return envelope(None)


@router.post("/v1/external/incident/handle", openapi_extra=HANDLE_BODY)
async def handle_incident_v1(
    request: Request, caller: CurrentCaller, db: DB, clock: ClockDep, rules: Rules
) -> dict[str, Any]:
    body = await json_body(request)
    number = required_text(body, "incident_num", 255)
    operator = required_text(body, "operator", 64)
    key = required_text(body, "operate_key", 100).strip()
    async with db.write() as session:
        actor = await operator_of(session, caller, operator)
        await _act(
            session=session,
            actor=actor,
            number=number,
            key=key,
            raw_params=body.get("parameter"),
            now=clock.now(),
            rules=rules,
            v1=True,
        )
    return envelope(None)
