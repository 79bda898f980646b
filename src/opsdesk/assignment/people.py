"""Who can take work now: staff that exist and are not away, and the shape of an assignment
(a group, a shift, a person, and why)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.models import (
    Absence,
    Technician,
)
from opsdesk.auth.service import staff_by_id
from opsdesk.core.errors import ValidationFailed

# Counts open incidents per person; supplied by the incident service.
OpenCounts = Callable[[Sequence[str]], Awaitable[Mapping[str, int]]]

# Overrides and absences longer than this are refused: a typo, not a plan.
LONGEST_RANGE = timedelta(days=366)


@dataclass(frozen=True)
class Assignment:
    """Where an incident goes: a group, a shift, a person (any may be None) and why."""

    workgroup: str | None = None
    user_id: str | None = None
    scene: str | None = None
    role: str | None = None
    rule_id: int | None = None
    note: str = ""


async def check_staff(session: AsyncSession, user_ids: Collection[str], field: str) -> None:
    found = await staff_by_id(session=session, user_ids=user_ids)
    for user_id in user_ids:
        if user_id not in found:
            raise ValidationFailed(
                f"{field}: {user_id} is not an active technician, incident manager or admin",
                field=field,
            )


async def people_away(session: AsyncSession, user_ids: Collection[str], now: datetime) -> set[str]:
    """Who among ``user_ids`` is marked unavailable or inside an absence at ``now``."""
    if not user_ids:
        return set()
    unavailable = await session.scalars(
        select(Technician.user_id).where(
            Technician.user_id.in_(set(user_ids)), Technician.available.is_(False)
        )
    )
    absent = await session.scalars(
        select(Absence.user_id).where(
            Absence.user_id.in_(set(user_ids)), Absence.ends_at > now, Absence.starts_at <= now
        )
    )
    return set(unavailable) | set(absent)


async def available_people(
    *, session: AsyncSession, user_ids: Collection[str], now: datetime
) -> set[str]:
    """The active staff among ``user_ids`` who are neither unavailable nor away at ``now``."""
    staff = await staff_by_id(session=session, user_ids=user_ids)
    return set(staff) - await people_away(session, staff, now)
