"""The response team of a major incident: who may lead it, who is on it (named, from a
workgroup or a shift on duty), paging each member and their acknowledgement.

Paging a member is a ``major_paged`` mail through the notification rules and the outbox, in
the transaction that adds them; every change writes an incident history row and a war-room
timeline entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import STAFF_ROLES, Caller, Role
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import _NOTIFIER, notify_incident_event
from opsdesk.reviews import war_rooms
from opsdesk.reviews.major_models import MajorIncident, TeamMember
from opsdesk.reviews.major_rules import TEAM_ROLE_LABELS, TeamRole
from opsdesk.reviews.war_room_states import STATUS_NAMES, WarRoomStatus


@dataclass(frozen=True)
class Shift:
    scene: str
    role: str

    def __str__(self) -> str:
        return f"{self.scene}/{self.role}"


@dataclass(frozen=True)
class TeamRequest:
    """Who to put on the team; each part is optional (defaults: see ``declare``)."""

    manager_id: str | None = None
    communications_lead_id: str | None = None
    technical_leads: Sequence[str] = ()
    technical_workgroups: Sequence[str] = ()
    technical_shifts: Sequence[Shift] = ()


# Who may do what --------------------------------------------------------------------------


def require_staff(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("major incidents are for staff")


def may_lead(caller: Caller, major: MajorIncident | None) -> bool:
    """Incident managers and admins, and the major incident's own manager."""
    return caller.can(Role.INCIDENT_MANAGER) or (
        major is not None and major.manager_id == caller.user_id
    )


def require_lead(caller: Caller, major: MajorIncident | None, what: str) -> None:
    require_staff(caller)
    if not may_lead(caller, major):
        raise Forbidden(f"only an incident manager or this major incident's manager may {what}")


# Reads -------------------------------------------------------------------------------------


async def major_of(session: AsyncSession, incident_id: int) -> MajorIncident | None:
    return await session.get(MajorIncident, incident_id)


async def team_of(session: AsyncSession, incident_id: int) -> list[TeamMember]:
    rows = await session.scalars(
        select(TeamMember)
        .where(TeamMember.incident_id == incident_id)
        .order_by(TeamMember.role, TeamMember.id)
    )
    return list(rows)


async def user_names(session: AsyncSession, ids: Sequence[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


# People ------------------------------------------------------------------------------------


async def staff_user(session: AsyncSession, user_id: str, field_name: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active or Role(user.role) not in STAFF_ROLES:
        raise ValidationFailed(
            f"{field_name}: {user_id!r} is no active staff member", field=field_name
        )
    return user


async def _on_duty(session: AsyncSession, shift: Shift, now: datetime, field_name: str) -> str:
    try:
        duty = await assignment_shifts.on_duty(
            session=session, scene=shift.scene, role=shift.role, at=now
        )
    except NotFound:
        raise ValidationFailed(
            f"{field_name}: no shift role {shift.role} in scene {shift.scene}", field=field_name
        ) from None
    if duty.user_id is None:
        raise ValidationFailed(f"{field_name}: nobody is on duty for {shift}", field=field_name)
    return duty.user_id


async def shift_person(session: AsyncSession, raw: str, now: datetime) -> str | None:
    """The person on duty for a ``scene/role`` setting; None if unset or nobody."""
    if not raw:
        return None
    scene, _sep, role = raw.partition("/")
    try:
        duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=now)
    except NotFound:
        return None
    return duty.user_id


async def default_manager(
    session: AsyncSession,
    incident: Incident,
    actor_id: str | None,
    now: datetime,
    settings: Settings,
) -> str | None:
    on_duty = await shift_person(session, settings.major_manager_shift, now)
    if on_duty is not None:
        return on_duty
    if actor_id is not None:
        actor = await session.get(User, actor_id)
        if actor is not None and Role(actor.role).at_least(Role.INCIDENT_MANAGER):
            return actor_id
    managers = [
        u for u in await auth.active_staff(session=session) if u.role == Role.INCIDENT_MANAGER
    ]
    if managers:
        return managers[0].id
    return actor_id or incident.assignee_id


async def technical_members(
    session: AsyncSession, incident: Incident, team: TeamRequest, now: datetime
) -> list[tuple[str, str]]:
    """(user id, source) of the technical leads the request names, each once."""
    found: list[tuple[str, str]] = []
    for index, user_id in enumerate(team.technical_leads):
        await staff_user(session, user_id, f"technical_leads.{index}")
        found.append((user_id, "manual"))
    for index, key in enumerate(team.technical_workgroups):
        try:
            group = await assignment_workgroups.get_workgroup(
                session=session, caller=_NOTIFIER, key=key
            )
        except NotFound:
            raise ValidationFailed(
                f"technical_workgroups.{index}: no workgroup {key!r}", field="technical_workgroups"
            ) from None
        found += [(member, f"workgroup:{key}") for member in group.members]
    for index, shift in enumerate(team.technical_shifts):
        person = await _on_duty(session, shift, now, f"technical_shifts.{index}")
        found.append((person, f"shift:{shift}"))
    if not found and incident.assignee_id is not None:
        found.append((incident.assignee_id, "assignee"))
    unique: list[tuple[str, str]] = []
    for user_id, source in found:
        if all(user_id != known for known, _s in unique):
            unique.append((user_id, source))
    return unique


# The team ----------------------------------------------------------------------------------


async def _page(
    session: AsyncSession,
    incident: Incident,
    major: MajorIncident,
    member: TeamMember,
    actor_id: str | None,
    now: datetime,
    settings: Settings,
) -> None:
    room = await war_rooms.open_room_of(session, incident.id)
    names = await user_names(session, [major.manager_id])
    base = settings.public_url.rstrip("/")
    member.paged_at = now
    if member.user_id == actor_id:
        member.acknowledged_at = now  # who adds themselves knows
    await notify_incident_event(
        session,
        incident_id=incident.id,
        event="major_paged",
        actor_id=actor_id,
        now=now,
        extra={"event_key": f"team-{member.id}-{now.isoformat()}"},
        settings=settings,
        webhooks=False,
        work_people=[member.user_id],
        major={
            "role": member.role,
            "role_label": TEAM_ROLE_LABELS[TeamRole(member.role)],
            "manager_name": names.get(major.manager_id or "", ""),
            "reason": major.reason,
            "war_room_url": "" if room is None else f"{base}/war-rooms/{room.id}",
            "war_room_status": "" if room is None else STATUS_NAMES[WarRoomStatus(room.status)].en,
            "minutes": 0,
            "last_update_at": "",
        },
    )


async def add_to_team(
    session: AsyncSession,
    incident: Incident,
    major: MajorIncident,
    user_id: str,
    role: TeamRole,
    source: str,
    actor_id: str | None,
    now: datetime,
    settings: Settings,
) -> TeamMember | None:
    existing = await session.scalar(
        select(TeamMember).where(
            TeamMember.incident_id == incident.id,
            TeamMember.user_id == user_id,
            TeamMember.role == role.value,
        )
    )
    if existing is not None:
        return None
    member = TeamMember(
        incident_id=incident.id,
        user_id=user_id,
        role=role.value,
        source=source[:200],
        added_at=now,
        added_by=actor_id,
    )
    session.add(member)
    await session.flush()
    name = (await user_names(session, [user_id])).get(user_id, user_id)
    label = TEAM_ROLE_LABELS[role]
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.MAJOR_TEAM,
            operator_id=actor_id,
            now=now,
            changes=[{"field": "response_team", "old": None, "new": f"{user_id}:{role.value}"}],
            comment=f"{name} joined the response team as {label.lower()} and was paged",
            internal=True,
        )
    )
    await war_rooms.add_entry(
        session,
        incident_id=incident.id,
        kind="member",
        author_id=actor_id,
        body=f"{name} joined as {label.lower()}",
        now=now,
    )
    await _page(session, incident, major, member, actor_id, now, settings)
    return member


