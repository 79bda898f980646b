"""The update cadence of a major incident: the rules read from the settings, when the team
last posted an update, and the ``major_update_due`` reminder to its manager when the level's
interval has passed without one (the worker's ``major.sweep`` job sends them)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import notify_incident_event
from opsdesk.reviews import status_updates, war_rooms
from opsdesk.reviews.major_models import MajorIncident
from opsdesk.reviews.major_rules import (
    TEAM_ROLE_LABELS,
    MajorRules,
    TeamRole,
    parse_keys,
    parse_levels,
    parse_minutes,
    reminder_due,
)
from opsdesk.reviews.war_room_states import STATUS_NAMES, WarRoomStatus

OPEN_STATUSES = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)


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


async def last_update_at(session: AsyncSession, incident_id: int) -> datetime | None:
    """When the team last posted an update on ``incident_id``: a war-room note or status
    change, or a stakeholder update (status page and mail). The update reminders count
    from here (or from the declaration)."""
    times = [
        await war_rooms.last_entry_at(session, incident_id),
        await status_updates.last_status_update_at(session, incident_id),
    ]
    known = [moment for moment in times if moment is not None]
    return max(known) if known else None


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


async def remind_due(
    session: AsyncSession, *, now: datetime, settings: Settings, limit: int
) -> int:
    """Remind the manager of each open major incident (at most ``limit``) whose update is
    due; how many were reminded."""
    reminded = 0
    rows = await session.execute(
        select(MajorIncident, Incident)
        .join(Incident, Incident.id == MajorIncident.incident_id)
        .where(MajorIncident.active.is_(True), Incident.status.in_(OPEN_STATUSES))
        .order_by(MajorIncident.incident_id)
        .limit(limit)
    )
    for major, incident in rows.all():
        reminded += int(await _remind(session, incident, major, now, settings))
    return reminded
