"""Notification admin pages: who hears of what, mail templates with a live preview, webhooks,
and the addresses that bounce (with the mails not sent to them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.notify import admin as notify_admin
from opsdesk.notify import bounces
from opsdesk.notify import service as notify_service
from opsdesk.notify.rules import RecipientKind
from opsdesk.notify.templates import EVENT_LABELS, MailTemplate, RenderedMail
from opsdesk.web.admin.base import (
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
)
from opsdesk.web.common import _clock, _db, _error_page, _format_time, _text

router = APIRouter(include_in_schema=False)

RECIPIENT_LABELS = {
    RecipientKind.REPORTER: "Reporter",
    RecipientKind.ASSIGNEE: "Assignee",
    RecipientKind.GROUP: "Workgroup members",
    RecipientKind.WATCHERS: "Watchers",
    RecipientKind.MANAGER: "Incident managers",
}
TEMPLATE_PARTS = ("subject", "text_body", "html_body")


def _missing(request: Request, caller: Caller, what: str) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message=f"No such {what}."
    )


async def _page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        rules = await notify_service.get_rules(session=session, caller=caller)
        templates = await notify_service.list_templates(session=session, caller=caller)
        webhooks = await notify_service.list_webhooks(session=session, caller=caller)
        bouncing = await bounces.list_bouncing(session=session, caller=caller)
        skipped = await bounces.skipped_mails(session=session, caller=caller)
    return render_admin(
        request,
        "admin/notifications.html",
        {
            "rules": rules,
            "kinds": list(RECIPIENT_LABELS.items()),
            "event_labels": EVENT_LABELS,
            "templates": templates,
            "webhooks": webhooks,
            "webhook_events": [
                ("*", "Every event"),
                *((e, e) for e in notify_service.WEBHOOK_EVENTS),
            ],
            "bouncing": [
                {
                    "address": row.address,
                    "bounces": row.bounces,
                    "last_at": _format_time(row.last_at),
                    "last_status": row.last_status,
                }
                for row in bouncing
            ],
            "skipped": [
                {
                    "at": _format_time(mail.at),
                    "to": mail.to,
                    "incident": mail.incident,
                    "event": EVENT_LABELS.get(mail.event, mail.event),
                    "reason": mail.reason,
                }
                for mail in skipped
            ],
        },
        caller=caller,
        errors=errors,
        values=values or {"events": ["*"]},
    )


@router.get("/admin/notifications")
async def notifications_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _page(request, caller)


@router.post("/admin/notifications/rules")
async def save_rules(request: Request) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        changes = [
            notify_service.RuleChange(
                event=event,
                recipients=[
                    kind.value
                    for kind in RECIPIENT_LABELS
                    if _text(form, f"{event}:{kind.value}") == "on"
                ],
                enabled=_text(form, f"{event}:enabled") == "on",
            )
            for event in EVENT_LABELS
        ]
        await notify_service.set_rules(
            session=session, caller=caller, rules=changes, now=_clock(request).now()
        )
    return done(request, "Notification rules saved.", "/admin/notifications")


@router.post("/admin/notifications/bouncing/clear")
async def clear_bouncing(request: Request) -> Response:
    form = await request.form()
    address = _text(form, "address")
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await bounces.clear_bouncing(session=session, caller=caller, address=address)
        except OpsdeskError as exc:
            return done(
                request,
                f"Not cleared: {exc.message}",
                "/admin/notifications#bouncing",
                kind="error",
            )
    message = f"{address.strip().lower()} gets notifications again."
    return done(request, message, "/admin/notifications#bouncing")


# Mail templates ---------------------------------------------------------------------------


async def _template_page(
    request: Request,
    caller: Caller,
    event: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    preview: RenderedMail | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            view = await notify_service.get_template(session=session, caller=caller, event=event)
        except OpsdeskError:
            return _missing(request, caller, "mail template")
    return render_admin(
        request,
        "admin/mail_template.html",
        {"template": view, "event_label": EVENT_LABELS[event], "preview": preview},
        caller=caller,
        errors=errors,
        values=values or {part: getattr(view, part) for part in TEMPLATE_PARTS},
    )


@router.get("/admin/mail-templates/{event}")
async def template_page(request: Request, event: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _template_page(request, caller, event)


@router.post("/admin/mail-templates/{event}")
async def save_template(request: Request, event: str) -> Response:
    """Save the template, or (the Preview button) render it on a real incident unsaved."""
    form = await request.form()
    values = {name: _text(form, name) for name in (*TEMPLATE_PARTS, "number")}
    template = MailTemplate(
        subject=values["subject"], text_body=values["text_body"], html_body=values["html_body"]
    )
    previewing = _text(form, "action") == "preview"
    preview = None
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        if event not in EVENT_LABELS:
            return _missing(request, caller, "mail template")
        try:
            if previewing:
                preview = await notify_admin.preview_template(
                    session=session,
                    caller=caller,
                    event=event,
                    template=template,
                    number=values["number"],
                    settings=request.app.state.settings,
                )
            else:
                await notify_service.update_template(
                    session=session,
                    caller=caller,
                    event=event,
                    template=template,
                    now=_clock(request).now(),
                )
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            errors = {}
            if not previewing:
                return done(request, "Mail template saved.", f"/admin/mail-templates/{event}")
    return await _template_page(
        request, caller, event, errors=errors, values=values, preview=preview
    )


@router.post("/admin/mail-templates/{event}/reset")
async def reset_template(request: Request, event: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await notify_service.reset_template(session=session, caller=caller, event=event)
        except OpsdeskError:
            return _missing(request, caller, "mail template")
    return done(request, "Back to the shipped template.", f"/admin/mail-templates/{event}")


# Webhooks ---------------------------------------------------------------------------------


@router.post("/admin/webhooks")
async def create_webhook(request: Request) -> Response:
    form = await request.form()
    values: dict[str, Any] = {name: _text(form, name) for name in ("url", "description")}
    values["events"] = [value for value in form.getlist("events") if isinstance(value, str)]
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            row = await notify_service.create_webhook(
                session=session,
                caller=caller,
                url=values["url"].strip(),
                events=values["events"],
                secret=_text(form, "secret"),
                description=values["description"].strip(),
                now=_clock(request).now(),
            )
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Webhook added.", f"/admin/webhooks/{row.id}")
    return await _page(request, caller, errors=errors, values=values)


@router.get("/admin/webhooks/{webhook_id}")
async def webhook_page(request: Request, webhook_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        try:
            row = await notify_service.get_webhook(
                session=session, caller=caller, webhook_id=webhook_id
            )
        except NotFound:
            return _missing(request, caller, "webhook")
        deliveries = await notify_admin.webhook_deliveries(
            session=session, caller=caller, webhook_id=webhook_id
        )
    return render_admin(
        request,
        "admin/webhook.html",
        {
            "webhook": row,
            "created": _format_time(row.created_at),
            "deliveries": [
                {
                    "delivery_id": item.delivery_id,
                    "event": item.event,
                    "state": {"done": "Delivered", "dead": "Failed", "ready": "Waiting"}.get(
                        item.state, item.state.capitalize()
                    ),
                    "attempts": item.attempts,
                    "when": _format_time(item.finished_at or item.due_at),
                    "error": item.last_error or "",
                }
                for item in deliveries
            ],
        },
        caller=caller,
    )


@router.post("/admin/webhooks/{webhook_id}/test")
async def test_webhook(request: Request, webhook_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            delivery = await notify_admin.send_test_webhook(
                session=session, caller=caller, webhook_id=webhook_id, now=_clock(request).now()
            )
        except NotFound:
            return _missing(request, caller, "webhook")
    message = f"Test delivery {delivery} queued; the worker sends it within seconds."
    # Queued, not yet delivered: its outcome shows in the deliveries below.
    return done(request, message, f"/admin/webhooks/{webhook_id}", kind="info")


@router.post("/admin/webhooks/{webhook_id}/delete")
async def delete_webhook(request: Request, webhook_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await notify_service.delete_webhook(
                session=session, caller=caller, webhook_id=webhook_id
            )
        except NotFound:
            return _missing(request, caller, "webhook")
    return done(request, "Webhook deleted.", "/admin/notifications#webhooks")
