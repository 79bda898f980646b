"""Major incidents: declare (by hand or by rule), downgrade, the response team and its pages.

Every change writes its incident history row in the same transaction; paging a member is
a ``major_paged`` mail through the notification rules and the outbox, in that transaction
too. Rules (``major_rules``) are applied by the worker: on every ``incident.changed`` event
(``apply_rules``) and by the recurring ``major.sweep`` job (alert storms and the update
reminders, ``sweep``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts import queries as alert_queries
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import STAFF_ROLES, Caller, Role
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import _NOTIFIER, notify_incident_event
from opsdesk.reviews import status, war_rooms
from opsdesk.reviews.major_models import MajorIncident, TeamMember
from opsdesk.reviews.major_rules import (
    TEAM_ROLE_LABELS,
    Declared,
    MajorRules,
    Rule,
    TeamRole,
    parse_keys,
    parse_levels,
    parse_minutes,
    reminder_due,
)
from opsdesk.reviews.war_room_states import STATUS_NAMES, WarRoomStatus

OPEN_STATUSES = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)
SWEEP_JOB = "major.sweep"
SWEEP_BATCH = 200
REASON_MAX = 2000


@lru_cache(maxsize=8)
def _rules(levels: str, apps: str, storm: int, minutes: str) -> MajorRules:
    return MajorRules(
        auto_levels=parse_levels(levels, setting="OPSDESK_MAJOR_AUTO_LEVELS"),
        critical_applications=parse_keys(apps),
        alert_storm=storm,
        update_minutes=parse_minutes(minutes, setting="OPSDESK_MAJOR_UPDATE_MINUTES"),
    )


def rules_from(settings: Settings) -> MajorRules:
    return _rules(
        settings.major_auto_levels,
        settings.major_critical_applications,
        settings.major_alert_storm,
        settings.major_update_minutes,
    )


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


@dataclass(frozen=True)
class MemberView:
    id: int
    user_id: str
    name: str
    role: str
    role_label: str
    source: str
    paged_at: datetime | None
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class MajorView:
    incident_number: str
    active: bool
    declared_at: datetime
    declared_by: str | None
    how: str
    rule: str | None
    reason: str
    manager_id: str | None
    manager_name: str
    downgraded_at: datetime | None
    downgraded_by: str | None
    downgrade_reason: str | None
    team: list[MemberView] = field(default_factory=list)
    war_room_id: int | None = None
    war_room_number: str | None = None
    war_room_status: str | None = None
    last_update_at: datetime | None = None
    update_due_at: datetime | None = None


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


async def last_update_at(session: AsyncSession, incident_id: int) -> datetime | None:
    """When the team last posted an update on ``incident_id``: a war-room note or status
    change, or a stakeholder update (status page and mail). The update reminders count
    from here (or from the declaration)."""
    times = [
        await war_rooms.last_entry_at(session, incident_id),
        await status.last_status_update_at(session, incident_id),
    ]
    known = [moment for moment in times if moment is not None]
    return max(known) if known else None


async def _names(session: AsyncSession, ids: Sequence[str | None]) -> dict[str, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


async def view(
    session: AsyncSession, incident: Incident, major: MajorIncident, *, settings: Settings
) -> MajorView:
    team = await team_of(session, incident.id)
    names = await _names(session, [major.manager_id, *(m.user_id for m in team)])
    room = await war_rooms.open_room_of(session, incident.id)
    last = await last_update_at(session, incident.id)
    since = max(last, major.declared_at) if last is not None else major.declared_at
    due = (
        reminder_due(
            interval=rules_from(settings).interval(incident.level),
            last_update=since,
            last_reminder=major.last_reminder_at,
            now=since,
        )
        if major.active and incident.status in OPEN_STATUSES
        else None
    )
    return MajorView(
        incident_number=incident.number,
        active=major.active,
        declared_at=major.declared_at,
        declared_by=major.declared_by,
        how=major.how,
        rule=major.rule,
        reason=major.reason,
        manager_id=major.manager_id,
        manager_name=names.get(major.manager_id or "", ""),
        downgraded_at=major.downgraded_at,
        downgraded_by=major.downgraded_by,
        downgrade_reason=major.downgrade_reason,
        team=[
            MemberView(
                id=m.id,
                user_id=m.user_id,
                name=names.get(m.user_id, m.user_id),
                role=m.role,
                role_label=TEAM_ROLE_LABELS[TeamRole(m.role)],
                source=m.source,
                paged_at=m.paged_at,
                acknowledged_at=m.acknowledged_at,
            )
            for m in team
        ],
        war_room_id=None if room is None else room.id,
        war_room_number=None if room is None else room.number,
        war_room_status=None if room is None else room.status,
        last_update_at=last,
        update_due_at=due,
    )


# People ------------------------------------------------------------------------------------


async def _staff_user(session: AsyncSession, user_id: str, field_name: str) -> User:
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


async def _shift_person(session: AsyncSession, raw: str, now: datetime) -> str | None:
    """The person on duty for a ``scene/role`` setting; None if unset or nobody."""
    if not raw:
        return None
    scene, _sep, role = raw.partition("/")
    try:
        duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=now)
    except NotFound:
        return None
    return duty.user_id


async def _default_manager(
    session: AsyncSession,
    incident: Incident,
    actor_id: str | None,
    now: datetime,
    settings: Settings,
) -> str | None:
    on_duty = await _shift_person(session, settings.major_manager_shift, now)
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


async def _technical(
    session: AsyncSession, incident: Incident, team: TeamRequest, now: datetime
) -> list[tuple[str, str]]:
    """(user id, source) of the technical leads the request names, each once."""
    found: list[tuple[str, str]] = []
    for index, user_id in enumerate(team.technical_leads):
        await _staff_user(session, user_id, f"technical_leads.{index}")
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


# Declaring ---------------------------------------------------------------------------------


async def declare(
    session: AsyncSession,
    *,
    incident: Incident,
    actor_id: str | None,
    how: Declared,
    reason: str,
    now: datetime,
    settings: Settings,
    rule: Rule | None = None,
    team: TeamRequest | None = None,
) -> tuple[MajorIncident, bool]:
    """Declare ``incident`` (loaded and locked) major; returns the row and whether this call
    declared it. Declaring a major incident again changes nothing (idempotent)."""
    team = team or TeamRequest()
    reason = reason.strip()[:REASON_MAX]
    major = await major_of(session, incident.id)
    if major is not None and major.active:
        return major, False
    if incident.status not in OPEN_STATUSES:
        raise Conflict(f"incident {incident.number} is not open: only open incidents become major")
    if incident.merged_into_id is not None:
        raise Conflict(f"incident {incident.number} was merged: declare its primary instead")
    if team.manager_id is not None:
        await _staff_user(session, team.manager_id, "manager_id")
        manager_id: str | None = team.manager_id
    else:
        manager_id = await _default_manager(session, incident, actor_id, now, settings)
    comms = team.communications_lead_id
    if comms is not None:
        await _staff_user(session, comms, "communications_lead_id")
    else:
        comms = await _shift_person(session, settings.major_comms_shift, now)
    technical = await _technical(session, incident, team, now)
    if major is None:
        major = MajorIncident(incident_id=incident.id)
        session.add(major)
    major.active = True
    major.declared_at = now
    major.declared_by = actor_id
    major.how = how.value
    major.rule = None if rule is None else rule.value
    major.reason = reason
    major.manager_id = manager_id
    major.downgraded_at = None
    major.downgraded_by = None
    major.downgrade_reason = None
    major.last_reminder_at = None
    incident.major = True
    incident.updated_at = now
    by = "by rule" if how == Declared.RULE else "by hand"
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.MAJOR_DECLARE,
            operator_id=actor_id,
            now=now,
            changes=[{"field": "major", "old": False, "new": True}],
            comment=f"Declared major incident ({by}){': ' + reason if reason else ''}",
        )
    )
    await session.flush()
    room = await war_rooms.open_room_of(session, incident.id)
    if room is None:
        room = await war_rooms.create_room(
            session,
            incident=incident,
            actor_id=actor_id,
            now=now,
            admin_id=manager_id,
            title=incident.title,
            description=reason,
        )
    wanted: list[tuple[str, TeamRole, str]] = []
    if manager_id is not None:
        wanted.append((manager_id, TeamRole.INCIDENT_MANAGER, "declaration"))
    if comms is not None:
        wanted.append(
            (
                comms,
                TeamRole.COMMUNICATIONS_LEAD,
                "manual" if team.communications_lead_id else f"shift:{settings.major_comms_shift}",
            )
        )
    wanted += [(user_id, TeamRole.TECHNICAL_LEAD, source) for user_id, source in technical]
    for user_id, role, source in wanted:
        await _add(session, incident, major, user_id, role, source, actor_id, now, settings)
    return major, True


async def apply_rules(
    session: AsyncSession, *, incident_id: int, now: datetime, settings: Settings
) -> bool:
    """Declare ``incident_id`` major if a rule says so (the worker calls this for every
    incident event). A declaration a person downgraded is not made again by a rule."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.major or incident.status not in OPEN_STATUSES:
        return False
    if incident.merged_into_id is not None:
        return False
    met = rules_from(settings).rule_for(
        level=incident.level,
        application=incident.application,
        service_interrupted=incident.service_interrupted,
    )
    if met is None:
        return False
    major = await major_of(session, incident_id)
    if major is not None:  # declared before and downgraded by a person
        return False
    locked = await session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    )
    assert locked is not None
    rule, reason = met
    _major, declared = await declare(
        session,
        incident=locked,
        actor_id=None,
        how=Declared.RULE,
        rule=rule,
        reason=reason,
        now=now,
        settings=settings,
    )
    return declared


