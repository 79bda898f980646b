"""Integrations and their conversion rules: create (key shown once), change, rotate."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts.models import ConversionRule, Integration
from opsdesk.alerts.service import KINDS, hash_key
from opsdesk.assignment.shifts import check_shift
from opsdesk.auth.service import caller_by_id
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.cache import forget
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed


async def create_integration(
    *,
    session: AsyncSession,
    name: str,
    kind: str,
    acting_user_id: str,
    now: datetime,
    rate_limit_per_s: int = 1000,
    group_by: Sequence[str] = (),
    group_window_s: int = 3600,
) -> tuple[Integration, str]:
    """A new integration, its default conversion rule, and its key (shown once, stored hashed)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name: must be 1-100 characters", field="name")
    if kind not in KINDS:
        raise ValidationFailed(f"kind: must be one of {', '.join(KINDS)}", field="kind")
    if rate_limit_per_s < 0:
        raise ValidationFailed("rate_limit_per_s: must not be negative", field="rate_limit_per_s")
    if group_window_s < 1:
        raise ValidationFailed("group_window_s: must be at least 1", field="group_window_s")
    if await session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Conflict(f"name: an integration named {name!r} exists", field="name")
    key = secrets.token_hex(16)  # 32 characters: PagerDuty's routing_key length
    integration = Integration(
        name=name,
        kind=kind,
        key_hash=hash_key(key),
        key_hint=key[:6],
        active=True,
        rate_limit_per_s=rate_limit_per_s,
        group_by=list(group_by),
        group_window_s=group_window_s,
        acting_user_id=acting_user_id,
        created_at=now,
    )
    session.add(integration)
    await session.flush()
    session.add(
        ConversionRule(
            integration_id=integration.id,
            name="Every firing group becomes an incident",
            position=1000,
            enabled=True,
            conditions=[],
            creates_incident=True,
            auto_resolve=False,
        )
    )
    await session.flush()
    return integration, key


async def list_integrations(*, session: AsyncSession) -> list[Integration]:
    return list(await session.scalars(select(Integration).order_by(Integration.name)))


async def get_integration(*, session: AsyncSession, integration_id: int) -> Integration:
    row = await session.get(Integration, integration_id)
    if row is None:
        raise NotFound(f"no integration {integration_id}", field="integration_id")
    return row


async def update_integration(
    *, session: AsyncSession, integration_id: int, changes: dict[str, Any]
) -> Integration:
    row = await get_integration(session=session, integration_id=integration_id)
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    forget(session, "integrations")
    return row


async def rotate_key(*, session: AsyncSession, integration_id: int) -> str:
    row = await get_integration(session=session, integration_id=integration_id)
    key = secrets.token_hex(16)
    row.key_hash, row.key_hint = hash_key(key), key[:6]
    await session.flush()
    forget(session, "integrations")
    return key


async def list_rules(*, session: AsyncSession, integration_id: int) -> list[ConversionRule]:
    await get_integration(session=session, integration_id=integration_id)
    rows = await session.scalars(
        select(ConversionRule)
        .where(ConversionRule.integration_id == integration_id)
        .order_by(ConversionRule.position, ConversionRule.id)
    )
    return list(rows)


async def save_rule(
    *,
    session: AsyncSession,
    integration_id: int,
    values: dict[str, Any],
    rule_id: int | None = None,
) -> ConversionRule:
    """Create (``rule_id`` None) or change a conversion rule; values are already validated.

    The keys it names are checked now: a rule naming an unknown level or a departed person
    would otherwise fail every alert it matches, at the worst moment."""
    await get_integration(session=session, integration_id=integration_id)
    await _check_rule_references(session, values)
    if rule_id is None:
        rule = ConversionRule(integration_id=integration_id, **values)
        session.add(rule)
    else:
        found = await session.get(ConversionRule, rule_id)
        if found is None or found.integration_id != integration_id:
            raise NotFound(f"no rule {rule_id} on integration {integration_id}", field="rule_id")
        rule = found
        for name, value in values.items():
            setattr(rule, name, value)
    await session.flush()
    forget(session, "integrations")
    return rule


async def delete_rule(*, session: AsyncSession, integration_id: int, rule_id: int) -> None:
    rule = await session.get(ConversionRule, rule_id)
    if rule is None or rule.integration_id != integration_id:
        raise NotFound(f"no rule {rule_id} on integration {integration_id}", field="rule_id")
    await session.delete(rule)
    await session.flush()
    forget(session, "integrations")


async def _check_rule_references(session: AsyncSession, values: dict[str, Any]) -> None:
    await check_references(
        session=session,
        chosen={
            Kind.LEVEL: values.get("level"),
            Kind.CATEGORY: values.get("category"),
            Kind.APPLICATION: values.get("application"),
        },
    )
    assignee = values.get("assignee_id")
    scene, role = values.get("assignee_scene"), values.get("assignee_role")
    if assignee and (scene or role):
        raise ValidationFailed(
            "assignee_id: choose a person or a shift (assignee_scene + assignee_role), not both",
            field="assignee_id",
        )
    if assignee:
        staff = await caller_by_id(session=session, user_id=assignee)
        if staff is None or not staff.is_staff:
            raise ValidationFailed(
                f"assignee_id: no active technician {assignee!r}", field="assignee_id"
            )
    if bool(scene) != bool(role):
        raise ValidationFailed(
            "assignee_scene: a shift needs both assignee_scene and assignee_role",
            field="assignee_scene",
        )
    if scene and role:
        await check_shift(session=session, scene=scene, role=role)
