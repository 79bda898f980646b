"""Admin pages for users: create, change role, deactivate, reset password, their API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate, UserUpdate
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.common import ROLE_LABELS, _clock, _db, _error_page, _format_time, _text

router = APIRouter(include_in_schema=False)

ROLE_OPTIONS = [(role.value, ROLE_LABELS[role]) for role in Role]
CREATE_INPUTS = ("email", "name", "role", "password", "organisation")


def _optional(value: str) -> str | None:
    return value.strip() or None


async def _users_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        found = await auth_service.list_users(
            session=session, caller=caller, page=PageRequest(page, MAX_PER_PAGE)
        )
    return render_admin(
        request,
        "admin/users.html",
        {
            "users": found.items,
            "total": found.total,
            "page": page,
            "more": found.total > page * MAX_PER_PAGE,
            "role_options": ROLE_OPTIONS,
            "role_labels": {role.value: label for role, label in ROLE_LABELS.items()},
        },
        caller=caller,
        errors=errors,
        values=values or {"role": Role.END_USER.value},
    )


@router.get("/admin/users")
async def users_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _users_page(request, caller)


@router.post("/admin/users")
async def create_user(request: Request) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in CREATE_INPUTS}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                UserCreate,
                {
                    "email": values["email"],
                    "name": _optional(values["name"]),
                    "role": values["role"],
                    "password": values["password"] or None,
                    "organisation": _optional(values["organisation"]),
                },
            )
            user = await auth_service.create_user(
                session=session, data=data, now=_clock(request).now(), caller=caller
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, f"User {user.email} created.", f"/admin/users/{user.id}")
    values.pop("password")
    return await _users_page(request, caller, errors=errors, values=values)


async def _user_page(
    request: Request,
    caller: Caller,
    user_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    new_token: str | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            user = await auth_service.get_user(session=session, user_id=user_id)
        except NotFound:
            return _missing(request, caller)
        tokens = await auth_service.list_tokens(session=session, user_id=user_id)
    return render_admin(
        request,
        "admin/user.html",
        {
            "user": user,
            "created": _format_time(user.created_at),
            "tokens": [
                {
                    "id": token.id,
                    "name": token.name,
                    "created": _format_time(token.created_at),
                    "revoked": _format_time(token.revoked_at) if token.revoked_at else None,
                }
                for token in tokens
            ],
            "new_token": new_token,
            "role_options": ROLE_OPTIONS,
            "role_label": ROLE_LABELS[Role(user.role)],
            "is_self": user.id == caller.user_id,
        },
        caller=caller,
        errors=errors,
        values=values or _user_values(user),
    )


def _user_values(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "organisation": user.organisation or ""}


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="No such user", message="No such user."
    )


@router.get("/admin/users/{user_id}")
async def user_page(request: Request, user_id: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _user_page(request, caller, user_id)


async def _update(
    request: Request, user_id: str, changes: dict[str, Any], message: str
) -> Response:
    """Apply ``changes`` (form input → value) through the users service, as the API does."""
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(UserUpdate, changes)
            user = await auth_service.update_user(
                session=session,
                caller=caller,
                user_id=user_id,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound:
            return _missing(request, caller)
        except OpsdeskError as exc:
            errors = errors_of(exc, {"role": "role" if "role" in changes else "form"})
        else:
            return done(request, message.format(user=user.email), f"/admin/users/{user_id}")
    values = {key: value for key, value in changes.items() if key != "password"}
    return await _user_page(request, caller, user_id, errors=errors, values=values or None)


@router.post("/admin/users/{user_id}")
async def update_user(request: Request, user_id: str) -> Response:
    form = await request.form()
    changes = {
        "name": _text(form, "name"),
        "role": _text(form, "role"),
        "organisation": _text(form, "organisation"),
    }
    return await _update(request, user_id, changes, "Saved {user}.")


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate_user(request: Request, user_id: str) -> Response:
    return await _update(
        request, user_id, {"active": False}, "{user} is deactivated and signed out everywhere."
    )


@router.post("/admin/users/{user_id}/activate")
async def activate_user(request: Request, user_id: str) -> Response:
    return await _update(request, user_id, {"active": True}, "{user} is active again.")


@router.post("/admin/users/{user_id}/password")
async def reset_password(request: Request, user_id: str) -> Response:
    form = await request.form()
    return await _update(
        request,
        user_id,
        {"password": _text(form, "password")},
        "New password set for {user}; their sessions were ended.",
    )


@router.post("/admin/users/{user_id}/tokens")
async def create_token(request: Request, user_id: str) -> Response:
    form = await request.form()
    name = _text(form, "token_name").strip()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        if not 1 <= len(name) <= 100:
            errors = {"token_name": "Give the token a name of 1 to 100 characters."}
        else:
            try:
                _row, token = await auth_service.create_token(
                    session=session, user_id=user_id, name=name, now=_clock(request).now()
                )
            except NotFound:
                return _missing(request, caller)
            except OpsdeskError as exc:
                errors = errors_of(exc, {"user_id": "token_name"})
            else:
                # Shown in this answer only, never redirected through the session cookie.
                return await _user_page(request, caller, user_id, new_token=token)
    return await _user_page(request, caller, user_id, errors=errors)


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, user_id: str, token_id: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        owned = await auth_service.list_tokens(session=session, user_id=user_id)
        if token_id not in {token.id for token in owned}:
            return _missing(request, caller)
        row = await auth_service.revoke_token(
            session=session, caller=caller, token_id=token_id, now=_clock(request).now()
        )
    return done(request, f"Token {row.name} revoked.", f"/admin/users/{user_id}")
