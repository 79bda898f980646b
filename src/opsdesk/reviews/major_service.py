"""Major incidents: declare (by hand or by rule), downgrade, start a war room, and the view
of a declaration with its team, war room and next update.

Every change writes its incident history row in the same transaction. Rules
(``major_rules``) are applied by the worker: on every ``incident.changed`` event
(``apply_rules``) and by the recurring ``major.sweep`` job (alert storms here, the update
reminders in ``major_cadence``). The team and its pages are in ``major_team``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts import queries as alert_queries
from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.reviews import major_cadence, major_team, war_rooms
from opsdesk.reviews.major_models import MajorIncident
from opsdesk.reviews.major_rules import TEAM_ROLE_LABELS, Declared, Rule, TeamRole, reminder_due
from opsdesk.reviews.war_room_states import WarRoomStatus, downgrade_note

SWEEP_JOB = "major.sweep"
SWEEP_BATCH = 200
REASON_MAX = 2000


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


async def view(
    session: AsyncSession, incident: Incident, major: MajorIncident, *, settings: Settings
) -> MajorView:
    team = await major_team.team_of(session, incident.id)
    names = await major_team.user_names(session, [major.manager_id, *(m.user_id for m in team)])
    room = await war_rooms.open_room_of(session, incident.id)
    last = await major_cadence.last_update_at(session, incident.id)
    since = max(last, major.declared_at) if last is not None else major.declared_at
    due = (
        reminder_due(
            interval=major_cadence.rules_from(settings).interval(incident.level),
            last_update=since,
            last_reminder=major.last_reminder_at,
            now=since,
        )
        if major.active and incident.status in major_cadence.OPEN_STATUSES
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
    team: major_team.TeamRequest | None = None,
) -> tuple[MajorIncident, bool]:
    """Declare ``incident`` (loaded and locked) major; returns the row and whether this call
    declared it. Declaring a major incident again changes nothing (idempotent)."""
    team = team or major_team.TeamRequest()
    reason = reason.strip()[:REASON_MAX]
    major = await major_team.major_of(session, incident.id)
    if major is not None and major.active:
        return major, False
    if incident.status not in major_cadence.OPEN_STATUSES:
        raise Conflict(f"incident {incident.number} is not open: only open incidents become major")
    if incident.merged_into_id is not None:
        raise Conflict(f"incident {incident.number} was merged: declare its primary instead")
    if team.manager_id is not None:
        await major_team.staff_user(session, team.manager_id, "manager_id")
        manager_id: str | None = team.manager_id
    else:
        manager_id = await major_team.default_manager(session, incident, actor_id, now, settings)
    comms = team.communications_lead_id
    if comms is not None:
        await major_team.staff_user(session, comms, "communications_lead_id")
    else:
        comms = await major_team.shift_person(session, settings.major_comms_shift, now)
    technical = await major_team.technical_members(session, incident, team, now)
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
        await major_team.add_to_team(
            session, incident, major, user_id, role, source, actor_id, now, settings
        )
    return major, True


async def apply_rules(
    session: AsyncSession, *, incident_id: int, now: datetime, settings: Settings
) -> bool:
    """Declare ``incident_id`` major if a rule says so (the worker calls this for every
    incident event). A declaration a person downgraded is not made again by a rule."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.major or incident.status not in major_cadence.OPEN_STATUSES:
        return False
    if incident.merged_into_id is not None:
        return False
    met = major_cadence.rules_from(settings).rule_for(
        level=incident.level,
        application=incident.application,
        service_interrupted=incident.service_interrupted,
    )
    if met is None:
        return False
    major = await major_team.major_of(session, incident_id)
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
    """Undo a declaration: the incident is an ordinary one again and its open war room is
    closed, its timeline saying why; the records stay."""
    major = await major_team.major_of(session, incident.id)
    major_team.require_lead(caller, major, "downgrade a major incident")
    if major is None or not major.active:
        raise NotFound(f"incident {incident.number} is not a major incident", field="number")
    if not reason.strip():
        # The closed war room and the history say why; an empty why says nothing.
        raise ValidationFailed("reason: is required for a downgrade", field="reason")
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
            comment=downgrade_note(why),
        )
    )
    await session.flush()
    room = await war_rooms.open_room_of(session, incident.id)
    if room is not None:
        await war_rooms.set_status(
            session,
            caller=caller,
            room=room,
            incident=incident,
            status=WarRoomStatus.CLOSED,
            now=now,
            note=downgrade_note(why),
            downgraded=True,
        )
    return major


# The worker's sweep: alert storms and update reminders -------------------------------------


@dataclass(frozen=True)
class SweepResult:
    declared: int
    reminded: int


async def sweep(session: AsyncSession, *, now: datetime, settings: Settings) -> SweepResult:
    """The ``major.sweep`` job: declare incidents in an alert storm, remind managers whose
    major incident has had no update for its level's interval."""
    rules = major_cadence.rules_from(settings)
    declared = 0
    if rules.alert_storm > 0:
        for incident_id, count in await alert_queries.storming_incidents(
            session=session, threshold=rules.alert_storm, limit=SWEEP_BATCH
        ):
            if await major_team.major_of(session, incident_id) is not None:
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
    reminded = await major_cadence.remind_due(
        session, now=now, settings=settings, limit=SWEEP_BATCH
    )
    return SweepResult(declared=declared, reminded=reminded)


async def count_active(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(MajorIncident).where(MajorIncident.active.is_(True))
        )
        or 0
    )


async def start_war_room(
    session: AsyncSession,
    *,
    caller: Caller,
    incident: Incident,
    now: datetime,
    settings: Settings,
    title: str | None = None,
    description: str = "",
    team: major_team.TeamRequest | None = None,
    regions: Sequence[dict[str, Any]] | None = None,
    applications: Sequence[dict[str, Any]] | None = None,
    enterprise_project: str | None = None,
    schedule_groups: Sequence[dict[str, Any]] = (),
    notification_type: str | None = None,
) -> WarRoomRef:
    """Start a war room for ``incident`` (locked): declares it major first if it is not
    (COC's "Start WarRoom"); an incident has one open war room at a time."""
    major_team.require_staff(caller)
    if await war_rooms.open_room_of(session, incident.id) is not None:
        room = await war_rooms.open_room_of(session, incident.id)
        assert room is not None
        raise Conflict(
            f"incident_number: {incident.number} already has the open war room {room.number}"
        )
    major = await major_team.major_of(session, incident.id)
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
        for user_id, source in await major_team.technical_members(session, incident, team, now):
            await major_team.add_to_team(
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
