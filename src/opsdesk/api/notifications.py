"""Admin routes for mail templates, notification rules, webhook subscriptions and the
addresses notifications are not mailed to because they bounce."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from opsdesk.api.deps import ADMIN_ONLY, DB, ClockDep, CurrentCaller
from opsdesk.core.bounds import RowId
from opsdesk.notify import bounces, service
from opsdesk.notify.models import BOUNCING_ADDRESS_MAX
from opsdesk.notify.rules import RecipientKind
from opsdesk.notify.schemas import (
    BouncingAddressOut,
    RuleOut,
    RulesIn,
    RulesOut,
    TemplateIn,
    TemplateOut,
    WebhookCreate,
    WebhookOut,
)
from opsdesk.notify.templates import MailTemplate

router = APIRouter(prefix="/api/v1/admin", tags=["notifications"], dependencies=[ADMIN_ONLY])


def _rules_out(views: list[service.RuleView]) -> RulesOut:
    return RulesOut(
        rules=[RuleOut.model_validate(view) for view in views],
        recipient_kinds=[str(kind) for kind in RecipientKind],
    )


@router.get("/mail-templates", response_model=list[TemplateOut])
async def list_templates(caller: CurrentCaller, db: DB) -> list[TemplateOut]:
    async with db.read() as session:
        views = await service.list_templates(session=session, caller=caller)
    return [TemplateOut.model_validate(view) for view in views]


@router.get("/mail-templates/{event}", response_model=TemplateOut)
async def get_template(event: str, caller: CurrentCaller, db: DB) -> TemplateOut:
    async with db.read() as session:
        view = await service.get_template(session=session, caller=caller, event=event)
    return TemplateOut.model_validate(view)


@router.put("/mail-templates/{event}", response_model=TemplateOut)
async def put_template(
    event: str, body: TemplateIn, caller: CurrentCaller, db: DB, clock: ClockDep
) -> TemplateOut:
    template = MailTemplate(
        subject=body.subject, text_body=body.text_body, html_body=body.html_body
    )
    async with db.write() as session:
        view = await service.update_template(
            session=session, caller=caller, event=event, template=template, now=clock.now()
        )
    return TemplateOut.model_validate(view)


@router.delete("/mail-templates/{event}", response_model=TemplateOut)
async def reset_template(event: str, caller: CurrentCaller, db: DB) -> TemplateOut:
    async with db.write() as session:
        view = await service.reset_template(session=session, caller=caller, event=event)
    return TemplateOut.model_validate(view)


@router.get("/notification-rules", response_model=RulesOut)
async def get_rules(caller: CurrentCaller, db: DB) -> RulesOut:
    async with db.read() as session:
        views = await service.get_rules(session=session, caller=caller)
    return _rules_out(views)


@router.put("/notification-rules", response_model=RulesOut)
async def put_rules(body: RulesIn, caller: CurrentCaller, db: DB, clock: ClockDep) -> RulesOut:
    changes = [
        service.RuleChange(event=rule.event, recipients=rule.recipients, enabled=rule.enabled)
        for rule in body.rules
    ]
    async with db.write() as session:
        views = await service.set_rules(
            session=session, caller=caller, rules=changes, now=clock.now()
        )
    return _rules_out(views)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(caller: CurrentCaller, db: DB) -> list[WebhookOut]:
    async with db.read() as session:
        rows = await service.list_webhooks(session=session, caller=caller)
    return [WebhookOut.model_validate(row) for row in rows]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: RowId, caller: CurrentCaller, db: DB) -> WebhookOut:
    async with db.read() as session:
        row = await service.get_webhook(session=session, caller=caller, webhook_id=webhook_id)
    return WebhookOut.model_validate(row)


@router.post("/webhooks", status_code=201, response_model=WebhookOut)
async def create_webhook(
    body: WebhookCreate, caller: CurrentCaller, db: DB, clock: ClockDep, response: Response
) -> WebhookOut:
    async with db.write() as session:
        row = await service.create_webhook(
            session=session,
            caller=caller,
            url=body.url,
            events=body.events,
            secret=body.secret,
            description=body.description,
            active=body.active,
            now=clock.now(),
        )
        out = WebhookOut.model_validate(row)
    response.headers["Location"] = f"/api/v1/admin/webhooks/{out.id}"
    return out


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: RowId, caller: CurrentCaller, db: DB) -> Response:
    async with db.write() as session:
        await service.delete_webhook(session=session, caller=caller, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/bouncing-addresses", response_model=list[BouncingAddressOut])
async def list_bouncing_addresses(caller: CurrentCaller, db: DB) -> list[BouncingAddressOut]:
    """Addresses that bounced: notifications to them are skipped (and recorded as such)."""
    async with db.read() as session:
        rows = await bounces.list_bouncing(session=session, caller=caller)
    return [BouncingAddressOut.model_validate(row) for row in rows]


@router.delete("/bouncing-addresses/{address}", status_code=204)
async def clear_bouncing_address(
    address: Annotated[str, Path(min_length=1, max_length=BOUNCING_ADDRESS_MAX)],
    caller: CurrentCaller,
    db: DB,
) -> Response:
    """Forget an address's bounces: it gets notifications again."""
    async with db.write() as session:
        await bounces.clear_bouncing(session=session, caller=caller, address=address)
    return Response(status_code=204)
