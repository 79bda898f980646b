"""Routes for administrators: every inbound mail with its outcome, its raw bytes, process again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from opsdesk.api.deps import DB, STAFF_ONLY, ClockDep, CurrentCaller
from opsdesk.core.bounds import MAX_PAGE, RowId
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.core.settings import Settings
from opsdesk.intake.email import queries, service
from opsdesk.intake.email.outcomes import MailRules, MailStatus, Outcome

# Staff only, checked before the query or body is validated (the service narrows further).
router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[STAFF_ONLY])


class InboundMailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str = Field(description="The Message-ID, or sha256:<hex> of a mail without one")
    door: str = Field(description="smtp, imap or pipe")
    sender: str
    subject: str
    size: int
    received_at: datetime
    status: str = Field(description="pending, done, held or failed")
    outcome: str | None = Field(
        description="created, threaded, reopened, linked, ignored_auto_reply, ignored_own, "
        "bounce, held_rate_limit, refused, failed_parse or failed"
    )
    reason: str = Field(description="Why: the rule that matched, the refusal, the error")
    attempts: int
    processed_at: datetime | None
    incident_number: str | None
    related_number: str | None = Field(description="A closed incident this mail followed up")
    envelope_from: str
    envelope_to: str


class InboundMailPage(BaseModel):
    items: list[InboundMailOut]
    total: int
    page: int
    per_page: int


def _rules(request: Request) -> MailRules:
    settings: Settings = request.app.state.settings
    return MailRules.from_settings(settings)


@router.get("/inbound-mails", response_model=InboundMailPage)
async def list_inbound_mails(
    caller: CurrentCaller,
    db: DB,
    status: MailStatus | None = None,
    outcome: Outcome | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> InboundMailPage:
    """Each inbound mail, newest first, with what became of it (administrators only)."""
    async with db.read() as session:
        found = await queries.list_inbound_mails(
            session,
            caller=caller,
            status=None if status is None else status.value,
            outcome=None if outcome is None else outcome.value,
            page=PageRequest(page=page, per_page=per_page),
        )
    return InboundMailPage(
        items=[InboundMailOut.model_validate(mail) for mail in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


incident_router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@incident_router.get("/{number}/mails", response_model=list[InboundMailOut])
async def mails_of_incident(number: str, caller: CurrentCaller, db: DB) -> list[InboundMailOut]:
    """The mails that created or answered this incident (staff); each has a raw download at
    ``/api/v1/admin/inbound-mails/{id}/raw``."""
    async with db.read() as session:
        rows = await queries.mails_of_incident(session, caller=caller, number=number)
        return [InboundMailOut.model_validate(mail) for mail in rows]


@router.get("/inbound-mails/{mail_id}", response_model=InboundMailOut)
async def get_inbound_mail(mail_id: RowId, caller: CurrentCaller, db: DB) -> InboundMailOut:
    async with db.read() as session:
        mail = await queries.get_inbound_mail(session, caller=caller, mail_id=mail_id)
        return InboundMailOut.model_validate(mail)


@router.get("/inbound-mails/{mail_id}/raw", response_class=Response)
async def get_raw_mail(mail_id: RowId, caller: CurrentCaller, db: DB) -> Response:
    """The mail exactly as received (message/rfc822), as a download; for all staff."""
    async with db.read() as session:
        raw = await queries.get_raw_mail(session, caller=caller, mail_id=mail_id)
    return Response(
        content=raw,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="inbound-mail-{mail_id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/inbound-mails/{mail_id}/process", response_model=InboundMailOut)
async def process_again(
    mail_id: RowId, request: Request, caller: CurrentCaller, db: DB, clock: ClockDep
) -> InboundMailOut:
    """Process a held or failed mail again (the sender rate limit does not apply)."""
    async with db.write() as session:
        mail = await service.process_again(
            session, caller=caller, mail_id=mail_id, rules=_rules(request), now=clock.now()
        )
        return InboundMailOut.model_validate(mail)
