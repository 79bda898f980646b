"""Assignment use cases: configure groups, people, shifts and rules; route an incident.

The incident service calls ``route`` on create and reopen, ``to_workgroup`` and
``to_shift`` on forward. It passes the facts of the incident and a function that counts
open incidents per person, so this package never reads the incident tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, Table, bindparam, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import rotation as rotations
from opsdesk.assignment.models import (
    Absence,
    AssignmentRule,
    ShiftOverride,
    ShiftRole,
    ShiftRotation,
    ShiftScene,
    Technician,
    Workgroup,
    WorkgroupMember,
)
from opsdesk.assignment.rules import (
    STRATEGIES_FOR,
    Candidate,
    Conditions,
    IncidentFacts,
    Rule,
    Strategy,
    TargetType,
    Trigger,
    matching_rules,
    pick_in_turn,
    pick_least_loaded,
)
from opsdesk.assignment.schemas import (
    AbsenceCreate,
    OverrideCreate,
    RoleCreate,
    RotationCreate,
    RotationUpdate,
    RuleCreate,
    RuleUpdate,
    SceneCreate,
    SceneUpdate,
    TechnicianUpdate,
    WorkgroupCreate,
    WorkgroupUpdate,
)
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import active_staff, active_staff_ids, require_role, staff_by_id
from opsdesk.core.cache import cache_of, forget, remember
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

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


# People ----------------------------------------------------------------------------------


async def _check_staff(session: AsyncSession, user_ids: Collection[str], field: str) -> None:
    found = await staff_by_id(session=session, user_ids=user_ids)
    for user_id in user_ids:
        if user_id not in found:
            raise ValidationFailed(
                f"{field}: {user_id} is not an active technician, incident manager or admin",
                field=field,
            )


async def _away(session: AsyncSession, user_ids: Collection[str], now: datetime) -> set[str]:
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
    return set(staff) - await _away(session, staff, now)


# Workgroups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkgroupView:
    key: str
    name: str
    description: str
    skills: list[str]
    strategy: str
    max_open_per_member: int | None
    enabled: bool
    members: list[str]
    does_work_orders: bool = False


async def _members_of(session: AsyncSession, keys: Collection[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(WorkgroupMember.workgroup_key, WorkgroupMember.user_id)
        .where(WorkgroupMember.workgroup_key.in_(set(keys)))
        .order_by(WorkgroupMember.workgroup_key, WorkgroupMember.position)
    )
    members: dict[str, list[str]] = {key: [] for key in keys}
    for key, user_id in rows:
        members[key].append(user_id)
    return members


def _view(group: Workgroup, members: list[str]) -> WorkgroupView:
    return WorkgroupView(
        key=group.key,
        name=group.name,
        description=group.description,
        skills=list(group.skills),
        strategy=group.strategy,
        max_open_per_member=group.max_open_per_member,
        enabled=group.enabled,
        members=members,
        does_work_orders=group.does_work_orders,
    )


async def list_workgroups(*, session: AsyncSession, caller: Caller) -> list[WorkgroupView]:
    require_role(caller, Role.TECHNICIAN)
    groups = list(await session.scalars(select(Workgroup).order_by(Workgroup.name)))
    members = await _members_of(session, [group.key for group in groups])
    return [_view(group, members[group.key]) for group in groups]


async def _workgroup(session: AsyncSession, key: str, *, lock: bool = False) -> Workgroup:
    query = select(Workgroup).where(Workgroup.key == key)
    if lock:
        # Refresh an object this session loaded before: after waiting for the lock, the
        # round-robin pointer must be the one the previous transaction committed.
        query = query.with_for_update().execution_options(populate_existing=True)
    group = await session.scalar(query)
    if group is None:
        raise NotFound(f"no workgroup {key}", field="workgroup")
    return group


async def get_workgroup(*, session: AsyncSession, caller: Caller, key: str) -> WorkgroupView:
    require_role(caller, Role.TECHNICIAN)
    group = await _workgroup(session, key)
    return _view(group, (await _members_of(session, [key]))[key])


def _check_workgroup_strategy(strategy: Strategy) -> None:
    if strategy not in STRATEGIES_FOR[TargetType.WORKGROUP]:
        allowed = ", ".join(STRATEGIES_FOR[TargetType.WORKGROUP])
        raise ValidationFailed(
            f"strategy: a workgroup picks a person by {allowed}", field="strategy"
        )


async def _replace_members(session: AsyncSession, key: str, members: Sequence[str]) -> None:
    await _check_staff(session, members, "members")
    await session.execute(delete(WorkgroupMember).where(WorkgroupMember.workgroup_key == key))
    session.add_all(
        WorkgroupMember(workgroup_key=key, user_id=user_id, position=index)
        for index, user_id in enumerate(members)
    )


async def create_workgroup(
    *, session: AsyncSession, caller: Caller, data: WorkgroupCreate, now: datetime
) -> WorkgroupView:
    require_role(caller, Role.ADMIN)
    _check_workgroup_strategy(data.strategy)
    if await session.get(Workgroup, data.key) is not None:
        raise Conflict(f"key: a workgroup {data.key} already exists", field="key")
    group = Workgroup(
        key=data.key,
        name=data.name,
        description=data.description,
        skills=data.skills,
        strategy=str(data.strategy),
        max_open_per_member=data.max_open_per_member,
        enabled=True,
        does_work_orders=data.does_work_orders,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    await session.flush()
    forget(session, "reference")
    if _is_postgres(session):
        await _ensure_turn_sequence(session, data.key)
    await _replace_members(session, data.key, data.members)
    await session.flush()
    forget(session, "reference")
    return _view(group, list(data.members))


async def update_workgroup(
    *, session: AsyncSession, caller: Caller, key: str, data: WorkgroupUpdate, now: datetime
) -> WorkgroupView:
    require_role(caller, Role.ADMIN)
    group = await _workgroup(session, key)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "description", "skills", "strategy", "enabled", "does_work_orders"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    if data.strategy is not None:
        _check_workgroup_strategy(data.strategy)
    for field, value in changes.items():
        setattr(group, field, str(value) if field == "strategy" else value)
    group.updated_at = now
    await session.flush()
    forget(session, "reference")
    return _view(group, (await _members_of(session, [key]))[key])


async def set_members(
    *, session: AsyncSession, caller: Caller, key: str, members: Sequence[str], now: datetime
) -> WorkgroupView:
    require_role(caller, Role.ADMIN)
    group = await _workgroup(session, key)
    await _replace_members(session, key, members)
    group.updated_at = now
    await session.flush()
    forget(session, "reference")
    return _view(group, list(members))


async def delete_workgroup(*, session: AsyncSession, caller: Caller, key: str) -> None:
    require_role(caller, Role.ADMIN)
    group = await _workgroup(session, key)
    used_by = await session.scalar(
        select(func.count())
        .select_from(AssignmentRule)
        .where(AssignmentRule.target_workgroup == key)
    )
    if used_by:
        raise Conflict(
            f"workgroup: {key} is the target of {used_by} assignment rule(s); change them first",
            field="workgroup",
        )
    await session.execute(delete(WorkgroupMember).where(WorkgroupMember.workgroup_key == key))
    await session.delete(group)
    try:
        await session.flush()
        forget(session, "reference")
        if _is_postgres(session):
            await session.execute(text(f"DROP SEQUENCE IF EXISTS {_turn_sequence(key)}"))
    except IntegrityError:
        raise Conflict(
            f"workgroup: {key} still holds incidents; disable it instead (enabled: false)",
            field="workgroup",
        ) from None


async def check_workgroup(*, session: AsyncSession, key: str) -> None:
    group = await session.get(Workgroup, key)
    if group is None or not group.enabled:
        raise ValidationFailed(f"workgroup: no enabled workgroup {key}", field="workgroup")


async def check_work_order_group(*, session: AsyncSession, key: str) -> None:
    """Refuse (naming ``workgroup``) a group that is missing, disabled or does no work orders."""
    group = await session.get(Workgroup, key)
    if group is None or not group.enabled:
        raise ValidationFailed(f"workgroup: no enabled workgroup {key}", field="workgroup")
    if not group.does_work_orders:
        raise ValidationFailed(
            f"workgroup: {key} is not a work-order workgroup (does_work_orders is false)",
            field="workgroup",
        )


async def member_groups(*, session: AsyncSession, user_id: str) -> list[str]:
    """The keys of the workgroups ``user_id`` is a member of."""
    rows = await session.scalars(
        select(WorkgroupMember.workgroup_key).where(WorkgroupMember.user_id == user_id)
    )
    return sorted(rows)


async def is_member(*, session: AsyncSession, key: str, user_id: str) -> bool:
    row = await session.get(WorkgroupMember, (key, user_id))
    return row is not None


def _turn_sequence(key: str) -> str:
    """The PostgreSQL sequence of a group's round-robin turns (hex name: nothing to quote)."""
    return "workgroup_turns_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


