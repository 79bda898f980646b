"""Incident use cases: create, change, read, list and history.

Every verb takes the session and the caller as keyword arguments, writes its history row in
the caller's transaction, flushes and never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Executable, Select, Table, bindparam, func, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from opsdesk.assignment.rules import Trigger
from opsdesk.auth.models import User
from opsdesk.auth.roles import STAFF_ROLES, Caller, Role
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references, names_of
from opsdesk.core.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from opsdesk.core.pagination import Page
from opsdesk.incidents import assigning
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    LEVEL_LABELS,
    OWNERSHIP_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Channel,
    HistoryAction,
    Label,
    Ownership,
    OwnerType,
    Source,
    Status,
)
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.numbering import new_incident_number
from opsdesk.incidents.priority import level_for
from opsdesk.incidents.queries import ListSpec, apply_list_spec
from opsdesk.incidents.schemas import IncidentCreate, IncidentUpdate

DEFAULT_ENTERPRISE_PROJECT = "0"

# Fields an end user may not set: triage, ownership and provenance belong to the desk.
STAFF_ONLY_FIELDS = frozenset(
    {
        "level",
        "ownership",
        "owner_type",
        "assignee_id",
        "assignee_scene",
        "assignee_role",
        "workgroup",
        "source",
        "channel",
        "reporter_id",
        "major",
    }
)
# Fields that may not be cleared with null once set.
REQUIRED_FIELDS = frozenset({"title", "description", "level", "service_interrupted", "major"})
REFERENCE_FIELDS: dict[str, Kind] = {
    "level": Kind.LEVEL,
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}
OWNER_FIELDS = ("owner_type", "assignee_id", "assignee_scene", "assignee_role")
RECORDED_FIELDS = (
    "title",
    "description",
    "level",
    "impact",
    "urgency",
    "ownership",
    "category",
    "region",
    "enterprise_project",
    "application",
    "fault_occurred_at",
    "service_interrupted",
    "owner_type",
    "assignee_id",
    "assignee_scene",
    "assignee_role",
    "workgroup",
    "source",
    "channel",
    "reporter_id",
    "major",
)


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


@dataclass(frozen=True)
class IncidentRules:
    """Tunables of the incident rules that come from deployment settings."""

    clock_skew: timedelta = timedelta(minutes=5)
    reopen_window: timedelta = timedelta(days=14)
    auto_complete_after: timedelta = timedelta(days=7)
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_max_count: int = 10


def _refuse_staff_only(caller: Caller, given: set[str]) -> None:
    if caller.is_staff:
        return
    for field in sorted(given & STAFF_ONLY_FIELDS):
        raise Forbidden(f"{field}: end users cannot set this field", field=field)


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


def _check_fault_time(value: datetime | None, *, now: datetime, rules: IncidentRules) -> None:
    if value is not None and value > now + rules.clock_skew:
        raise ValidationFailed(
            "fault_occurred_at: must not be in the future "
            f"(more than {int(rules.clock_skew.total_seconds())} s ahead of the server clock)",
            field="fault_occurred_at",
        )


def normalize_owner(values: dict[str, Any]) -> dict[str, Any]:
    """Owner is a person (individual) or a shift (scene + role), never both or half a shift."""
    owner_type, assignee = values.get("owner_type"), values.get("assignee_id")
    scene, role = values.get("assignee_scene"), values.get("assignee_role")
    if owner_type is None:
        if assignee is not None:
            owner_type = OwnerType.INDIVIDUAL
        elif scene is not None or role is not None:
            owner_type = OwnerType.SHIFT
    if owner_type == OwnerType.INDIVIDUAL:
        if assignee is None:
            raise ValidationFailed(
                "assignee_id: required when owner_type is individual", field="assignee_id"
            )
        if scene is not None or role is not None:
            raise ValidationFailed(
                "assignee_scene: an individual owner takes no shift scene or role",
                field="assignee_scene",
            )
    elif owner_type == OwnerType.SHIFT:
        if assignee is not None:
            raise ValidationFailed(
                "assignee_id: a shift owner is chosen by the shift, not given", field="assignee_id"
            )
        for name, value in (("assignee_scene", scene), ("assignee_role", role)):
            if value is None:
                raise ValidationFailed(
                    f"{name}: a shift owner needs both assignee_scene and assignee_role",
                    field=name,
                )
    return {
        "owner_type": None if owner_type is None else str(owner_type),
        "assignee_id": assignee,
        "assignee_scene": scene,
        "assignee_role": role,
    }


async def check_people(
    *, session: AsyncSession, assignee_id: str | None, reporter_id: str | None
) -> None:
    wanted = {uid for uid in (assignee_id, reporter_id) if uid is not None}
    if not wanted:
        return
    rows = await session.execute(select(User.id, User.role, User.active).where(User.id.in_(wanted)))
    found = {row.id: (Role(row.role), row.active) for row in rows}
    if reporter_id is not None and not found.get(reporter_id, (None, False))[1]:
        raise ValidationFailed(f"reporter_id: no active user {reporter_id}", field="reporter_id")
    if assignee_id is not None:
        role, active = found.get(assignee_id, (None, False))
        if not active:
            raise ValidationFailed(
                f"assignee_id: no active user {assignee_id}", field="assignee_id"
            )
        if role not in STAFF_ROLES:
            raise ValidationFailed(
                f"assignee_id: user {assignee_id} is an end user and cannot own incidents",
                field="assignee_id",
            )


def record_history(
    *,
    incident: Incident,
    action: str,
    operator_id: str | None,
    now: datetime,
    changes: list[dict[str, Any]] | None = None,
    comment: str = "",
    internal: bool = False,
) -> IncidentHistory:
    """A history row for ``incident`` at its current status; the caller adds it to the session.

    Every feature that changes or annotates an incident records it through here, in the
    same transaction as the change.
    """
    return IncidentHistory(
        incident_id=incident.id,
        action=action,
        operator_id=operator_id,
        status=incident.status,
        start_time=now,
        stop_time=now,
        comment=comment,
        changes=changes or [],
        internal=internal,
    )


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {field: getattr(incident, field) for field in RECORDED_FIELDS}


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
    _refuse_staff_only(caller, given)
    _check_fault_time(data.fault_occurred_at, now=now, rules=rules)
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
    await check_people(
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


def visible_to(caller: Caller) -> Select[Incident]:
    """Every list starts here: what this caller may see; filters only narrow it.

    An end user sees the incidents they reported or created, and the primaries their
    incidents were merged into (where their conversation now goes on)."""
    query = select(Incident)
    if not caller.is_staff:
        own = (Incident.reporter_id == caller.user_id) | (Incident.creator_id == caller.user_id)
        secondary = aliased(Incident)
        merged_into = select(secondary.merged_into_id).where(
            secondary.merged_into_id.is_not(None),
            (secondary.reporter_id == caller.user_id) | (secondary.creator_id == caller.user_id),
        )
        query = query.where(own | Incident.id.in_(merged_into))
    return query


async def access_incident(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    for_update: bool = False,
    follow_merge: bool = True,
) -> Incident:
    """The incident if the caller may see it; others' incidents do not exist for end users.

    A write (``for_update``) for an incident merged into another lands on that primary,
    unless ``follow_merge`` is False (undoing the merge needs the secondary itself)."""
    query = visible_to(caller).where(Incident.number == number)
    if for_update:
        query = query.with_for_update()
    incident = await session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {number}", field="number")
    if for_update and follow_merge:
        return await primary_of(session, incident)
    return incident


async def primary_of(session: AsyncSession, incident: Incident) -> Incident:
    """The incident a write for ``incident`` lands on: itself, or (locked) the primary it
    was merged into. Merging into a merged incident is refused, so one step is enough."""
    if incident.merged_into_id is None:
        return incident
    primary = await session.scalar(
        select(Incident).where(Incident.id == incident.merged_into_id).with_for_update()
    )
    if primary is None:  # pragma: no cover - a foreign key keeps it
        raise NotFound(f"no primary for merged incident {incident.number}", field="number")
    return primary


async def merged_into_number(session: AsyncSession, incident: Incident) -> str | None:
    """The number of the primary ``incident`` was merged into, if it was."""
    if incident.merged_into_id is None:
        return None
    number: str | None = await session.scalar(
        select(Incident.number).where(Incident.id == incident.merged_into_id)
    )
    return number


async def merged_into_numbers(session: AsyncSession, incidents: list[Incident]) -> dict[int, str]:
    """Incident id → number of the primary it was merged into, for the merged ones."""
    wanted = {i.merged_into_id for i in incidents if i.merged_into_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Incident.id, Incident.number).where(Incident.id.in_(wanted))
    )
    numbers = {int(row.id): str(row.number) for row in rows}
    return {
        i.id: numbers[i.merged_into_id]
        for i in incidents
        if i.merged_into_id is not None and i.merged_into_id in numbers
    }


async def incident_by_number(
    *, session: AsyncSession, number: str, for_update: bool = False
) -> Incident | None:
    """The incident, unchecked: for channels that learn who acts only from the incident
    (an inbound mail names its incident before its sender's rights are known). A write
    (``for_update``) for a merged incident gets its primary."""
    query = select(Incident).where(Incident.number == number)
    if for_update:
        query = query.with_for_update()
    incident: Incident | None = await session.scalar(query)
    if incident is not None and for_update:
        return await primary_of(session, incident)
    return incident


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
    _refuse_staff_only(caller, given)
    _refuse_handled_by_actions(incident, given)
    changes: dict[str, Any] = data.model_dump(include=given)
    for field, value in changes.items():
        if value is None and field in REQUIRED_FIELDS:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    if "fault_occurred_at" in changes:
        _check_fault_time(changes["fault_occurred_at"], now=now, rules=rules)
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
    await check_people(
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


async def list_incidents(
    *, session: AsyncSession, caller: Caller, spec: ListSpec
) -> Page[Incident]:
    query = apply_list_spec(visible_to(caller), spec)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.offset(spec.page.offset).limit(spec.page.per_page))
    return Page(
        items=list(rows), total=total or 0, page=spec.page.page, per_page=spec.page.per_page
    )


async def list_history(
    *, session: AsyncSession, caller: Caller, number: str
) -> list[IncidentHistory]:
    incident = await access_incident(session=session, caller=caller, number=number)
    query = select(IncidentHistory).where(IncidentHistory.incident_id == incident.id)
    if not caller.is_staff:
        query = query.where(IncidentHistory.internal.is_(False))
    rows = await session.scalars(query.order_by(IncidentHistory.start_time, IncidentHistory.id))
    return list(rows)


# Enumerated fields whose changes a history row lists in COC's ``enum_data_list``.
_STATIC_ENUMS: dict[str, dict[str, Label]] = {
    "status": {str(key): label for key, label in STATUS_LABELS.items()},
    "level": LEVEL_LABELS,
    "requested_level": LEVEL_LABELS,
    "ownership": {str(key): label for key, label in OWNERSHIP_LABELS.items()},
    "source": {str(key): label for key, label in SOURCE_LABELS.items()},
    "channel": {str(key): label for key, label in CHANNEL_LABELS.items()},
}
_CATALOG_ENUMS: dict[str, Kind] = {
    "category": Kind.CATEGORY,
    "application": Kind.APPLICATION,
    "region": Kind.REGION,
    "enterprise_project": Kind.ENTERPRISE_PROJECT,
}


@dataclass(frozen=True)
class EnumNames:
    """Display names of the enumerated values that some history rows changed to."""

    catalog: Mapping[tuple[str, str], Label]

    def name(self, field: str, key: str) -> Label | None:
        static = _STATIC_ENUMS.get(field)
        if static is not None:
            return static.get(key, Label(key, key))
        if field in _CATALOG_ENUMS:
            return self.catalog.get((field, key), Label(key, key))
        return None

    def enum_data(self, changes: list[dict[str, Any]]) -> list[tuple[str, str, Label]]:
        """(field, new key, names) for every enumerated field among ``changes``."""
        found = []
        for change in changes:
            field, new = change.get("field"), change.get("new")
            if isinstance(field, str) and isinstance(new, str):
                label = self.name(field, new)
                if label is not None:
                    found.append((field, new, label))
        return found


async def enum_names(*, session: AsyncSession, rows: list[IncidentHistory]) -> EnumNames:
    wanted: dict[str, set[str]] = {}
    for row in rows:
        for change in row.changes:
            field, new = change.get("field"), change.get("new")
            if field in _CATALOG_ENUMS and isinstance(new, str):
                wanted.setdefault(field, set()).add(new)
    catalog: dict[tuple[str, str], Label] = {}
    for field, keys in wanted.items():
        names = await names_of(session=session, kind=_CATALOG_ENUMS[field], keys=keys)
        catalog.update({(field, key): Label(en, zh) for key, (en, zh) in names.items()})
    return EnumNames(catalog=catalog)
