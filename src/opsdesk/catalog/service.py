"""Reference-data use cases, and the check that an incident names only enabled items."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import exists, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import require_role
from opsdesk.catalog.defaults import DEFAULTS
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.models import (
    Application,
    Category,
    EnterpriseProject,
    Level,
    ReferenceItem,
    Region,
)
from opsdesk.catalog.schemas import ItemCreate, ItemUpdate
from opsdesk.core.cache import cache_of, forget
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed

MODELS: dict[Kind, type[ReferenceItem]] = {
    Kind.LEVEL: Level,
    Kind.CATEGORY: Category,
    Kind.APPLICATION: Application,
    Kind.REGION: Region,
    Kind.ENTERPRISE_PROJECT: EnterpriseProject,
}


async def list_items(
    *, session: AsyncSession, kind: Kind, include_disabled: bool = True
) -> list[ReferenceItem]:
    model = MODELS[kind]
    query = select(model).order_by(model.sort_order, model.key)
    if not include_disabled:
        query = query.where(model.enabled.is_(True))
    return list(await session.scalars(query))


async def get_item(*, session: AsyncSession, kind: Kind, key: str) -> ReferenceItem:
    item = await session.get(MODELS[kind], key)
    if item is None:
        raise NotFound(f"no {kind.singular} with key {key}", field="key")
    return item


async def create_item(
    *, session: AsyncSession, caller: Caller, kind: Kind, data: ItemCreate, now: datetime
) -> ReferenceItem:
    require_role(caller, Role.ADMIN)
    if not kind.admins_may_add:
        raise ValidationFailed(
            f"{kind.value} are fixed; edit or disable the existing ones", field="key"
        )
    model = MODELS[kind]
    if await session.get(model, data.key) is not None:
        raise Conflict(f"a {kind.singular} with key {data.key} already exists", field="key")
    item = model(**data.model_dump(), preset=False, created_at=now, updated_at=now)
    session.add(item)
    await session.flush()
    forget(session, "reference")
    return item


async def update_item(
    *,
    session: AsyncSession,
    caller: Caller,
    kind: Kind,
    key: str,
    data: ItemUpdate,
    now: datetime,
) -> ReferenceItem:
    require_role(caller, Role.ADMIN)
    item = await get_item(session=session, kind=kind, key=key)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
        setattr(item, name, value)
    item.updated_at = now
    await session.flush()
    forget(session, "reference")
    return item


async def delete_item(*, session: AsyncSession, caller: Caller, kind: Kind, key: str) -> None:
    """Delete a custom item no incident uses; presets and used items can only be disabled."""
    require_role(caller, Role.ADMIN)
    item = await get_item(session=session, kind=kind, key=key)
    if item.preset:
        raise Conflict(f"{kind.singular} {key} is a preset: disable it instead", field="key")
    try:
        async with session.begin_nested():
            await session.delete(item)
    except IntegrityError as exc:
        # The foreign keys of the incident table are the authority on "in use".
        raise Conflict(
            f"{kind.singular} {key} is used by incidents: disable it instead", field="key"
        ) from exc
    forget(session, "reference")


async def _enabled_keys(session: AsyncSession) -> dict[str, dict[str, bool]]:
    """Every reference key of every kind with its enabled flag: one small query, cached."""
    cache = cache_of(session, "reference")
    if cache is not None:
        cached: dict[str, dict[str, bool]] | None = cache.get("enabled")
        if cached is not None:
            return cached
    query = union_all(
        *(
            select(literal(kind.value).label("kind"), model.key, model.enabled)
            for kind, model in MODELS.items()
        )
    )
    keys: dict[str, dict[str, bool]] = {kind.value: {} for kind in Kind}
    for kind, key, enabled in (await session.execute(query)).all():
        keys[str(kind)][str(key)] = bool(enabled)
    if cache is not None:
        cache.put("enabled", keys)
    return keys


async def check_references(*, session: AsyncSession, chosen: Mapping[Kind, str | None]) -> None:
    """Raise ``ValidationFailed`` naming the field when a chosen key is unknown or disabled.

    This runs on every incident create, so it reads a cached snapshot; the foreign keys of
    the incident table still refuse a key deleted in the meantime.
    """
    wanted = {kind: key for kind, key in chosen.items() if key is not None}
    if not wanted:
        return
    known = await _enabled_keys(session)
    for kind, key in wanted.items():
        enabled = known[kind.value].get(key)
        if enabled is None:
            raise ValidationFailed(
                f"{kind.incident_field}: unknown {kind.singular} {key!r}", field=kind.incident_field
            )
        if not enabled:
            raise ValidationFailed(
                f"{kind.incident_field}: {kind.singular} {key!r} is disabled",
                field=kind.incident_field,
            )


async def seed_defaults(*, session: AsyncSession, now: datetime) -> int:
    """Insert the default items that are missing; returns how many were added."""
    added = 0
    for kind, rows in DEFAULTS.items():
        model = MODELS[kind]
        for order, (key, name_en, name_zh, description) in enumerate(rows):
            present = await session.scalar(select(exists().where(model.key == key)))
            if present:
                continue
            session.add(
                model(
                    key=key,
                    name_en=name_en,
                    name_zh=name_zh,
                    description=description,
                    enabled=True,
                    preset=True,
                    sort_order=(order + 1) * 10,
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
    await session.flush()
    forget(session, "reference")
    return added


async def names_of(
    *, session: AsyncSession, kind: Kind, keys: set[str]
) -> dict[str, tuple[str, str]]:
    """English and Chinese names of the given keys (disabled items included)."""
    if not keys:
        return {}
    model = MODELS[kind]
    rows = await session.execute(
        select(model.key, model.name_en, model.name_zh).where(model.key.in_(keys))
    )
    return {row.key: (row.name_en, row.name_zh or row.name_en) for row in rows}
