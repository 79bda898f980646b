"""Where an incident goes: the incident side of assignment (rules, groups, shifts, people).

The rules themselves live in ``opsdesk.assignment``; this module gives them the facts of an
incident and a count of open incidents per person, and turns their answer into owner
columns and an ``incident_assign`` history row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import service as assignment
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.people import Assignment, OpenCounts
from opsdesk.assignment.rules import IncidentFacts, Trigger
from opsdesk.auth.models import User
from opsdesk.auth.roles import STAFF_ROLES, Role
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.changes import diff
from opsdesk.incidents.fields import HistoryAction, OwnerType, Status
from opsdesk.incidents.models import Incident

# The columns an assignment sets; a history row records their change.
ASSIGNMENT_FIELDS = (
    "workgroup",
    "owner_type",
    "assignee_id",
    "assignee_scene",
    "assignee_role",
    "assignment_rule_id",
    "assignment_note",
)
# What counts towards a person's load: incidents waiting for them or in their hands.
OPEN_STATUSES = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)


def open_counter(session: AsyncSession) -> OpenCounts:
    async def count(user_ids: Sequence[str]) -> Mapping[str, int]:
        if not user_ids:
            return {}
        rows = await session.execute(
            select(Incident.assignee_id, func.count())
            .where(Incident.assignee_id.in_(set(user_ids)), Incident.status.in_(OPEN_STATUSES))
            .group_by(Incident.assignee_id)
        )
        return {str(user_id): int(n) for user_id, n in rows}

    return count


def facts_of(values: Mapping[str, Any]) -> IncidentFacts:
    return IncidentFacts(
        title=values.get("title") or "",
        description=values.get("description") or "",
        category=values.get("category"),
        application=values.get("application"),
        level=values.get("level"),
        region=values.get("region"),
        source=values.get("source"),
    )


def columns_of(found: Assignment) -> dict[str, Any]:
    """An assignment as incident columns: a shift keeps its scene and role beside the person."""
    if found.scene is not None:
        owner_type: str | None = OwnerType.SHIFT.value
    elif found.user_id is not None:
        owner_type = OwnerType.INDIVIDUAL.value
    else:
        owner_type = None
    return {
        "workgroup": found.workgroup,
        "owner_type": owner_type,
        "assignee_id": found.user_id,
        "assignee_scene": found.scene,
        "assignee_role": found.role,
        "assignment_rule_id": found.rule_id,
        "assignment_note": found.note[:300],
    }


async def by_rules(
    *,
    session: AsyncSession,
    values: Mapping[str, Any],
    trigger: Trigger,
    now: datetime,
) -> Assignment | None:
    return await assignment.route(
        session=session,
        facts=facts_of(values),
        trigger=trigger,
        now=now,
        open_counts=open_counter(session),
    )


async def by_hand(
    *,
    session: AsyncSession,
    owner: Mapping[str, Any],
    workgroup: str | None,
    now: datetime,
    who: str,
) -> Assignment | None:
    """An owner someone chose: a person, a shift (resolved to who is on duty) or a group.

    Returns None when nothing was chosen. A person named together with a workgroup must
    be one of its members.
    """
    if workgroup is not None:
        await assignment_workgroups.check_workgroup(session=session, key=workgroup)
    by = f"by {who}"
    if owner.get("owner_type") == OwnerType.SHIFT:
        found = await assignment_shifts.to_shift(
            session=session, scene=owner["assignee_scene"], role=owner["assignee_role"], now=now
        )
        return Assignment(
            workgroup=workgroup,
            user_id=found.user_id,
            scene=found.scene,
            role=found.role,
            note=f"{by}: {found.note}",
        )
    user_id = owner.get("assignee_id")
    if user_id is not None:
        if workgroup is not None and not await assignment_workgroups.is_member(
            session=session, key=workgroup, user_id=user_id
        ):
            raise ValidationFailed(
                f"assignee_id: {user_id} is not a member of workgroup {workgroup}",
                field="assignee_id",
            )
        group = f" in workgroup {workgroup}" if workgroup is not None else ""
        return Assignment(workgroup=workgroup, user_id=user_id, note=f"{by}: to {user_id}{group}")
    if workgroup is not None:
        found = await assignment_workgroups.to_workgroup(
            session=session, key=workgroup, now=now, open_counts=open_counter(session)
        )
        return Assignment(workgroup=workgroup, user_id=found.user_id, note=f"{by}: {found.note}")
    return None


async def check_workgroup(*, session: AsyncSession, key: str) -> None:
    await assignment_workgroups.check_workgroup(session=session, key=key)


def assign_row_values(
    *,
    status: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    operator_id: str | None,
    now: datetime,
    note: str,
) -> dict[str, Any]:
    """The ``incident_assign`` history row (without its incident id): what moved, and who
    or which rule moved it."""
    return {
        "action": HistoryAction.ASSIGN.value,
        "operator_id": operator_id,
        "status": status,
        "start_time": now,
        "stop_time": now,
        "comment": note,
        "changes": [change.as_dict() for change in diff(dict(before), dict(after))],
        "internal": False,
    }


def moved(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether an assignment changed where the incident is (its note alone does not count)."""
    return any(after[k] != before.get(k) for k in after if k != "assignment_note")


def snapshot(incident: Incident) -> dict[str, Any]:
    return {field: getattr(incident, field) for field in ASSIGNMENT_FIELDS}


def apply(incident: Incident, found: Assignment) -> None:
    for field, value in columns_of(found).items():
        setattr(incident, field, value)


async def check_people(
    *, session: AsyncSession, assignee_id: str | None, reporter_id: str | None
) -> None:
    """The people an incident names are active users, and its owner is staff."""
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
