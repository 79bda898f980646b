"""The access keys page for administrators: every user's AK/SK keys, create (the secret
shown once, on the answer page only) and revoke."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import access_keys
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.auth.secret_box import SecretBox
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import Settings
from opsdesk.web.common import (
    EMPTY,
    _clock,
    _db,
    _flash,
    _format_time,
    _redirect,
    _render,
    _text,
    admin_for_page,
    admin_for_post,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class KeyRow:
    id: str
    user: str
    name: str
    created: str
    last_used: str
    revoked: str
    active: bool


async def _page(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    *,
    created: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    # /admin/access-keys?user_id=… (linked from a user's admin page) shows that user's keys.
    only_user = request.query_params.get("user_id") or None
    keys = await access_keys.list_access_keys(session=session, user_id=only_user)
    owners = await access_keys.owners_of(session=session, user_ids={k.user_id for k in keys})
    rows = [
        KeyRow(
            id=key.id,
            user=owners.get(key.user_id, key.user_id),
            name=key.name,
            created=_format_time(key.created_at),
            last_used=_format_time(key.last_used_at) if key.last_used_at else "never",
            revoked=_format_time(key.revoked_at) if key.revoked_at else EMPTY,
            active=key.revoked_at is None,
        )
        for key in keys
    ]
    response = _render(
        request,
        "access_keys.html",
        {"rows": rows, "created": created, "error": error},
        caller=caller,
        status_code=status_code,
    )
    if created is not None:  # the secret is on this page only: no cache may keep it
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin/access-keys")
async def access_keys_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        return await _page(request, session, caller)


@router.post("/admin/access-keys")
async def create_access_key(request: Request) -> Response:
    form = await request.form()
    settings: Settings = request.app.state.settings
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        email = _text(form, "email").strip()
        name = _text(form, "name").strip() or "web"
        if len(name) > 100:
            return await _page(
                request, session, caller, error="name: at most 100 characters", status_code=422
            )
        try:
            user = await auth_service.get_user_by_email(session=session, email=email)
            row, secret = await access_keys.create_access_key(
                session=session,
                user_id=user.id,
                name=name,
                now=_clock(request).now(),
                box=SecretBox(settings.resolved_secret_key()),
            )
        except OpsdeskError as exc:
            return await _page(request, session, caller, error=exc.message, status_code=422)
        created = {"id": row.id, "secret": secret, "email": user.email, "name": row.name}
        return await _page(request, session, caller, created=created)


@router.post("/admin/access-keys/{access_key_id}/revoke")
async def revoke_access_key(request: Request, access_key_id: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await access_keys.revoke_access_key(
                session=session,
                caller=caller,
                access_key_id=access_key_id,
                now=_clock(request).now(),
            )
        except OpsdeskError as exc:
            _flash(request, f"Not revoked: {exc.message}", kind="error")
            return _redirect("/admin/access-keys")
    _flash(request, f"Access key {access_key_id} is revoked.")
    return _redirect("/admin/access-keys")