# Turns are reserved in blocks, so that most creates need no statement for them.
TURN_BLOCK = 64


@cache
def _turn_statements() -> tuple[Executable, Executable]:
    """Built once: the create path only binds parameters."""
    groups: Table = Workgroup.__table__  # type: ignore[assignment]
    sqlite_counter = (
        update(groups)
        .where(groups.c.key == bindparam("group_key"))
        .values(turns=groups.c.turns + TURN_BLOCK)
        .returning(groups.c.turns)
    )
    return text("SELECT nextval(CAST(:name AS regclass))"), sqlite_counter


async def _ensure_turn_sequence(session: AsyncSession, key: str) -> None:
    await session.execute(
        text(
            f"CREATE SEQUENCE IF NOT EXISTS {_turn_sequence(key)} "
            f"INCREMENT BY {TURN_BLOCK} MINVALUE 1 START WITH 1"
        )
    )


async def _reserve_turns(session: AsyncSession, key: str) -> int:
    """Reserve the next block of the group's turns; returns its first turn.

    On PostgreSQL a sequence (``INCREMENT BY TURN_BLOCK``): ``nextval`` never waits for
    other transactions, so parallel creates do not queue behind one row lock. On SQLite
    the write transaction is exclusive anyway, so a counter in the group's row does it.
    """
    sequence, counter = _turn_statements()
    if _is_postgres(session):
        # Created with the group; made here too for a group that came another way (a
        # restore, a copy): once per block, so it costs nothing worth measuring.
        await _ensure_turn_sequence(session, key)
        drawn = await session.scalar(sequence, {"name": _turn_sequence(key)})
        return int(drawn or 1) - 1
    drawn = await session.scalar(counter, {"group_key": key})
    return int(drawn or TURN_BLOCK) - TURN_BLOCK


