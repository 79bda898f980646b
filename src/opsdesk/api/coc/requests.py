"""What COC routes read from a request: the ids in a path, the JSON body and its parameters,
and the operator a request acts as."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import caller_by_id
from opsdesk.core.errors import ValidationFailed

# COC's limits on the ids in a path: 1-50 characters on v2, 255 on v1 (as HandleCocIncident's
# incident_num). Our doc_ids are 32 hex characters, so anything else is a malformed one.
IncidentNum = Annotated[str, PathParam(min_length=1, max_length=255)]


IncidentId = Annotated[str, PathParam(min_length=1, max_length=50)]


DocId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object a COC request carries; anything else is a parameter error."""
    try:
        body = await request.json()
    except ValueError:
        raise ValidationFailed("body: is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationFailed("body: must be an object", field="body")
    return body


def listed(value: str | None) -> list[str]:
    return [] if value is None else [value]


def int_param(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"{name}: must be an integer from {low} to {high}", field=name)
    return value


def bool_param(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name}: must be true or false", field=name)
    return value


def required_text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{name}: is required", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{name}: is longer than {limit} characters", field=name)
    return value


async def operator_of(
    session: AsyncSession, caller: Caller, operator: str, field: str = "operator"
) -> Caller:
    """Who acts: the token's user, or (for an admin's integration token) the named user."""
    if operator == caller.user_id:
        return caller
    if not caller.can(Role.ADMIN):
        raise ValidationFailed(
            f"{field}: must be the user of the token (only an admin's token may act for "
            "someone else)",
            field=field,
        )
    found = await caller_by_id(session=session, user_id=operator)
    if found is None:
        raise ValidationFailed(f"{field}: no active user {operator}", field=field)
    return found