async def downgrade(
    session: AsyncSession,
    *,
    caller: Caller,
    incident: Incident,
    reason: str,
    now: datetime,
) -> MajorIncident:
    """Undo a declaration: the incident is an ordinary one again; the record stays."""
    major = await major_of(session, incident.id)
    require_lead(caller, major, "downgrade a major incident")
    if major is None or not major.active:
        raise NotFound(f"incident {incident.number} is not a major incident", field="number")
    major.active = False
    major.downgraded_at = now
    major.downgraded_by = caller.user_id
    why = reason.strip()[:REASON_MAX]
    major.downgrade_reason = why
    incident.major = False
    incident.updated_at = now
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.MAJOR_DOWNGRADE,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": "major", "old": True, "new": False}],
            comment="Downgraded from major incident" + (f": {why}" if why else ""),
        )
    )
    await session.flush()
    return major


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
    names = await _names(session, [major.manager_id])
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


async def _add(
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
    name = (await _names(session, [user_id])).get(user_id, user_id)
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


async def _active_major(session: AsyncSession, incident: Incident) -> MajorIncident:
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
    major = await _active_major(session, incident)
    require_lead(caller, major, "change the response team")
    await _staff_user(session, user_id, "user_id")
    member = await _add(
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
    major = await _active_major(session, incident)
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
    name = (await _names(session, [member.user_id])).get(member.user_id, member.user_id)
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
    await _active_major(session, incident)
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


# The worker's sweep: alert storms and update reminders -------------------------------------


@dataclass(frozen=True)
class SweepResult:
    declared: int
    reminded: int


async def _remind(
    session: AsyncSession,
    incident: Incident,
    major: MajorIncident,
    now: datetime,
    settings: Settings,
) -> bool:
    interval = rules_from(settings).interval(incident.level)
    if interval is None or major.manager_id is None:
        return False
    last = await last_update_at(session, incident.id)
    since = max(last, major.declared_at) if last is not None else major.declared_at
    due = reminder_due(
        interval=interval, last_update=since, last_reminder=major.last_reminder_at, now=now
    )
    if due is None or due > now:
        return False
    room = await war_rooms.open_room_of(session, incident.id)
    if room is not None and room.status in (WarRoomStatus.RECOVERED, WarRoomStatus.CLOSED):
        return False  # service restored: the updates now belong to the review
    major.last_reminder_at = now
    base = settings.public_url.rstrip("/")
    await notify_incident_event(
        session,
        incident_id=incident.id,
        event="major_update_due",
        actor_id=None,
        now=now,
        extra={"event_key": f"update-due-{now.isoformat()}"},
        settings=settings,
        webhooks=False,
        work_people=[major.manager_id],
        major={
            "role": TeamRole.INCIDENT_MANAGER.value,
            "role_label": TEAM_ROLE_LABELS[TeamRole.INCIDENT_MANAGER],
            "manager_name": "",
            "reason": major.reason,
            "war_room_url": "" if room is None else f"{base}/war-rooms/{room.id}",
            "war_room_status": "" if room is None else STATUS_NAMES[WarRoomStatus(room.status)].en,
            "minutes": int(interval.total_seconds() // 60),
            "last_update_at": since.isoformat(),
        },
    )
    return True


async def sweep(session: AsyncSession, *, now: datetime, settings: Settings) -> SweepResult:
    """The ``major.sweep`` job: declare incidents in an alert storm, remind managers whose
    major incident has had no update for its level's interval."""
    rules = rules_from(settings)
    declared = 0
    if rules.alert_storm > 0:
        for incident_id, count in await alert_queries.storming_incidents(
            session=session, threshold=rules.alert_storm, limit=SWEEP_BATCH
        ):
            if await major_of(session, incident_id) is not None:
                continue  # downgraded by a person: a rule does not overrule them
            incident = await session.scalar(
                select(Incident).where(Incident.id == incident_id).with_for_update()
            )
            if incident is None:
                continue
            with contextlib.suppress(Conflict):
                _row, made = await declare(
                    session,
                    incident=incident,
                    actor_id=None,
                    how=Declared.RULE,
                    rule=Rule.ALERT_STORM,
                    reason=rules.storm_reason(count),
                    now=now,
                    settings=settings,
                )
                declared += int(made)
    reminded = 0
    rows = await session.execute(
        select(MajorIncident, Incident)
        .join(Incident, Incident.id == MajorIncident.incident_id)
        .where(MajorIncident.active.is_(True), Incident.status.in_(OPEN_STATUSES))
        .order_by(MajorIncident.incident_id)
        .limit(SWEEP_BATCH)
    )
    for major, incident in rows.all():
        reminded += int(await _remind(session, incident, major, now, settings))
    return SweepResult(declared=declared, reminded=reminded)


async def count_active(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(MajorIncident).where(MajorIncident.active.is_(True))
        )
        or 0
    )


def team_payload(member: TeamMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "user_id": member.user_id,
        "role": member.role,
        "source": member.source,
        "paged_at": member.paged_at,
        "acknowledged_at": member.acknowledged_at,
    }


async def start_war_room(
    session: AsyncSession,
    *,
    caller: Caller,
    incident: Incident,
    now: datetime,
    settings: Settings,
    title: str | None = None,
    description: str = "",
    team: TeamRequest | None = None,
    regions: Sequence[dict[str, Any]] | None = None,
    applications: Sequence[dict[str, Any]] | None = None,
    enterprise_project: str | None = None,
    schedule_groups: Sequence[dict[str, Any]] = (),
    notification_type: str | None = None,
) -> WarRoomRef:
    """Start a war room for ``incident`` (locked): declares it major first if it is not
    (COC's "Start WarRoom"); an incident has one open war room at a time."""
    require_staff(caller)
    if await war_rooms.open_room_of(session, incident.id) is not None:
        room = await war_rooms.open_room_of(session, incident.id)
        assert room is not None
        raise Conflict(
            f"incident_number: {incident.number} already has the open war room {room.number}"
        )
    major = await major_of(session, incident.id)
    if major is None or not major.active:
        await declare(
            session,
            incident=incident,
            actor_id=caller.user_id,
            how=Declared.MANUAL,
            reason=description or "war room started",
            now=now,
            settings=settings,
            team=team,
        )
        room = await war_rooms.open_room_of(session, incident.id)
        assert room is not None
        if title:
            room.title = title[:200]
        if regions is not None:
            room.regions = list(regions)
        if applications is not None:
            room.applications = list(applications)
        if enterprise_project:
            room.enterprise_project = enterprise_project
        room.schedule_groups = list(schedule_groups)
        room.notification_type = notification_type
        await session.flush()
        return WarRoomRef(room.id, room.number)
    room = await war_rooms.create_room(
        session,
        incident=incident,
        actor_id=caller.user_id,
        now=now,
        admin_id=(team.manager_id if team and team.manager_id else major.manager_id),
        title=title or incident.title,
        description=description,
        regions=regions,
        applications=applications,
        enterprise_project=enterprise_project,
        schedule_groups=schedule_groups,
        notification_type=notification_type,
    )
    if team is not None:
        for user_id, source in await _technical(session, incident, team, now):
            await _add(
                session,
                incident,
                major,
                user_id,
                TeamRole.TECHNICAL_LEAD,
                source,
                caller.user_id,
                now,
                settings,
            )
    return WarRoomRef(room.id, room.number)


@dataclass(frozen=True)
class WarRoomRef:
    id: int
    number: str