async def next_turn(session: AsyncSession, key: str) -> int:
    """The group's next round-robin turn number.

    Each process takes turns from a block it reserved, in order, so one process hands out
    consecutive turns (an even rotation) and several processes each rotate evenly. A block
    lost to a restart or a rolled-back create only skips turns, which is harmless.
    """
    blocks = cache_of(session, "turns")
    block = None if blocks is None else blocks.get(key)
    if block is not None and block[0] < block[1]:
        turn = int(block[0])
        block[0] += 1
        return turn
    first = await _reserve_turns(session, key)
    if blocks is None:
        return first
    block = blocks.get(key)
    if block is not None and block[0] < block[1]:
        # Another create of this process refilled while we waited: keep to its block, so
        # that concurrent creates still take consecutive turns (ours is simply skipped).
        turn = int(block[0])
        block[0] += 1
        return turn
    blocks.put(key, [first + 1, first + TURN_BLOCK])
    return first


@dataclass(frozen=True)
class _Member:
    user_id: str
    skills: frozenset[str]
    max_open: int | None
    available: bool
    absences: tuple[tuple[datetime, datetime], ...]

    def away_at(self, now: datetime) -> bool:
        return any(starts <= now < ends for starts, ends in self.absences)


@dataclass(frozen=True)
class _Roster:
    """A workgroup as an assigner needs it: settings and active staff members in order."""

    enabled: bool
    strategy: Strategy
    max_open_per_member: int | None
    members: tuple[_Member, ...]


async def _roster(session: AsyncSession, key: str, now: datetime) -> _Roster | None:
    """The group's roster, cached a few seconds like reference data.

    Absences are kept as ranges (current and future ones) and checked against ``now`` on
    every call, so a cached roster is never wrong about who is away; any change to groups,
    members, profiles or absences in this process clears the cache at once.
    """
    return await remember(
        session, "reference", ("workgroup_roster", key), lambda: _load_roster(session, key, now)
    )


async def _load_roster(session: AsyncSession, key: str, now: datetime) -> _Roster | None:
    group = (
        await session.execute(
            select(Workgroup.enabled, Workgroup.strategy, Workgroup.max_open_per_member).where(
                Workgroup.key == key
            )
        )
    ).first()
    if group is None:
        return None
    rows = (
        await session.execute(
            select(
                WorkgroupMember.user_id,
                Technician.skills,
                Technician.max_open,
                Technician.available,
            )
            .outerjoin(Technician, Technician.user_id == WorkgroupMember.user_id)
            .where(
                WorkgroupMember.workgroup_key == key,
                WorkgroupMember.user_id.in_(active_staff_ids()),
            )
            .order_by(WorkgroupMember.position)
        )
    ).all()
    absences: dict[str, list[tuple[datetime, datetime]]] = {}
    for user_id, starts_at, ends_at in await session.execute(
        select(Absence.user_id, Absence.starts_at, Absence.ends_at).where(
            Absence.user_id.in_([row.user_id for row in rows]), Absence.ends_at > now
        )
    ):
        absences.setdefault(user_id, []).append((starts_at, ends_at))
    return _Roster(
        enabled=group.enabled,
        strategy=Strategy(group.strategy),
        max_open_per_member=group.max_open_per_member,
        members=tuple(
            _Member(
                user_id=row.user_id,
                skills=frozenset(row.skills or ()),
                max_open=row.max_open,
                available=row.available is not False,
                absences=tuple(absences.get(row.user_id, ())),
            )
            for row in rows
        ),
    )


