"""Reference-data use cases, and the check that an incident names only enabled items."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Select, exists, literal, select, union_all
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


async def check_references(*, session: AsyncSession, chosen: Mapping[Kind, str | None]) -> None:
    """Raise ``ValidationFailed`` naming the field when a chosen key is unknown or disabled.

    One round trip for all kinds: this runs on every incident create.
    """
    wanted = {kind: key for kind, key in chosen.items() if key is not None}
    if not wanted:
        return
    selects: list[Select[str, bool]] = []
    for kind, key in wanted.items():
        model = MODELS[kind]
        selects.append(
            select(literal(kind.value).label("kind"), model.enabled).where(model.key == key)
        )
    query = union_all(*selects) if len(selects) > 1 else selects[0]
    found = {str(row[0]): bool(row[1]) for row in (await session.execute(query)).all()}
    for kind, key in wanted.items():
        if kind.value not in found:
            raise ValidationFailed(
                f"{kind.incident_field}: unknown {kind.singular} {key!r}", field=kind.incident_field
            )
        if not found[kind.value]:
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
    return added
