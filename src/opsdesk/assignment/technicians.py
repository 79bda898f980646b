"""Technicians: skills, capacity, time zone, and absences (which take them out of rotations)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.models import (
    Absence,
    Technician,
    WorkgroupMember,
)
from opsdesk.assignment.people import LONGEST_RANGE, check_staff, people_away
from opsdesk.assignment.schemas import (
    AbsenceCreate,
    TechnicianUpdate,
)
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import active_staff, require_role
from opsdesk.core.cache import forget
from opsdesk.core.errors import Forbidden, NotFound, ValidationFailed


@dataclass(frozen=True)
class TechnicianView:
    user_id: str
    name: str
    email: str
    role: str
    skills: list[str]
    max_open: int | None
    available: bool
    away: bool
    workgroups: list[str]


async def list_technicians(
    *, session: AsyncSession, caller: Caller, now: datetime, user_ids: Collection[str] = ()
) -> list[TechnicianView]:
    require_role(caller, Role.TECHNICIAN)

    staff = [
        user for user in await active_staff(session=session) if not user_ids or user.id in user_ids
    ]
    ids = [user.id for user in staff]
    profiles = {
        row.user_id: row
        for row in await session.scalars(select(Technician).where(Technician.user_id.in_(ids)))
    }
    away = await people_away(session, ids, now)
    groups: dict[str, list[str]] = {user_id: [] for user_id in ids}
    for key, user_id in await session.execute(
        select(WorkgroupMember.workgroup_key, WorkgroupMember.user_id)
        .where(WorkgroupMember.user_id.in_(ids))
        .order_by(WorkgroupMember.workgroup_key)
    ):
        groups[user_id].append(key)
    views = []
    for user in staff:
        profile = profiles.get(user.id)
        views.append(
            TechnicianView(
                user_id=user.id,
                name=user.name,
                email=user.email,
                role=user.role,
                skills=[] if profile is None else list(profile.skills),
                max_open=None if profile is None else profile.max_open,
                available=True if profile is None else profile.available,
                away=user.id in away,
                workgroups=groups[user.id],
            )
        )
    return views


async def get_technician(
    *, session: AsyncSession, caller: Caller, user_id: str, now: datetime
) -> TechnicianView:
    found = await list_technicians(session=session, caller=caller, now=now, user_ids={user_id})
    if not found:
        raise NotFound(f"no active staff member {user_id}", field="user_id")
    return found[0]


def _may_edit_person(caller: Caller, user_id: str, changes: Collection[str]) -> None:
    """Admins edit anyone; a technician may mark only themselves (un)available."""
    if caller.can(Role.ADMIN):
        return
    if caller.user_id == user_id and set(changes) <= {"available"}:
        return
    raise Forbidden(
        "only an admin may change another person's profile, skills or capacity; "
        "you may set your own availability"
    )


async def update_technician(
    *,
    session: AsyncSession,
    caller: Caller,
    user_id: str,
    data: TechnicianUpdate,
    now: datetime,
) -> TechnicianView:
    require_role(caller, Role.TECHNICIAN)
    changes = data.model_dump(exclude_unset=True)
    _may_edit_person(caller, user_id, changes)
    await check_staff(session, [user_id], "user_id")
    for field in ("skills", "available"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    profile = await session.get(Technician, user_id)
    if profile is None:
        profile = Technician(user_id=user_id, skills=[], max_open=None, available=True)
        session.add(profile)
    for field, value in changes.items():
        setattr(profile, field, value)
    profile.updated_at = now
    await session.flush()
    forget(session, "reference")
    return await get_technician(session=session, caller=caller, user_id=user_id, now=now)


def check_range(starts_at: datetime, ends_at: datetime) -> None:
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value.tzinfo is None:
            raise ValidationFailed(
                f"{name}: give a time zone offset (e.g. 2026-12-01T09:00:00+01:00)", field=name
            )
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at: must be after starts_at", field="ends_at")
    if ends_at - starts_at > LONGEST_RANGE:
        raise ValidationFailed("ends_at: a range lasts at most 366 days", field="ends_at")


async def add_absence(
    *, session: AsyncSession, caller: Caller, user_id: str, data: AbsenceCreate, now: datetime
) -> Absence:
    require_role(caller, Role.TECHNICIAN)
    if caller.user_id != user_id:
        require_role(caller, Role.INCIDENT_MANAGER)
    await check_staff(session, [user_id], "user_id")
    check_range(data.starts_at, data.ends_at)
    absence = Absence(
        user_id=user_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
        created_at=now,
    )
    session.add(absence)
    await session.flush()
    forget(session, "reference")
    return absence


async def list_absences(
    *, session: AsyncSession, caller: Caller, user_id: str, now: datetime
) -> list[Absence]:
    """Current and future absences, soonest first."""
    require_role(caller, Role.TECHNICIAN)
    rows = await session.scalars(
        select(Absence)
        .where(Absence.user_id == user_id, Absence.ends_at > now)
        .order_by(Absence.starts_at)
    )
    return list(rows)


async def delete_absence(
    *, session: AsyncSession, caller: Caller, user_id: str, absence_id: int
) -> None:
    require_role(caller, Role.TECHNICIAN)
    if caller.user_id != user_id:
        require_role(caller, Role.INCIDENT_MANAGER)
    absence = await session.get(Absence, absence_id)
    if absence is None or absence.user_id != user_id:
        raise NotFound(f"no absence {absence_id} of {user_id}", field="absence_id")
    await session.delete(absence)
    await session.flush()
    forget(session, "reference")