async def _candidates(
    roster: _Roster, now: datetime, open_counts: OpenCounts, need_counts: bool
) -> list[Candidate]:
    """Members as an assigner sees them now; open incidents are counted only when the
    strategy or a capacity needs them."""
    group_capacity = roster.max_open_per_member
    limited = group_capacity is not None or any(m.max_open is not None for m in roster.members)
    counts = (
        await open_counts([m.user_id for m in roster.members]) if need_counts or limited else {}
    )
    candidates = []
    for member in roster.members:
        limits = [limit for limit in (group_capacity, member.max_open) if limit is not None]
        candidates.append(
            Candidate(
                user_id=member.user_id,
                open_count=counts.get(member.user_id, 0),
                available=member.available and not member.away_at(now),
                capacity=min(limits) if limits else None,
                skills=member.skills,
            )
        )
    return candidates


async def to_workgroup(
    *,
    session: AsyncSession,
    key: str,
    now: datetime,
    open_counts: OpenCounts,
    strategy: Strategy | None = None,
    required_skills: frozenset[str] = frozenset(),
) -> Assignment:
    """Hand an incident to a workgroup; its strategy (or the one given) picks the person.

    Nothing is locked: round-robin turns come from ``next_turn``, and least-loaded reads
    the open counts as committed (two creates at the same instant may both pick the same
    least-loaded person; the next ones see it).
    """
    roster = await _roster(session, key, now)
    if roster is None:
        raise ValidationFailed(f"workgroup: no workgroup {key}", field="workgroup")
    if not roster.enabled:
        raise ValidationFailed(f"workgroup: {key} is disabled", field="workgroup")
    how = strategy or roster.strategy
    if how is Strategy.QUEUE:
        return Assignment(workgroup=key, note=f"to workgroup {key} (queue)")
    candidates = await _candidates(
        roster, now, open_counts, need_counts=how is Strategy.LEAST_LOADED
    )
    if how is Strategy.LEAST_LOADED:
        chosen = pick_least_loaded(candidates, required_skills)
    else:
        chosen = pick_in_turn(candidates, await next_turn(session, key), required_skills)
    if chosen is None:
        return Assignment(
            workgroup=key, note=f"to workgroup {key}: no member can take it now (queue)"
        )
    how_text = how.value.replace("_", "-")
    load = f", {chosen.open_count} open" if how is Strategy.LEAST_LOADED else ""
    return Assignment(
        workgroup=key, user_id=chosen.user_id, note=f"to workgroup {key} by {how_text}{load}"
    )


# Technicians -----------------------------------------------------------------------------


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
    away = await _away(session, ids, now)
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
    await _check_staff(session, [user_id], "user_id")
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


def _check_range(starts_at: datetime, ends_at: datetime) -> None:
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
    await _check_staff(session, [user_id], "user_id")
    _check_range(data.starts_at, data.ends_at)
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


# Shifts ----------------------------------------------------------------------------------


def _time_zone(name: str) -> str:
    try:
        rotations.zone(name)
    except rotations.BadTimeZone as exc:
        raise ValidationFailed(f"time_zone: {exc}", field="time_zone") from None
    return name


@dataclass(frozen=True)
class SceneView:
    key: str
    name: str
    description: str
    time_zone: str
    kind: str
    roles: list[ShiftRole]


async def list_scenes(*, session: AsyncSession, caller: Caller) -> list[SceneView]:
    require_role(caller, Role.TECHNICIAN)
    scenes = list(await session.scalars(select(ShiftScene).order_by(ShiftScene.name)))
    roles: dict[str, list[ShiftRole]] = {scene.key: [] for scene in scenes}
    for role in await session.scalars(select(ShiftRole).order_by(ShiftRole.key)):
        roles.setdefault(role.scene_key, []).append(role)
    return [_scene_view(scene, roles[scene.key]) for scene in scenes]


def _scene_view(scene: ShiftScene, roles: list[ShiftRole]) -> SceneView:
    return SceneView(
        key=scene.key,
        name=scene.name,
        description=scene.description,
        time_zone=scene.time_zone,
        kind=scene.kind,
        roles=roles,
    )


async def _scene(session: AsyncSession, key: str) -> ShiftScene:
    scene = await session.get(ShiftScene, key)
    if scene is None:
        raise NotFound(f"no shift scene {key}", field="assignee_scene")
    return scene


async def get_scene(*, session: AsyncSession, caller: Caller, key: str) -> SceneView:
    require_role(caller, Role.TECHNICIAN)
    scene = await _scene(session, key)
    roles = await session.scalars(
        select(ShiftRole).where(ShiftRole.scene_key == key).order_by(ShiftRole.key)
    )
    return _scene_view(scene, list(roles))


async def create_scene(
    *, session: AsyncSession, caller: Caller, data: SceneCreate, now: datetime
) -> SceneView:
    require_role(caller, Role.ADMIN)
    if await session.get(ShiftScene, data.key) is not None:
        raise Conflict(f"key: a shift scene {data.key} already exists", field="key")
    scene = ShiftScene(
        key=data.key,
        name=data.name,
        description=data.description,
        time_zone=_time_zone(data.time_zone),
        kind=data.kind,
        created_at=now,
        updated_at=now,
    )
    session.add(scene)
    await session.flush()
    return _scene_view(scene, [])


