"""Alert pages: alert groups and their alerts for staff, integrations for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.alerts import integrations as integration_service
from opsdesk.alerts import queries
from opsdesk.alerts.service import KINDS
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.web.common import (
    _caller,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _flash,
    _redirect,
    _render,
    _text,
    _to_login,
)

router = APIRouter(include_in_schema=False)
PER_PAGE = 100


def _refused(request: Request, caller: Caller, who: str) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title=f"{who} only",
        message=f"This page is for {who.lower()}.",
    )


@router.get("/alerts")
async def alerts_page(request: Request) -> Response:
    show_all = request.query_params.get("all") == "1"
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.is_staff:
            return _refused(request, caller, "Staff")
        groups = await queries.list_groups(session=session, open_only=not show_all, limit=PER_PAGE)
    return _render(request, "alerts.html", {"groups": groups, "show_all": show_all}, caller=caller)


@router.get("/alerts/{group_id}")
async def alert_group_page(request: Request, group_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.is_staff:
            return _refused(request, caller, "Staff")
        try:
            group = await queries.get_group(session=session, group_id=group_id)
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Alert group not found",
                message=f"There is no alert group {group_id}.",
            )
        alerts = await queries.alerts_of(session=session, group_id=group_id)
    return _render(request, "alert_group.html", {"group": group, "alerts": alerts}, caller=caller)


@router.get("/admin/integrations")
async def integrations_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.can(Role.ADMIN):
            return _refused(request, caller, "Administrators")
        rows = await integration_service.list_integrations(session=session)
        rules = {
            row.id: await integration_service.list_rules(session=session, integration_id=row.id)
            for row in rows
        }
    new_key = request.session.pop("new_integration_key", None)
    return _render(
        request,
        "integrations.html",
        {"integrations": rows, "rules": rules, "kinds": KINDS, "new_key": new_key},
        caller=caller,
    )


@router.post("/admin/integrations")
async def create_integration(request: Request) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not _csrf_ok(request, form):
            return _csrf_failed(request, caller)
        if not caller.can(Role.ADMIN):
            return _refused(request, caller, "Administrators")
        try:
            row, key = await integration_service.create_integration(
                session=session,
                name=_text(form, "name"),
                kind=_text(form, "kind"),
                acting_user_id=caller.user_id,
                now=_clock(request).now(),
            )
        except OpsdeskError as exc:
            _flash(request, f"The integration was not created: {exc.message}", kind="error")
            return _redirect("/admin/integrations")
        _flash(request, f"Integration {row.name!r} created.")
        # Shown once on the next page; only its hash is stored.
        request.session["new_integration_key"] = key
    return _redirect("/admin/integrations")


@router.post("/admin/integrations/{integration_id}/active")
async def toggle_integration(request: Request, integration_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not _csrf_ok(request, form):
            return _csrf_failed(request, caller)
        if not caller.can(Role.ADMIN):
            return _refused(request, caller, "Administrators")
        active = _text(form, "active") == "yes"
        try:
            row = await integration_service.update_integration(
                session=session, integration_id=integration_id, changes={"active": active}
            )
        except OpsdeskError as exc:
            _flash(request, exc.message, kind="error")
            return _redirect("/admin/integrations")
        state = "enabled" if active else "disabled"
        _flash(request, f"Integration {row.name!r} {state}.")
    return _redirect("/admin/integrations")
