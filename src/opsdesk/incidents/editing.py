"""Editing an incident's fields: one rule set for an edit and for the corrected fields of a
resubmitted rejected incident; level and owner of a handled incident change only through
actions.

Takes the session and the caller as keyword arguments, writes in the caller's transaction
and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.errors import Conflict, PreconditionFailed, ValidationFailed
from opsdesk.incidents import assigning
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.incidents.priority import level_for
from opsdesk.incidents.rules import (
    OWNER_FIELDS,
    RECORDED_FIELDS,
    IncidentRules,
    check_fault_time,
    normalize_owner,
    refuse_staff_only,
)
from opsdesk.incidents.schemas import IncidentUpdate

# Fields that may not be cleared with null once set.
REQUIRED_FIELDS = frozenset({"title", "description", "level", "service_interrupted", "major"})
REFERENCE_FIELDS: dict[str, Kind] = {
    "level": Kind.LEVEL,
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}

# Once an incident is being handled, its level and owner change only through actions
# (change_level with its approval rule, forward), so that the rules cannot be bypassed.
_TRIAGE_STATUSES = frozenset({Status.DRAFT, Status.TRIGGERED, Status.REJECTED})


def _refuse_handled_by_actions(incident: Incident, given: set[str]) -> None:
    if incident.status in _TRIAGE_STATUSES:
        return
    if "level" in given:
        raise Conflict(
            "level: the incident is being handled; use the change_level action", field="level"
        )
    for field in (*OWNER_FIELDS, "workgroup"):
        if field in given:
            raise Conflict(
                f"{field}: the incident is being handled; use the forward action", field=field
            )


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {field: getattr(incident, field) for field in RECORDED_FIELDS}


async def update_incident(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    data: IncidentUpdate,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
    expected_version: int | None = None,
) -> Incident:
    """Apply the given fields, recording each change; a no-op writes nothing."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if expected_version is not None and incident.version != expected_version:
        raise PreconditionFailed(
            f"incident {number} is at version {incident.version}, not {expected_version}",
            field="If-Match",
        )
    if incident.status == Status.COMPLETED:
        raise Conflict(f"incident {number} is closed; reopen it to change it", field="status")
    after = await prepare_update(
        session=session, caller=caller, incident=incident, data=data, now=now, rules=rules
    )
    before = _snapshot(incident)
    recorded = diff(before, {k: v for k, v in after.items() if k in RECORDED_FIELDS})
    if not recorded:
        return incident
    for field, value in after.items():
        setattr(incident, field, value)
    incident.version += 1
    incident.updated_at = now
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.UPDATE,
            operator_id=caller.user_id,
            now=now,
            changes=[change.as_dict() for change in recorded],
            comment=data.comment,
        )
    )
    events = [IncidentEvent.UPDATED]
    if any(change.field == "assignee_id" and change.new is not None for change in recorded):
        events.append(IncidentEvent.ASSIGNED)
    await publish(
        session,
        incident_id=incident.id,
        events=events,
        actor_id=caller.user_id,
        now=now,
        comment=data.comment,
    )
    await session.flush()
    return incident


async def prepare_update(
    *,
    session: AsyncSession,
    caller: Caller,
    incident: Incident,
    data: IncidentUpdate,
    now: datetime,
    rules: IncidentRules,
) -> dict[str, Any]:
    """The checked column values that ``data`` gives ``incident``; nothing is applied yet.

    One rule set for every way fields change: an edit, and the re-submission of a rejected
    incident (COC's ReOpen), which applies them inside its own action.
    """
    given = set(data.model_fields_set) - {"comment"}
    refuse_staff_only(caller, given)
    _refuse_handled_by_actions(incident, given)
    changes: dict[str, Any] = data.model_dump(include=given)
    for field, value in changes.items():
        if value is None and field in REQUIRED_FIELDS:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    if "fault_occurred_at" in changes:
        check_fault_time(changes["fault_occurred_at"], now=now, rules=rules)
    if "level" in changes:
        changes["level_explicit"] = True
    elif {"impact", "urgency"} & given and not incident.level_explicit:
        # The matrix keeps deciding the level until staff choose one themselves.
        changes["level"] = await level_for(
            session=session,
            impact=changes.get("impact", incident.impact),
            urgency=changes.get("urgency", incident.urgency),
        )
    if given & {*OWNER_FIELDS, "workgroup"}:
        changes.update(
            await _new_owner(
                session=session, caller=caller, incident=incident, changes=changes, now=now
            )
        )
    await check_references(
        session=session,
        chosen={
            kind: changes[field]
            for field, kind in REFERENCE_FIELDS.items()
            if field in changes and changes[field] != getattr(incident, field)
        },
    )
    await assigning.check_people(
        session=session,
        assignee_id=changes.get("assignee_id")
        if changes.get("assignee_id") != incident.assignee_id
        else None,
        reporter_id=changes.get("reporter_id")
        if changes.get("reporter_id") != incident.reporter_id
        else None,
    )
    return {field: _stored(value) for field, value in changes.items()}


async def _new_owner(
    *,
    session: AsyncSession,
    caller: Caller,
    incident: Incident,
    changes: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Owner and group columns after a change by hand; a shift resolves to who is on duty."""
    by = f"by {caller.name}"
    workgroup = changes.get("workgroup", incident.workgroup)
    if "workgroup" in changes and workgroup is not None:
        await assigning.check_workgroup(session=session, key=workgroup)
    if not set(changes) & set(OWNER_FIELDS):
        note = f"{by}: to workgroup {workgroup}" if workgroup else f"{by}: workgroup cleared"
        return {"workgroup": workgroup, "assignment_rule_id": None, "assignment_note": note}
    # The owner is replaced as a whole: the owner fields sent are the new owner.
    owner = normalize_owner({field: changes.get(field) for field in OWNER_FIELDS})
    if owner["owner_type"] is None:
        return {
            **owner,
            "workgroup": workgroup,
            "assignment_rule_id": None,
            "assignment_note": f"{by}: owner cleared",
        }
    found = await assigning.by_hand(
        session=session, owner=owner, workgroup=changes.get("workgroup"), now=now, who=caller.name
    )
    assert found is not None
    return assigning.columns_of(found) | {"workgroup": workgroup}


def _stored(value: Any) -> Any:
    """Enum members are stored as their plain string values."""
    if isinstance(value, str) and type(value) is not str:
        return str(value)
    return value