async def update_scene(
    *, session: AsyncSession, caller: Caller, key: str, data: SceneUpdate, now: datetime
) -> SceneView:
    require_role(caller, Role.ADMIN)
    scene = await _scene(session, key)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
        setattr(scene, field, _time_zone(value) if field == "time_zone" else value)
    scene.updated_at = now
    await session.flush()
    forget(session, "reference")
    return await get_scene(session=session, caller=caller, key=key)


async def add_role(
    *, session: AsyncSession, caller: Caller, scene_key: str, data: RoleCreate, now: datetime
) -> ShiftRole:
    require_role(caller, Role.ADMIN)
    await _scene(session, scene_key)
    existing = await session.scalar(
        select(ShiftRole).where(ShiftRole.scene_key == scene_key, ShiftRole.key == data.key)
    )
    if existing is not None:
        raise Conflict(f"key: scene {scene_key} already has a role {data.key}", field="key")
    role = ShiftRole(scene_key=scene_key, key=data.key, name=data.name, created_at=now)
    session.add(role)
    await session.flush()
    forget(session, "reference")
    return role


async def _role(session: AsyncSession, scene_key: str, role_key: str) -> ShiftRole:
    role = await session.scalar(
        select(ShiftRole).where(ShiftRole.scene_key == scene_key, ShiftRole.key == role_key)
    )
    if role is None:
        raise NotFound(f"no shift role {role_key} in scene {scene_key}", field="assignee_role")
    return role


async def check_shift(*, session: AsyncSession, scene: str, role: str) -> None:
    """Refuse an owner by shift that names a scene or role that does not exist."""
    if await _schedule(session, scene, role) is not None:
        return
    if await session.get(ShiftScene, scene) is None:
        raise ValidationFailed(f"assignee_scene: no shift scene {scene}", field="assignee_scene")
    try:
        await _role(session, scene, role)
    except NotFound as exc:
        raise ValidationFailed(str(exc), field="assignee_role") from None


async def delete_role(
    *, session: AsyncSession, caller: Caller, scene_key: str, role_key: str
) -> None:
    require_role(caller, Role.ADMIN)
    role = await _role(session, scene_key, role_key)
    used_by = await session.scalar(
        select(func.count())
        .select_from(AssignmentRule)
        .where(AssignmentRule.target_scene == scene_key, AssignmentRule.target_role == role_key)
    )
    if used_by:
        raise Conflict(
            f"assignee_role: {scene_key}/{role_key} is the target of {used_by} assignment "
            "rule(s); change them first",
            field="assignee_role",
        )
    await session.execute(delete(ShiftRotation).where(ShiftRotation.role_id == role.id))
    await session.execute(delete(ShiftOverride).where(ShiftOverride.role_id == role.id))
    await session.delete(role)
    await session.flush()
    forget(session, "reference")


def _check_rotation(values: Mapping[str, Any]) -> None:
    end, start = values.get("end_date"), values.get("start_date")
    if end is not None and start is not None and end < start:
        raise ValidationFailed("end_date: must not be before start_date", field="end_date")
    if (values.get("window_start") is None) != (values.get("window_end") is None):
        raise ValidationFailed(
            "window_end: give both window_start and window_end, or neither", field="window_end"
        )
    window_start, window_end = values.get("window_start"), values.get("window_end")
    if window_start is not None and window_start == window_end:
        raise ValidationFailed(
            "window_end: must differ from window_start (leave both out for all day)",
            field="window_end",
        )


async def list_rotations(
    *, session: AsyncSession, caller: Caller, scene_key: str, role_key: str
) -> list[ShiftRotation]:
    require_role(caller, Role.TECHNICIAN)
    role = await _role(session, scene_key, role_key)
    rows = await session.scalars(
        select(ShiftRotation)
        .where(ShiftRotation.role_id == role.id)
        .order_by(ShiftRotation.priority, ShiftRotation.id)
    )
    return list(rows)


async def add_rotation(
    *,
    session: AsyncSession,
    caller: Caller,
    scene_key: str,
    role_key: str,
    data: RotationCreate,
    now: datetime,
) -> ShiftRotation:
    require_role(caller, Role.ADMIN)
    role = await _role(session, scene_key, role_key)
    values = data.model_dump()
    _check_rotation(values)
    await _check_staff(session, set(data.members), "members")
    rotation = ShiftRotation(role_id=role.id, **values, created_at=now, updated_at=now)
    session.add(rotation)
    await session.flush()
    forget(session, "reference")
    return rotation


async def _rotation(
    session: AsyncSession, scene_key: str, role_key: str, rotation_id: int
) -> ShiftRotation:
    role = await _role(session, scene_key, role_key)
    rotation = await session.get(ShiftRotation, rotation_id)
    if rotation is None or rotation.role_id != role.id:
        raise NotFound(f"no rotation {rotation_id} in {scene_key}/{role_key}", field="rotation_id")
    return rotation


