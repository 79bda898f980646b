"""The inbound mail page for administrators: each mail's outcome, its incident, process again."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.pagination import PageRequest
from opsdesk.core.settings import Settings
from opsdesk.intake.email import queries, service
from opsdesk.intake.email.outcomes import OUTCOME_LABELS, MailRules, MailStatus, Outcome
from opsdesk.web.common import (
    EMPTY,
    FlashKind,
    _clock,
    _db,
    _flash,
    _format_time,
    _redirect,
    _render,
    admin_for_page,
    admin_for_post,
)

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
FILTERS = {"all": None, "held": MailStatus.HELD, "failed": MailStatus.FAILED}
FILTER_LABELS = {"all": "All", "held": "Held", "failed": "Failed"}
# Processing again ran, but the mail may still have been set aside or have failed; any other
# outcome (an incident created, threaded, reopened or linked) is a success.
OUTCOME_FLASH_KINDS: dict[Outcome, FlashKind] = {
    Outcome.IGNORED_AUTO_REPLY: "info",
    Outcome.IGNORED_OWN: "info",
    Outcome.BOUNCE: "info",
    Outcome.HELD_RATE_LIMIT: "warning",
    Outcome.REFUSED: "warning",
    Outcome.FAILED_PARSE: "warning",
    Outcome.FAILED: "warning",
}


@dataclass(frozen=True)
class MailRow:
    id: int
    received: str
    door: str
    sender: str
    subject: str
    outcome: str
    outcome_key: str
    reason: str
    incident_number: str | None
    related_number: str | None
    can_process: bool


@router.get("/admin/inbound-mail")
async def inbound_mail_page(request: Request) -> Response:
    shown = request.query_params.get("show", "all")
    if shown not in FILTERS:
        shown = "all"
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        status = FILTERS[shown]
        found = await queries.list_inbound_mails(
            session,
            caller=caller,
            status=None if status is None else status.value,
            page=PageRequest(page=page, per_page=PER_PAGE),
        )
    rows = [
        MailRow(
            id=mail.id,
            received=_format_time(mail.received_at),
            door=mail.door,
            sender=mail.sender or mail.envelope_from or EMPTY,
            subject=mail.subject or EMPTY,
            outcome=(
                OUTCOME_LABELS[Outcome(mail.outcome)] if mail.outcome else "Waiting to be processed"
            ),
            outcome_key=mail.outcome or "pending",
            reason=mail.reason or EMPTY,
            incident_number=mail.incident_number,
            related_number=mail.related_number,
            can_process=mail.status in (MailStatus.HELD, MailStatus.FAILED),
        )
        for mail in found.items
    ]

    def url(**params: object) -> str:
        return "/admin/inbound-mail?" + urlencode(params)

    return _render(
        request,
        "inbound_mail.html",
        {
            "shown": shown,
            "tabs": [
                {"key": key, "label": FILTER_LABELS[key], "url": url(show=key)} for key in FILTERS
            ],
            "rows": rows,
            "total": found.total,
            "page": page,
            "previous_url": url(show=shown, page=page - 1) if page > 1 else None,
            "next_url": url(show=shown, page=page + 1) if page * PER_PAGE < found.total else None,
        },
        caller=caller,
    )


@router.post("/admin/inbound-mail/{mail_id}/process")
async def process_again(request: Request, mail_id: int) -> Response:
    form = await request.form()
    settings: Settings = request.app.state.settings
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            mail = await service.process_again(
                session,
                caller=caller,
                mail_id=mail_id,
                rules=MailRules.from_settings(settings),
                now=_clock(request).now(),
            )
        except OpsdeskError as exc:
            _flash(request, f"Mail {mail_id} was not processed: {exc.message}", kind="error")
            return _redirect("/admin/inbound-mail")
        outcome = OUTCOME_LABELS[Outcome(mail.outcome)] if mail.outcome else mail.status
        message = f"Mail {mail.id} processed again: {outcome}."
        kind: FlashKind = (
            OUTCOME_FLASH_KINDS.get(Outcome(mail.outcome), "success") if mail.outcome else "info"
        )
    _flash(request, message, kind=kind)
    return _redirect("/admin/inbound-mail")
