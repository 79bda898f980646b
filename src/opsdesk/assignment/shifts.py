"""Shifts: scenes and their roles, rotations, overrides, and who is on duty at a moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import rotation as rotations
from opsdesk.assignment.models import (
    AssignmentRule,
    ShiftOverride,
    ShiftRole,
    ShiftRotation,
    ShiftScene,
)
from opsdesk.assignment.people import Assignment, available_people, check_staff
from opsdesk.assignment.schemas import (
    OverrideCreate,
    RoleCreate,
    RotationCreate,
    RotationUpdate,
    SceneCreate,
    SceneUpdate,
)
from opsdesk.assignment.technicians import check_range
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import require_role
from opsdesk.core.cache import forget, remember
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed


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
    await check_staff(session, set(data.members), "members")
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
        await check_staff(session, set(changes["members"]), "members")
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
    check_range(data.starts_at, data.ends_at)
    await check_staff(session, [data.user_id], "user_id")
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