async def update_rotation(
    *,
    session: AsyncSession,
    caller: Caller,
    scene_key: str,
    role_key: str,
    rotation_id: int,
    data: RotationUpdate,
    now: datetime,
) -> ShiftRotation:
    require_role(caller, Role.ADMIN)
    rotation = await _rotation(session, scene_key, role_key, rotation_id)
    changes = data.model_dump(exclude_unset=True)
    nullable = {"end_date", "window_start", "window_end"}
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    merged = {
        field: changes.get(field, getattr(rotation, field))
        for field in ("start_date", "end_date", "window_start", "window_end")
    }
    _check_rotation(merged)
    if "members" in changes:
        await _check_staff(session, set(changes["members"]), "members")
    for field, value in changes.items():
        setattr(rotation, field, value)
    rotation.updated_at = now
    await session.flush()
    forget(session, "reference")
    return rotation


async def delete_rotation(
    *, session: AsyncSession, caller: Caller, scene_key: str, role_key: str, rotation_id: int
) -> None:
    require_role(caller, Role.ADMIN)
    rotation = await _rotation(session, scene_key, role_key, rotation_id)
    await session.delete(rotation)
    await session.flush()
    forget(session, "reference")


async def add_override(
    *,
    session: AsyncSession,
    caller: Caller,
    scene_key: str,
    role_key: str,
    data: OverrideCreate,
    now: datetime,
) -> ShiftOverride:
    """Put someone on duty for a time range; incident managers swap shifts, too."""
    require_role(caller, Role.INCIDENT_MANAGER)
    role = await _role(session, scene_key, role_key)
    _check_range(data.starts_at, data.ends_at)
    await _check_staff(session, [data.user_id], "user_id")
    override = ShiftOverride(
        role_id=role.id,
        user_id=data.user_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
        created_by=caller.user_id,
        created_at=now,
    )
    session.add(override)
    await session.flush()
    return override


async def list_overrides(
    *,
    session: AsyncSession,
    caller: Caller,
    scene_key: str,
    role_key: str,
    since: datetime,
    until: datetime,
) -> list[ShiftOverride]:
    """Overrides that overlap [since, until), earliest first."""
    require_role(caller, Role.TECHNICIAN)
    role = await _role(session, scene_key, role_key)
    rows = await session.scalars(
        select(ShiftOverride)
        .where(
            ShiftOverride.role_id == role.id,
            ShiftOverride.ends_at > since,
            ShiftOverride.starts_at < until,
        )
        .order_by(ShiftOverride.starts_at, ShiftOverride.id)
        .limit(1000)
    )
    return list(rows)


async def delete_override(
    *, session: AsyncSession, caller: Caller, scene_key: str, role_key: str, override_id: int
) -> None:
    require_role(caller, Role.INCIDENT_MANAGER)
    role = await _role(session, scene_key, role_key)
    override = await session.get(ShiftOverride, override_id)
    if override is None or override.role_id != role.id:
        raise NotFound(f"no override {override_id} in {scene_key}/{role_key}", field="override_id")
    await session.delete(override)
    await session.flush()


def _as_rotation(row: ShiftRotation) -> rotations.Rotation:
    return rotations.Rotation(
        id=row.id,
        name=row.name,
        members=tuple(row.members),
        start_date=row.start_date,
        end_date=row.end_date,
        handoff=row.handoff,
        turn_days=row.turn_days,
        priority=row.priority,
        weekdays=tuple(row.weekdays) or rotations.ALL_WEEKDAYS,
        window_start=row.window_start,
        window_end=row.window_end,
    )


@dataclass(frozen=True)
class _Schedule:
    """A role's standing schedule: everything but the overrides, which change all the time."""

    role_id: int
    tz: ZoneInfo
    rotations: tuple[rotations.Rotation, ...]


async def _schedule(session: AsyncSession, scene: str, role: str) -> _Schedule | None:
    """The role's id, time zone and rotations; cached like reference data (a few seconds,
    cleared at once by any change to scenes, roles or rotations in this process)."""
    return await remember(
        session,
        "reference",
        ("shift_schedule", scene, role),
        lambda: _load_schedule(session, scene, role),
    )


async def _load_schedule(session: AsyncSession, scene: str, role: str) -> _Schedule | None:
    found = (
        await session.execute(
            select(ShiftRole.id, ShiftScene.time_zone)
            .join(ShiftScene, ShiftScene.key == ShiftRole.scene_key)
            .where(ShiftRole.scene_key == scene, ShiftRole.key == role)
        )
    ).first()
    if found is None:
        return None
    role_id, time_zone = found
    layers = await session.scalars(select(ShiftRotation).where(ShiftRotation.role_id == role_id))
    return _Schedule(
        role_id=role_id,
        tz=rotations.zone(time_zone),
        rotations=tuple(_as_rotation(layer) for layer in layers),
    )


