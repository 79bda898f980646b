"""Status page admin (``/admin/status``): which applications the public page lists (name,
order, a state override), the stakeholder audiences, and the update message templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.reviews import status_audiences, status_page
from opsdesk.reviews.status_rules import (
    COMPONENT_LABELS,
    PLACEHOLDERS,
    STATE_LABELS,
    AudienceKind,
    UpdateState,
)
from opsdesk.reviews.status_schemas import AudienceIn, ComponentIn, StatusTemplateIn
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.common import _clock, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

PAGE = "/admin/status"


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


async def _page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        components = await status_page.list_components(session=session, caller=caller)
        audiences = await status_audiences.list_audiences(session=session, caller=caller)
        message_templates = await status_audiences.list_templates(session=session, caller=caller)
    return render_admin(
        request,
        "admin/status.html",
        {
            "components": components,
            "audiences": audiences,
            "message_templates": message_templates,
            "state_labels": STATE_LABELS,
            "overrides": [("", "Computed from incidents")]
            + [(state.value, label) for state, label in COMPONENT_LABELS.items()],
            "kinds": [(kind.value, kind.value.capitalize()) for kind in AudienceKind],
            "applications": [("", "Any")] + [(c.application, c.name) for c in components],
            "placeholders": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
        },
        caller=caller,
        errors=errors,
        values=values,
    )


@router.get(PAGE)
async def status_admin(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _page(request, caller)


@router.post("/admin/status/components/{application}")
async def save_component(request: Request, application: str) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await admin_for_post(request, session, form)
    if not isinstance(caller, Caller):
        return caller
    try:
        data = validated(
            ComponentIn,
            {
                "public": _text(form, "public") == "on",
                "display_name": _text(form, "display_name"),
                "override": _text(form, "override") or None,
                "sort_order": _text(form, "sort_order") or "100",
            },
        )
        async with _db(request).write() as session:
            view = await status_page.set_component(
                session=session,
                caller=caller,
                application=application[:64],
                data=data,
                now=_clock(request).now(),
            )
    except FormInvalid as exc:
        return await _page(request, caller, errors=exc.errors)
    except OpsdeskError as exc:
        return await _page(request, caller, errors=errors_of(exc))
    return done(request, f"{view.shown_name} saved.", PAGE + "#components")


def _audience_input(form: Any) -> dict[str, Any]:
    return {
        "name": _text(form, "name"),
        "kind": _text(form, "kind"),
        "application": _text(form, "application") or None,
        "emails": _lines(_text(form, "emails")),
        "user_ids": _lines(_text(form, "user_ids")),
        "active": _text(form, "active") == "on",
    }


@router.post("/admin/status/audiences")
async def add_audience(request: Request) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await admin_for_post(request, session, form)
    if not isinstance(caller, Caller):
        return caller
    values = {name: _text(form, name) for name in ("name", "kind", "application", "emails")}
    try:
        data = validated(AudienceIn, _audience_input(form) | {"active": True})
        async with _db(request).write() as session:
            audience = await status_audiences.create_audience(
                session=session, caller=caller, data=data, now=_clock(request).now()
            )
    except FormInvalid as exc:
        return await _page(request, caller, errors=exc.errors, values=values)
    except OpsdeskError as exc:
        names = {f"emails.{i}": "emails" for i in range(500)}
        return await _page(request, caller, errors=errors_of(exc, names), values=values)
    return done(request, f"Audience {audience.name} added.", PAGE + "#audiences")


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such audience."
    )


@router.get("/admin/status/audiences/{audience_id}")
async def audience_page(request: Request, audience_id: RowId) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        try:
            audience = await status_audiences.get_audience(
                session=session, caller=caller, audience_id=audience_id
            )
        except NotFound:
            return _missing(request, caller)
        components = await status_page.list_components(session=session, caller=caller)
    return render_admin(
        request,
        "admin/status_audience.html",
        {
            "audience": audience,
            "kinds": [(kind.value, kind.value.capitalize()) for kind in AudienceKind],
            "applications": [("", "Any")] + [(c.application, c.name) for c in components],
        },
        caller=caller,
        values={
            "name": audience.name,
            "kind": audience.kind,
            "application": audience.application or "",
            "emails": "\n".join(audience.emails),
            "user_ids": "\n".join(audience.user_ids),
            "active": audience.active,
        },
    )


@router.post("/admin/status/audiences/{audience_id}")
async def save_audience(request: Request, audience_id: RowId) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await admin_for_post(request, session, form)
    if not isinstance(caller, Caller):
        return caller
    try:
        data = validated(AudienceIn, _audience_input(form))
        async with _db(request).write() as session:
            audience = await status_audiences.update_audience(
                session=session,
                caller=caller,
                audience_id=audience_id,
                data=data,
                now=_clock(request).now(),
            )
    except NotFound:
        return _missing(request, caller)
    except (FormInvalid, OpsdeskError) as exc:
        errors = exc.errors if isinstance(exc, FormInvalid) else errors_of(exc)
        return await _page(request, caller, errors=errors)
    return done(request, f"Audience {audience.name} saved.", PAGE + "#audiences")


@router.post("/admin/status/audiences/{audience_id}/delete")
async def delete_audience(request: Request, audience_id: RowId) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await admin_for_post(request, session, form)
    if not isinstance(caller, Caller):
        return caller
    try:
        async with _db(request).write() as session:
            await status_audiences.delete_audience(
                session=session, caller=caller, audience_id=audience_id
            )
    except NotFound:
        return _missing(request, caller)
    return done(request, "Audience deleted.", PAGE + "#audiences")


@router.post("/admin/status/templates/{state}")
async def save_template(request: Request, state: str) -> Response:
    form = await request.form()
    async with _db(request).read() as session:
        caller = await admin_for_post(request, session, form)
    if not isinstance(caller, Caller):
        return caller
    try:
        if _text(form, "reset") == "on":
            async with _db(request).write() as session:
                await status_audiences.reset_template(
                    session=session, caller=caller, state=state[:32]
                )
            return done(request, "Template reset to the default.", PAGE + "#templates")
        data = StatusTemplateIn.model_validate(
            {name: _text(form, name) for name in ("subject", "body", "message")}
        )
        async with _db(request).write() as session:
            view = await status_audiences.update_template(
                session=session,
                caller=caller,
                state=state[:32],
                data=data,
                now=_clock(request).now(),
            )
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"]) if exc.errors() else ""
        message = f"{where or 'template'}: fill this in, within the allowed length"
        return await _page(request, caller, errors={"form": f"Template {state[:32]}: {message}."})
    except OpsdeskError as exc:
        return await _page(
            request, caller, errors={"form": f"Template {state[:32]}: {exc.message}"}
        )
    return done(
        request, f"Template for {STATE_LABELS[UpdateState(view.state)]} saved.", PAGE + "#templates"
    )