async def active_major(session: AsyncSession, incident: Incident) -> MajorIncident:
    major = await major_of(session, incident.id)
    if major is None or not major.active:
        raise NotFound(f"incident {incident.number} is not a major incident", field="number")
    return major


async def add_member(
    session: AsyncSession,
    *,
    caller: Caller,
    incident: Incident,
    user_id: str,
    role: TeamRole,
    now: datetime,
    settings: Settings,
) -> TeamMember:
    major = await active_major(session, incident)
    require_lead(caller, major, "change the response team")
    await staff_user(session, user_id, "user_id")
    member = await add_to_team(
        session, incident, major, user_id, role, "manual", caller.user_id, now, settings
    )
    if member is None:
        raise Conflict(f"user_id: {user_id} is already on the team as {role.value}")
    if role == TeamRole.INCIDENT_MANAGER and major.manager_id is None:
        major.manager_id = user_id
    return member


async def _member(session: AsyncSession, incident: Incident, member_id: int) -> TeamMember:
    member = await session.get(TeamMember, member_id)
    if member is None or member.incident_id != incident.id:
        raise NotFound(f"no team member {member_id} on {incident.number}", field="member_id")
    return member


async def remove_member(
    session: AsyncSession, *, caller: Caller, incident: Incident, member_id: int, now: datetime
) -> None:
    major = await active_major(session, incident)
    require_lead(caller, major, "change the response team")
    member = await _member(session, incident, member_id)
    if member.role == TeamRole.INCIDENT_MANAGER and member.user_id == major.manager_id:
        others = [
            m
            for m in await team_of(session, incident.id)
            if m.role == TeamRole.INCIDENT_MANAGER and m.id != member.id
        ]
        if not others:
            raise Conflict("member_id: add another incident manager before removing this one")
        major.manager_id = others[0].user_id
    name = (await user_names(session, [member.user_id])).get(member.user_id, member.user_id)
    label = TEAM_ROLE_LABELS[TeamRole(member.role)]
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.MAJOR_TEAM,
            operator_id=caller.user_id,
            now=now,
            changes=[
                {"field": "response_team", "old": f"{member.user_id}:{member.role}", "new": None}
            ],
            comment=f"{name} left the response team ({label.lower()})",
            internal=True,
        )
    )
    await war_rooms.add_entry(
        session,
        incident_id=incident.id,
        kind="member",
        author_id=caller.user_id,
        body=f"{name} left ({label.lower()})",
        now=now,
    )
    await session.delete(member)
    await session.flush()


async def acknowledge(
    session: AsyncSession, *, caller: Caller, incident: Incident, member_id: int, now: datetime
) -> TeamMember:
    """The paged person says "on it"; only they may."""
    require_staff(caller)
    await active_major(session, incident)
    member = await _member(session, incident, member_id)
    if member.user_id != caller.user_id:
        raise Forbidden("only the paged person may acknowledge their page")
    if member.acknowledged_at is None:
        member.acknowledged_at = now
        await war_rooms.add_entry(
            session,
            incident_id=incident.id,
            kind="member",
            author_id=caller.user_id,
            body=f"{caller.name} acknowledged the page",
            now=now,
        )
        await session.flush()
    return member


def team_payload(member: TeamMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "user_id": member.user_id,
        "role": member.role,
        "source": member.source,
        "paged_at": member.paged_at,
        "acknowledged_at": member.acknowledged_at,
    }