async def on_duty(
    *, session: AsyncSession, scene: str, role: str, at: datetime
) -> rotations.OnDuty:
    """Who is on duty for ``scene``/``role`` at ``at``: one indexed read of the overrides
    covering ``at`` (the standing schedule is cached) and some arithmetic."""
    schedule = await _schedule(session, scene, role)
    if schedule is None:
        raise NotFound(f"no shift role {role} in scene {scene}", field="assignee_role")
    covering = await session.execute(
        select(
            ShiftOverride.id,
            ShiftOverride.user_id,
            ShiftOverride.starts_at,
            ShiftOverride.ends_at,
            ShiftOverride.reason,
        ).where(
            ShiftOverride.role_id == schedule.role_id,
            ShiftOverride.ends_at > at,
            ShiftOverride.starts_at <= at,
        )
    )
    return rotations.on_duty(
        rotations=schedule.rotations,
        overrides=[
            rotations.Override(
                id=row.id,
                user_id=row.user_id,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                reason=row.reason,
            )
            for row in covering
        ],
        at=at,
        tz=schedule.tz,
    )


async def to_shift(*, session: AsyncSession, scene: str, role: str, now: datetime) -> Assignment:
    """Hand an incident to a shift: the first person on duty who is not away takes it."""
    await check_shift(session=session, scene=scene, role=role)
    duty = await on_duty(session=session, scene=scene, role=role, at=now)
    candidates = duty.candidates()
    present = await available_people(
        session=session, user_ids=[user_id for user_id, _ in candidates], now=now
    )
    skipped: list[str] = []
    for user_id, reason in candidates:
        if user_id in present:
            away = f" ({', '.join(skipped)} away)" if skipped else ""
            return Assignment(
                scene=scene,
                role=role,
                user_id=user_id,
                note=f"to shift {scene}/{role}: on duty by {reason}{away}",
            )
        skipped.append(user_id)
    return Assignment(
        scene=scene, role=role, note=f"to shift {scene}/{role}: nobody available on duty (queue)"
    )


# Assignment rules ------------------------------------------------------------------------


def _as_rule(row: AssignmentRule) -> Rule:
    return Rule(
        id=row.id,
        name=row.name,
        position=row.position,
        conditions=Conditions.from_mapping(row.conditions),
        target_type=TargetType(row.target_type),
        strategy=Strategy(row.strategy),
        on_create=row.on_create,
        on_reopen=row.on_reopen,
        required_skills=frozenset(row.required_skills),
        target_workgroup=row.target_workgroup,
        target_scene=row.target_scene,
        target_role=row.target_role,
        target_user_id=row.target_user_id,
    )


_RULES_CACHE_KEY = "assignment_rules"


async def _enabled_rules(session: AsyncSession) -> tuple[Rule, ...]:
    """The enabled rules in the order they are tried, as pure values; cached a few seconds
    (every new incident asks)."""

    async def load() -> tuple[Rule, ...]:
        rows = await session.scalars(select(AssignmentRule).where(AssignmentRule.enabled.is_(True)))
        return tuple(sorted((_as_rule(row) for row in rows), key=lambda r: (r.position, r.id)))

    return await remember(session, "reference", _RULES_CACHE_KEY, load)


async def list_rules(*, session: AsyncSession, caller: Caller) -> list[AssignmentRule]:
    require_role(caller, Role.TECHNICIAN)
    rows = await session.scalars(
        select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)
    )
    return list(rows)


async def _rule(session: AsyncSession, rule_id: int) -> AssignmentRule:
    rule = await session.get(AssignmentRule, rule_id)
    if rule is None:
        raise NotFound(f"no assignment rule {rule_id}", field="rule_id")
    return rule


async def get_rule(*, session: AsyncSession, caller: Caller, rule_id: int) -> AssignmentRule:
    require_role(caller, Role.TECHNICIAN)
    return await _rule(session, rule_id)


_TARGET_FIELDS = ("target_workgroup", "target_scene", "target_role", "target_user_id")
_NEEDED: dict[TargetType, tuple[str, ...]] = {
    TargetType.WORKGROUP: ("target_workgroup",),
    TargetType.SHIFT: ("target_scene", "target_role"),
    TargetType.PERSON: ("target_user_id",),
}


