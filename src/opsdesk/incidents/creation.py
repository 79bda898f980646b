"""Creating an incident: its checked fields, its owner by hand or by the rules, and the
insert of the incident with its history rows (the create hot path).

Takes the session and the caller as keyword arguments, writes in the caller's transaction
and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, bindparam, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.rules import Trigger
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.incidents import assigning
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import Channel, HistoryAction, Ownership, Source, Status
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.numbering import new_incident_number
from opsdesk.incidents.priority import level_for
from opsdesk.incidents.rules import (
    OWNER_FIELDS,
    RECORDED_FIELDS,
    IncidentRules,
    check_fault_time,
    normalize_owner,
    refuse_staff_only,
)
from opsdesk.incidents.schemas import IncidentCreate

DEFAULT_ENTERPRISE_PROJECT = "0"

# Lifecycle columns of a new incident (the create hot path binds every column).
_LIFECYCLE_DEFAULTS: dict[str, Any] = {
    "sub_status": None,
    "pause_reason": None,
    "pause_until": None,
    "requested_level": None,
    "reopen_count": 0,
    "last_reopened_at": None,
    "last_reopened_by": None,
    "accepted_at": None,
    "resolved_at": None,
    "completed_at": None,
    "cause": None,
    "solution": None,
    "fault_recovery_at": None,
    "major": False,
    "workgroup": None,
    "assignment_rule_id": None,
    "assignment_note": None,
    "level_explicit": False,
    "merged_into_id": None,
    "merged_at": None,
    "parent_id": None,
    "open_tasks": 0,
    "open_work_orders": 0,
    "forward_rule_id": None,
}


async def create_incident(
    *,
    session: AsyncSession,
    caller: Caller,
    data: IncidentCreate,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
    default_channel: Channel = Channel.API,
    forward_rule_id: int | None = None,
) -> Incident:
    """Record a new incident and its ``create_incident`` history row.

    ``forward_rule_id``: the alert conversion rule opening it (not a client's field)."""
    given = set(data.model_fields_set)
    refuse_staff_only(caller, given)
    check_fault_time(data.fault_occurred_at, now=now, rules=rules)
    owner = normalize_owner(data.model_dump(include=set(OWNER_FIELDS)))
    level = data.level or await level_for(session=session, impact=data.impact, urgency=data.urgency)
    enterprise_project = data.enterprise_project or DEFAULT_ENTERPRISE_PROJECT
    await check_references(
        session=session,
        chosen={
            Kind.LEVEL: level,
            Kind.CATEGORY: data.category,
            Kind.APPLICATION: data.application,
            Kind.REGION: data.region,
            Kind.ENTERPRISE_PROJECT: enterprise_project,
        },
    )
    reporter_id = data.reporter_id or caller.user_id
    await assigning.check_people(
        session=session, assignee_id=owner["assignee_id"], reporter_id=data.reporter_id
    )
    if caller.is_staff:
        channel = data.channel or default_channel
        ownership = data.ownership
    else:
        # An end user on the API or a portal is using self-service; mail and chat stay so.
        staff_ways_in = (Channel.API, Channel.TECHNICIAN_PORTAL)
        channel = Channel.SELF_SERVICE if default_channel in staff_ways_in else default_channel
        ownership = Ownership.CUSTOMER_REPORT
    values: dict[str, Any] = {
        "number": new_incident_number(now),
        "title": data.title,
        "description": data.description,
        "level": level,
        "impact": data.impact,
        "urgency": data.urgency,
        "ownership": None if ownership is None else str(ownership),
        "category": data.category,
        "region": data.region,
        "enterprise_project": enterprise_project,
        "application": data.application,
        "fault_occurred_at": data.fault_occurred_at,
        "service_interrupted": data.service_interrupted,
        "source": str(data.source or Source.MANUAL),
        "channel": str(channel),
        "creator_id": caller.user_id,
        "reporter_id": reporter_id,
        "status": str(Status.TRIGGERED),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **owner,
        **_LIFECYCLE_DEFAULTS,
        "major": data.major,
        "level_explicit": data.level is not None,
        "workgroup": data.workgroup,
        "forward_rule_id": forward_rule_id,
    }
    found = await assigning.by_hand(
        session=session, owner=owner, workgroup=data.workgroup, now=now, who=caller.name
    )
    manual = found is not None
    initial = [
        change.as_dict()
        for change in diff({}, {field: values[field] for field in RECORDED_FIELDS})
        if change.new is not None and change.new is not False and change.new != ""
    ]
    reported = {field: values[field] for field in assigning.ASSIGNMENT_FIELDS}
    if found is None:
        found = await assigning.by_rules(
            session=session, values=values, trigger=Trigger.CREATE, now=now
        )
    if found is not None:
        values.update(assigning.columns_of(found))
    history = {
        "action": str(HistoryAction.CREATE),
        "operator_id": caller.user_id,
        "status": values["status"],
        "start_time": now,
        "stop_time": now,
        "comment": "",
        "changes": initial,
        "internal": False,
    }
    # An owner named on the form is part of the report (the create row has it); whatever
    # the system worked out (a rule, who is on duty, a group's pick) gets a row saying why.
    assigned = {field: values[field] for field in assigning.ASSIGNMENT_FIELDS}
    assign_row = None
    if found is not None and assigning.moved(reported, assigned):
        assign_row = assigning.assign_row_values(
            status=values["status"],
            before=reported,
            after=assigned,
            operator_id=caller.user_id if manual else None,
            now=now,
            note=found.note,
        )
    incident_id = await _insert_with_history(session, values, history, assign_row)
    created = [IncidentEvent.CREATED]
    if values["assignee_id"] is not None:
        created.append(IncidentEvent.ASSIGNED)
    await publish(
        session, incident_id=incident_id, events=created, actor_id=caller.user_id, now=now
    )
    return Incident(id=incident_id, **values)


@dataclass(frozen=True)
class _CreateStatements:
    """Compiled once: the create path only binds parameters (building SQL costs more)."""

    both_at_once: Executable  # PostgreSQL: a data-modifying CTE writes both rows
    all_three: Executable  # PostgreSQL: the same, with the assignment's history row too
    incident: Executable
    history: Executable


@cache
def _create_statements() -> _CreateStatements:
    incidents: Table = Incident.__table__  # type: ignore[assignment]
    rows: Table = IncidentHistory.__table__  # type: ignore[assignment]
    incident_values = {
        c.name: bindparam(f"i_{c.name}", type_=c.type) for c in incidents.c if c.name != "id"
    }
    history_columns = [c for c in rows.c if c.name not in ("id", "incident_id")]
    history_values = {c.name: bindparam(f"h_{c.name}", type_=c.type) for c in history_columns}
    assign_values = {c.name: bindparam(f"a_{c.name}", type_=c.type) for c in history_columns}
    insert_incident = insert(incidents).values(incident_values).returning(incidents.c.id)
    new = insert_incident.cte("new_incident")
    both = (
        insert(rows)
        .from_select([*history_values, "incident_id"], select(*history_values.values(), new.c.id))
        .returning(rows.c.incident_id)
    )
    # UNION ALL feeds the INSERT in order, so the create row gets the lower id.
    three = (
        insert(rows)
        .from_select(
            [*history_values, "incident_id"],
            union_all(
                select(*history_values.values(), new.c.id),
                select(*assign_values.values(), new.c.id),
            ),
        )
        .returning(rows.c.incident_id)
    )
    history = insert(rows).values(
        {**history_values, "incident_id": bindparam("h_incident_id", type_=rows.c.incident_id.type)}
    )
    return _CreateStatements(
        both_at_once=both, all_three=three, incident=insert_incident, history=history
    )


async def _insert_with_history(
    session: AsyncSession,
    values: dict[str, Any],
    history: dict[str, Any],
    assigned: dict[str, Any] | None = None,
) -> int:
    """Insert an incident, its create row and (when given) its assignment row with SQL
    Core: the create hot path, one statement on PostgreSQL, two on SQLite."""
    statements = _create_statements()
    params = {f"i_{k}": v for k, v in values.items()} | {f"h_{k}": v for k, v in history.items()}
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        if assigned is None:
            return int((await session.execute(statements.both_at_once, params)).scalar_one())
        params |= {f"a_{k}": v for k, v in assigned.items()}
        return int((await session.execute(statements.all_three, params)).scalars().first() or 0)
    incident_id = int((await session.execute(statements.incident, params)).scalar_one())
    rows = [history] if assigned is None else [history, assigned]
    await session.execute(
        statements.history,
        [{f"h_{k}": v for k, v in row.items()} | {"h_incident_id": incident_id} for row in rows],
    )
    return incident_id
