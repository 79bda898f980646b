"""Stakeholder audiences and their message templates: who is told about an update, and in
which words (one template per update state, shipped with defaults, edited by admins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.catalog.models import Application
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.reviews.status_models import StatusAudience, StatusTemplateRow
from opsdesk.reviews.status_rules import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    UpdateState,
    normal_email,
    unknown_placeholders,
)
from opsdesk.reviews.status_schemas import AudienceIn, StatusTemplateIn

# Audiences ------------------------------------------------------------------------------


async def check_application(session: AsyncSession, key: str | None, field: str) -> None:
    if key is not None and await session.get(Application, key) is None:
        raise ValidationFailed(f"{field}: no application with key {key!r}", field=field)


async def _checked_audience(session: AsyncSession, data: AudienceIn) -> AudienceIn:
    emails: list[str] = []
    for index, value in enumerate(data.emails):
        address = normal_email(value)
        if address is None:
            raise ValidationFailed(
                f"emails.{index}: {value!r} is not an e-mail address", field=f"emails.{index}"
            )
        if address not in emails:
            emails.append(address)
    users = await session.scalars(select(User).where(User.id.in_(data.user_ids)))
    known = {user.id for user in users}
    for index, user_id in enumerate(data.user_ids):
        if user_id not in known:
            raise ValidationFailed(
                f"user_ids.{index}: no user with id {user_id!r}", field=f"user_ids.{index}"
            )
    await check_application(session, data.application, "application")
    if not emails and not data.user_ids:
        raise ValidationFailed("emails: name at least one address or user", field="emails")
    return data.model_copy(
        update={"emails": emails, "user_ids": list(dict.fromkeys(data.user_ids))}
    )


async def list_audiences(*, session: AsyncSession, caller: Caller) -> list[StatusAudience]:
    auth.require_role(caller, Role.TECHNICIAN)
    return list(await session.scalars(select(StatusAudience).order_by(StatusAudience.name)))


async def get_audience(
    *, session: AsyncSession, caller: Caller, audience_id: int
) -> StatusAudience:
    auth.require_role(caller, Role.TECHNICIAN)
    audience = await session.get(StatusAudience, audience_id)
    if audience is None:
        raise NotFound(f"no audience {audience_id}", field="audience_id")
    return audience


async def _name_taken(session: AsyncSession, name: str, audience_id: int | None) -> None:
    other = await session.scalar(select(StatusAudience).where(StatusAudience.name == name))
    if other is not None and other.id != audience_id:
        raise Conflict(f"name: an audience named {name!r} exists", field="name")


async def create_audience(
    *, session: AsyncSession, caller: Caller, data: AudienceIn, now: datetime
) -> StatusAudience:
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    data = await _checked_audience(session, data)
    await _name_taken(session, data.name.strip(), None)
    audience = StatusAudience(
        name=data.name.strip(),
        kind=data.kind.value,
        application=data.application,
        emails=data.emails,
        user_ids=data.user_ids,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(audience)
    await session.flush()
    return audience


async def update_audience(
    *, session: AsyncSession, caller: Caller, audience_id: int, data: AudienceIn, now: datetime
) -> StatusAudience:
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    audience = await get_audience(session=session, caller=caller, audience_id=audience_id)
    data = await _checked_audience(session, data)
    await _name_taken(session, data.name.strip(), audience_id)
    audience.name = data.name.strip()
    audience.kind = data.kind.value
    audience.application = data.application
    audience.emails = data.emails
    audience.user_ids = data.user_ids
    audience.active = data.active
    audience.updated_at = now
    await session.flush()
    return audience


async def delete_audience(*, session: AsyncSession, caller: Caller, audience_id: int) -> None:
    """Posted updates keep the id they were mailed to; the audience itself goes."""
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    audience = await get_audience(session=session, caller=caller, audience_id=audience_id)
    await session.delete(audience)
    await session.flush()


# Templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    state: UpdateState
    subject: str
    body: str
    message: str
    customized: bool


def _state(value: str, field: str = "state") -> UpdateState:
    try:
        return UpdateState(value)
    except ValueError:
        known = ", ".join(state.value for state in UpdateState)
        raise ValidationFailed(
            f"{field}: unknown state {value!r}; known: {known}", field=field
        ) from None


async def effective_template(session: AsyncSession, state: UpdateState) -> TemplateView:
    row = await session.get(StatusTemplateRow, state.value)
    if row is None:
        default = DEFAULT_TEMPLATES[state]
        return TemplateView(state, default.subject, default.body, default.message, False)
    return TemplateView(state, row.subject, row.body, row.message, True)


async def list_templates(*, session: AsyncSession, caller: Caller) -> list[TemplateView]:
    auth.require_role(caller, Role.TECHNICIAN)
    return [await effective_template(session, state) for state in UpdateState]


async def get_template(*, session: AsyncSession, caller: Caller, state: str) -> TemplateView:
    auth.require_role(caller, Role.TECHNICIAN)
    return await effective_template(session, _state(state))


async def update_template(
    *, session: AsyncSession, caller: Caller, state: str, data: StatusTemplateIn, now: datetime
) -> TemplateView:
    auth.require_role(caller, Role.ADMIN)
    chosen = _state(state)
    for name in ("subject", "body", "message"):
        unknown = unknown_placeholders(getattr(data, name))
        if unknown:
            raise ValidationFailed(
                f"{name}: unknown placeholder {{{unknown[0]}}}; known: "
                + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS),
                field=name,
            )
    if any(char in data.subject for char in "\r\n"):
        raise ValidationFailed("subject: must be one line", field="subject")
    row = await session.get(StatusTemplateRow, chosen.value)
    if row is None:
        row = StatusTemplateRow(state=chosen.value)
        session.add(row)
    row.subject = data.subject.strip()
    row.body = data.body.replace("\r\n", "\n")
    row.message = data.message.replace("\r\n", "\n")
    row.updated_at = now
    row.updated_by = caller.user_id
    await session.flush()
    return await effective_template(session, chosen)


async def reset_template(*, session: AsyncSession, caller: Caller, state: str) -> TemplateView:
    auth.require_role(caller, Role.ADMIN)
    chosen = _state(state)
    row = await session.get(StatusTemplateRow, chosen.value)
    if row is not None:
        await session.delete(row)
        await session.flush()
    return await effective_template(session, chosen)