async def _check_target(session: AsyncSession, values: dict[str, Any]) -> None:
    """Exactly the target fields of the target type, naming things that exist."""
    target = TargetType(values["target_type"])
    for field in _TARGET_FIELDS:
        given = values.get(field) is not None
        if field in _NEEDED[target] and not given:
            raise ValidationFailed(f"{field}: required for a {target.value} target", field=field)
        if field not in _NEEDED[target] and given:
            raise ValidationFailed(
                f"{field}: not used by a {target.value} target; leave it out", field=field
            )
    strategy = values.get("strategy")
    if strategy is None:
        if target is TargetType.WORKGROUP:
            group = await session.get(Workgroup, values["target_workgroup"])
            strategy = Strategy.ROUND_ROBIN if group is None else Strategy(group.strategy)
        else:
            strategy = STRATEGIES_FOR[target][0]
    if Strategy(strategy) not in STRATEGIES_FOR[target]:
        allowed = ", ".join(STRATEGIES_FOR[target])
        raise ValidationFailed(
            f"strategy: a {target.value} target takes {allowed}", field="strategy"
        )
    values["strategy"] = str(strategy)
    if target is TargetType.WORKGROUP:
        group = await session.get(Workgroup, values["target_workgroup"])
        if group is None:
            raise ValidationFailed(
                f"target_workgroup: no workgroup {values['target_workgroup']}",
                field="target_workgroup",
            )
    elif target is TargetType.SHIFT:
        try:
            await check_shift(
                session=session, scene=values["target_scene"], role=values["target_role"]
            )
        except ValidationFailed as exc:
            field = "target_scene" if exc.field == "assignee_scene" else "target_role"
            raise ValidationFailed(
                str(exc).replace(str(exc.field), field, 1), field=field
            ) from None
    else:
        await _check_staff(session, [values["target_user_id"]], "target_user_id")


async def create_rule(
    *, session: AsyncSession, caller: Caller, data: RuleCreate, now: datetime
) -> AssignmentRule:
    require_role(caller, Role.ADMIN)
    values = data.model_dump()
    values["conditions"] = {k: v for k, v in values["conditions"].items() if v}
    await _check_target(session, values)
    if values["position"] is None:
        last = await session.scalar(select(func.max(AssignmentRule.position)))
        values["position"] = (last or 0) + 10
    values["target_type"] = str(values["target_type"])
    rule = AssignmentRule(**values, created_at=now, updated_at=now)
    session.add(rule)
    await session.flush()
    forget(session, "reference")
    return rule


async def update_rule(
    *, session: AsyncSession, caller: Caller, rule_id: int, data: RuleUpdate, now: datetime
) -> AssignmentRule:
    require_role(caller, Role.ADMIN)
    rule = await _rule(session, rule_id)
    changes = data.model_dump(exclude_unset=True)
    nullable = {"strategy", *_TARGET_FIELDS}
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    if "conditions" in changes:
        changes["conditions"] = {k: v for k, v in changes["conditions"].items() if v}
    if {"target_type", "strategy", *_TARGET_FIELDS} & set(changes):
        # A new target replaces the old one whole, as the owner of an incident does.
        retargeted = "target_type" in changes
        target = {
            "target_type": changes.get("target_type", rule.target_type),
            "strategy": changes.get("strategy", None if retargeted else rule.strategy),
            **{
                field: changes.get(field, None if retargeted else getattr(rule, field))
                for field in _TARGET_FIELDS
            },
        }
        await _check_target(session, target)
        target["target_type"] = str(target["target_type"])
        changes.update(target)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.updated_at = now
    await session.flush()
    forget(session, "reference")
    return rule


async def delete_rule(*, session: AsyncSession, caller: Caller, rule_id: int) -> None:
    require_role(caller, Role.ADMIN)
    rule = await _rule(session, rule_id)
    await session.delete(rule)
    await session.flush()
    forget(session, "reference")


async def _apply_rule(
    session: AsyncSession, rule: Rule, now: datetime, open_counts: OpenCounts
) -> Assignment | None:
    chosen = f"rule #{rule.id} '{rule.name}'"
    if rule.target_type is TargetType.WORKGROUP:
        assert rule.target_workgroup is not None
        try:
            found = await to_workgroup(
                session=session,
                key=rule.target_workgroup,
                now=now,
                open_counts=open_counts,
                strategy=rule.strategy,
                required_skills=rule.required_skills,
            )
        except ValidationFailed:
            return None  # the group was disabled or removed: the next rule decides
    elif rule.target_type is TargetType.SHIFT:
        assert rule.target_scene is not None
        assert rule.target_role is not None
        found = await to_shift(
            session=session, scene=rule.target_scene, role=rule.target_role, now=now
        )
    else:
        assert rule.target_user_id is not None
        present = await available_people(session=session, user_ids=[rule.target_user_id], now=now)
        if rule.target_user_id not in present:
            return None
        found = Assignment(user_id=rule.target_user_id, note=f"to {rule.target_user_id}")
    return Assignment(
        workgroup=found.workgroup,
        user_id=found.user_id,
        scene=found.scene,
        role=found.role,
        rule_id=rule.id,
        note=f"{chosen}: {found.note}",
    )


async def route(
    *,
    session: AsyncSession,
    facts: IncidentFacts,
    trigger: Trigger,
    now: datetime,
    open_counts: OpenCounts,
) -> Assignment | None:
    """The first matching enabled rule that yields an owner; None when no rule decides."""
    for rule in matching_rules(await _enabled_rules(session), facts, trigger):
        found = await _apply_rule(session, rule, now, open_counts)
        if found is not None:
            return found
    return None
