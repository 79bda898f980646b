"""Posting a stakeholder update: publish it on the status page, mail one message per
recipient of the chosen audiences through the outbox (in the same transaction), and read the
posted updates back.

Posting reads the incident through ``access_incident`` (staff only) and writes only this
feature's tables, one internal history row on the incident and the outbox's mail jobs.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents import access
from opsdesk.incidents import history as incident_history
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.models import Incident
from opsdesk.notify import bounces
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail, mail_domain
from opsdesk.reviews import status_audiences, status_page
from opsdesk.reviews.status_models import StatusAudience, StatusIncident, StatusUpdate
from opsdesk.reviews.status_rules import (
    STATE_LABELS,
    AudienceKind,
    UpdateState,
    check_transition,
    fill,
    impact_of,
)
from opsdesk.reviews.status_schemas import StatusUpdateCreate

MAIL_MAX_ATTEMPTS = 8
STATUS_MAIL_EVENT = "status_update"


# Posting an update ----------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateView:
    id: int
    incident: str
    public_id: str
    state: UpdateState
    title: str
    message: str
    is_public: bool
    audience_ids: list[int]
    recipient_count: int
    posted_by: str
    posted_at: datetime


def _view(update: StatusUpdate, number: str, public_id: str) -> UpdateView:
    return UpdateView(
        id=update.id,
        incident=number,
        public_id=public_id,
        state=UpdateState(update.state),
        title=update.title,
        message=update.message,
        is_public=update.is_public,
        audience_ids=list(update.audience_ids),
        recipient_count=update.recipient_count,
        posted_by=update.posted_by,
        posted_at=update.posted_at,
    )


async def _audiences_of(session: AsyncSession, ids: Sequence[int]) -> list[StatusAudience]:
    found = {
        row.id: row
        for row in await session.scalars(select(StatusAudience).where(StatusAudience.id.in_(ids)))
    }
    chosen = []
    for index, audience_id in enumerate(ids):
        audience = found.get(audience_id)
        if audience is None or not audience.active:
            raise ValidationFailed(
                f"audience_ids.{index}: no active audience {audience_id}",
                field=f"audience_ids.{index}",
            )
        if audience not in chosen:
            chosen.append(audience)
    return chosen


async def _addresses(session: AsyncSession, audiences: Sequence[StatusAudience]) -> dict[str, bool]:
    """Each address once, in audience order (listed addresses, then active users'), and
    whether it is only an internal stakeholder's: an address that is also a customer's is
    mailed as a customer."""
    user_ids = {user_id for audience in audiences for user_id in audience.user_ids}
    users = {
        user.id: user
        for user in await session.scalars(select(User).where(User.id.in_(user_ids)))
        if user.active and user.email
    }
    found: dict[str, bool] = {}
    for audience in audiences:
        internal = audience.kind == AudienceKind.INTERNAL.value
        for address in [
            *audience.emails,
            *(users[u].email for u in audience.user_ids if u in users),
        ]:
            address = address.strip().lower()
            if address:
                found[address] = found.get(address, True) and internal
    return found


async def _new_public_id(session: AsyncSession) -> str:
    while True:
        candidate = secrets.token_hex(6)
        taken = await session.scalar(
            select(StatusIncident.id).where(StatusIncident.public_id == candidate)
        )
        if taken is None:
            return candidate


async def post_update(
    *,
    session: AsyncSession,
    caller: Caller,
    data: StatusUpdateCreate,
    now: datetime,
    settings: Settings | None = None,
) -> UpdateView:
    """Post an update on an incident: publish it (unless not public), mail one message per
    recipient of the chosen audiences through the outbox, and record it in the history."""
    auth.require_role(caller, Role.TECHNICIAN)
    settings = settings or get_settings()
    incident = await access.access_incident(
        session=session, caller=caller, number=data.incident, for_update=True
    )
    communicated = await session.scalar(
        select(StatusIncident).where(StatusIncident.incident_id == incident.id)
    )
    previous = UpdateState(communicated.state) if communicated is not None else None
    refused = check_transition(previous, data.state)
    if refused is not None:
        raise ValidationFailed(f"state: {refused}", field="state")
    title = (data.title or "").strip() or (communicated.title if communicated else "")
    if not title:
        raise ValidationFailed(
            "title: the first update needs a public title (the incident's own title is "
            "never published by itself)",
            field="title",
        )
    application = (
        data.application
        or (communicated.application if communicated is not None else None)
        or incident.application
    )
    await status_audiences.check_application(session, data.application, "application")
    audiences = await _audiences_of(session, data.audience_ids)
    if not data.is_public and not audiences:
        raise ValidationFailed(
            "audience_ids: an update that is not public must be mailed to an audience",
            field="audience_ids",
        )
    impact = impact_of(incident.level, incident.service_interrupted).value
    if communicated is None:
        communicated = StatusIncident(
            incident_id=incident.id,
            public_id=await _new_public_id(session),
            title=title,
            application=application,
            impact=impact,
            state=data.state.value,
            public=data.is_public,
            started_at=now,
            updated_at=now,
        )
        session.add(communicated)
    else:
        communicated.title = title
        communicated.application = application
        communicated.impact = impact
        communicated.state = data.state.value
        communicated.public = communicated.public or data.is_public
        communicated.updated_at = now
    communicated.resolved_at = now if data.state is UpdateState.RESOLVED else None
    await session.flush()
    addresses = await _addresses(session, audiences)
    update = StatusUpdate(
        status_incident_id=communicated.id,
        incident_id=incident.id,
        state=data.state.value,
        title=title,
        message=data.message.replace("\r\n", "\n").strip(),
        is_public=data.is_public,
        audience_ids=[audience.id for audience in audiences],
        recipient_count=len(addresses),
        posted_by=caller.user_id,
        posted_at=now,
    )
    session.add(update)
    await session.flush()
    skipped = await _queue_mails(
        session,
        update=update,
        communicated=communicated,
        number=incident.number,
        addresses=addresses,
        now=now,
        settings=settings,
    )
    where = "public" if data.is_public else "not public"
    mailed = f"mailed to {len(addresses)} recipient{'' if len(addresses) == 1 else 's'}"
    if audiences:
        mailed += " of " + ", ".join(audience.name for audience in audiences)
    if skipped:
        mailed += f"; {skipped} not mailed: the address bounces"
    session.add(
        incident_history.record_history(
            incident=incident,
            action=HistoryAction.STATUS_UPDATE,
            operator_id=caller.user_id,
            now=now,
            comment=f"Status update posted: {data.state.value} ({where}; {mailed}): {title}",
            internal=True,
        )
    )
    await session.flush()
    return _view(update, incident.number, communicated.public_id)


async def _queue_mails(
    session: AsyncSession,
    *,
    update: StatusUpdate,
    communicated: StatusIncident,
    number: str,
    addresses: Mapping[str, bool],
    now: datetime,
    settings: Settings,
) -> int:
    """One message per recipient: nobody sees another recipient's address. Internal
    stakeholders' mails also name the incident number (subject and last line), so that they
    can find the incident; customers' never do, like the public page. Returns how many
    recipients were skipped because their address bounces."""
    if not addresses:
        return 0
    template = await status_audiences.effective_template(session, UpdateState(update.state))
    base = settings.public_url.rstrip("/")
    values = {
        "title": update.title,
        "application": await status_page.application_name(session, communicated.application)
        or "our services",
        "state": STATE_LABELS[UpdateState(update.state)],
        "message": update.message,
        "status_url": f"{base}/status/incidents/{communicated.public_id}",
    }
    subject = " ".join(fill(template.subject, values).split())
    text = fill(template.body, values)
    # Not the ``[#NUMBER]`` tag of incident mails: a reply to a status mail must not become
    # a conversation on the incident.
    versions = {
        False: (subject[:300], text),
        True: (f"Incident {number}: {subject}"[:300], f"{text.rstrip()}\n\nIncident: {number}"),
    }
    domain = mail_domain(settings.mail_from)
    root = f"<status-{communicated.public_id}@{domain}>"
    mails = []
    for address, internal in addresses.items():
        mail_subject, mail_text = versions[internal]
        html = "".join(
            f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in mail_text.split("\n\n")
        )
        mails.append(
            OutgoingMail(
                message_id=f"<status-{communicated.public_id}.{update.id}.{uuid.uuid4().hex}@{domain}>",
                sender=settings.mail_from,
                to=address,
                to_name="",
                subject=mail_subject,
                text=mail_text,
                html=html,
                date=now.isoformat(),
                in_reply_to=root,
                references=[root],
                event=STATUS_MAIL_EVENT,
            )
        )
    # An address that bounces is left out, its mail recorded as skipped; the others go.
    kept = await bounces.without_bouncing(session, mails, now=now)
    new_jobs = [
        jobs.NewJob(
            kind=MAIL_JOB,
            payload=mail.to_payload(),
            dedupe_key=f"mail:status:{update.id}:{mail.to}"[:200],
            max_attempts=MAIL_MAX_ATTEMPTS,
        )
        for mail in kept
    ]
    await jobs.enqueue_many(session, new_jobs=new_jobs, now=now)
    return len(mails) - len(kept)


async def prefill(*, session: AsyncSession, incident: Incident, state: UpdateState) -> str:
    """The public text the composer starts from for ``state``."""
    template = await status_audiences.effective_template(session, state)
    communicated = await session.scalar(
        select(StatusIncident).where(StatusIncident.incident_id == incident.id)
    )
    key = communicated.application if communicated is not None else incident.application
    values = {
        "title": communicated.title if communicated is not None else "",
        "application": await status_page.application_name(session, key) or "our services",
        "state": STATE_LABELS[state],
    }
    return fill(template.message, values)


async def list_updates(
    *,
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    incident: str | None = None,
    application: str | None = None,
) -> Page[UpdateView]:
    """Posted updates, newest first (staff), optionally of one incident or application."""
    auth.require_role(caller, Role.TECHNICIAN)
    query = (
        select(StatusUpdate, Incident.number, StatusIncident.public_id)
        .join(Incident, Incident.id == StatusUpdate.incident_id)
        .join(StatusIncident, StatusIncident.id == StatusUpdate.status_incident_id)
    )
    if incident is not None:
        query = query.where(Incident.number == incident)
    if application is not None:
        query = query.where(StatusIncident.application == application)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    items = [_view(update, number, public_id) for update, number, public_id in rows]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


async def get_update(*, session: AsyncSession, caller: Caller, update_id: int) -> UpdateView:
    auth.require_role(caller, Role.TECHNICIAN)
    row = (
        await session.execute(
            select(StatusUpdate, Incident.number, StatusIncident.public_id)
            .join(Incident, Incident.id == StatusUpdate.incident_id)
            .join(StatusIncident, StatusIncident.id == StatusUpdate.status_incident_id)
            .where(StatusUpdate.id == update_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no status update {update_id}", field="update_id")
    update, number, public_id = row
    return _view(update, number, public_id)


async def updates_of_incident(session: AsyncSession, incident_id: int) -> list[StatusUpdate]:
    """An incident's posted updates, newest first (the incident page's section)."""
    return list(
        await session.scalars(
            select(StatusUpdate)
            .where(StatusUpdate.incident_id == incident_id)
            .order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
        )
    )


async def status_incident_of(session: AsyncSession, incident_id: int) -> StatusIncident | None:
    return await session.scalar(
        select(StatusIncident).where(StatusIncident.incident_id == incident_id)
    )


async def last_status_update_at(session: AsyncSession, incident_id: int) -> datetime | None:
    """When the last stakeholder update of the incident was posted (None: never); for the
    major-incident reminder to post updates."""
    value: datetime | None = await session.scalar(
        select(func.max(StatusUpdate.posted_at)).where(StatusUpdate.incident_id == incident_id)
    )
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
