"""Workgroups: members, strategies, round-robin turns shared by every process, and picking the
person in a group who takes an incident."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Executable, Table, bindparam, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.models import (
    Absence,
    AssignmentRule,
    Technician,
    Workgroup,
    WorkgroupMember,
)
from opsdesk.assignment.people import Assignment, OpenCounts, check_staff
from opsdesk.assignment.rules import (
    STRATEGIES_FOR,
    Candidate,
    Strategy,
    TargetType,
    pick_in_turn,
    pick_least_loaded,
)
from opsdesk.assignment.schemas import (
    WorkgroupCreate,
    WorkgroupUpdate,
)
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import active_staff_ids, require_role
from opsdesk.core.cache import cache_of, forget, remember
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed


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
    await check_staff(session, members, "members")
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
