"""Stakeholder communication: audiences, message templates, status components, posting an
update (mailed through the outbox in the same transaction) and what the public page shows.

Posting reads the incident through ``access_incident`` (staff only) and writes only this
feature's tables, one internal history row on the incident and the outbox's mail jobs. The
public view reads only this feature's public tables and the public applications' names.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.catalog.models import Application
from opsdesk.core import jobs
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents import access
from opsdesk.incidents import history as incident_history
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.models import Incident
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail, mail_domain
from opsdesk.reviews.status_feed import Entry
from opsdesk.reviews.status_models import (
    StatusAudience,
    StatusComponent,
    StatusIncident,
    StatusTemplateRow,
    StatusUpdate,
)
from opsdesk.reviews.status_rules import (
    COMPONENT_LABELS,
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    STATE_LABELS,
    AudienceKind,
    ComponentState,
    MessageTemplate,
    UpdateState,
    check_transition,
    component_state,
    fill,
    impact_of,
    normal_email,
    unknown_placeholders,
)
from opsdesk.reviews.status_schemas import (
    AudienceIn,
    ComponentIn,
    StatusTemplateIn,
    StatusUpdateCreate,
)

PAST_DAYS = 90
MAIL_MAX_ATTEMPTS = 8
STATUS_MAIL_EVENT = "status_update"


# Audiences ------------------------------------------------------------------------------


async def _check_application(session: AsyncSession, key: str | None, field: str) -> None:
    if key is not None and await session.get(Application, key) is None:
        raise ValidationFailed(f"{field}: no application with key {key!r}", field=field)


async def _checked_audience(session: AsyncSession, data: AudienceIn) -> AudienceIn:
    emails: list[str] = []
    for index, value in enumerate(data.emails):
        address = normal_email(value)
        if address is None:
            raise ValidationFailed(
                f"emails.{index}: {value!r} is not an e-mail address", field=f"emails.{index}"
            )
        if address not in emails:
            emails.append(address)
    users = await session.scalars(select(User).where(User.id.in_(data.user_ids)))
    known = {user.id for user in users}
    for index, user_id in enumerate(data.user_ids):
        if user_id not in known:
            raise ValidationFailed(
                f"user_ids.{index}: no user with id {user_id!r}", field=f"user_ids.{index}"
            )
    await _check_application(session, data.application, "application")
    if not emails and not data.user_ids:
        raise ValidationFailed("emails: name at least one address or user", field="emails")
    return data.model_copy(
        update={"emails": emails, "user_ids": list(dict.fromkeys(data.user_ids))}
    )


async def list_audiences(*, session: AsyncSession, caller: Caller) -> list[StatusAudience]:
    auth.require_role(caller, Role.TECHNICIAN)
    return list(await session.scalars(select(StatusAudience).order_by(StatusAudience.name)))


async def get_audience(
    *, session: AsyncSession, caller: Caller, audience_id: int
) -> StatusAudience:
    auth.require_role(caller, Role.TECHNICIAN)
    audience = await session.get(StatusAudience, audience_id)
    if audience is None:
        raise NotFound(f"no audience {audience_id}", field="audience_id")
    return audience


async def _name_taken(session: AsyncSession, name: str, audience_id: int | None) -> None:
    other = await session.scalar(select(StatusAudience).where(StatusAudience.name == name))
    if other is not None and other.id != audience_id:
        raise Conflict(f"name: an audience named {name!r} exists", field="name")


async def create_audience(
    *, session: AsyncSession, caller: Caller, data: AudienceIn, now: datetime
) -> StatusAudience:
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    data = await _checked_audience(session, data)
    await _name_taken(session, data.name.strip(), None)
    audience = StatusAudience(
        name=data.name.strip(),
        kind=data.kind.value,
        application=data.application,
        emails=data.emails,
        user_ids=data.user_ids,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(audience)
    await session.flush()
    return audience


async def update_audience(
    *, session: AsyncSession, caller: Caller, audience_id: int, data: AudienceIn, now: datetime
) -> StatusAudience:
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    audience = await get_audience(session=session, caller=caller, audience_id=audience_id)
    data = await _checked_audience(session, data)
    await _name_taken(session, data.name.strip(), audience_id)
    audience.name = data.name.strip()
    audience.kind = data.kind.value
    audience.application = data.application
    audience.emails = data.emails
    audience.user_ids = data.user_ids
    audience.active = data.active
    audience.updated_at = now
    await session.flush()
    return audience


async def delete_audience(*, session: AsyncSession, caller: Caller, audience_id: int) -> None:
    """Posted updates keep the id they were mailed to; the audience itself goes."""
    auth.require_role(caller, Role.INCIDENT_MANAGER)
    audience = await get_audience(session=session, caller=caller, audience_id=audience_id)
    await session.delete(audience)
    await session.flush()


# Templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    state: UpdateState
    subject: str
    body: str
    message: str
    customized: bool


def _state(value: str, field: str = "state") -> UpdateState:
    try:
        return UpdateState(value)
    except ValueError:
        known = ", ".join(state.value for state in UpdateState)
        raise ValidationFailed(
            f"{field}: unknown state {value!r}; known: {known}", field=field
        ) from None


async def effective_template(session: AsyncSession, state: UpdateState) -> TemplateView:
    row = await session.get(StatusTemplateRow, state.value)
    if row is None:
        default = DEFAULT_TEMPLATES[state]
        return TemplateView(state, default.subject, default.body, default.message, False)
    return TemplateView(state, row.subject, row.body, row.message, True)


async def list_templates(*, session: AsyncSession, caller: Caller) -> list[TemplateView]:
    auth.require_role(caller, Role.TECHNICIAN)
    return [await effective_template(session, state) for state in UpdateState]


async def get_template(*, session: AsyncSession, caller: Caller, state: str) -> TemplateView:
    auth.require_role(caller, Role.TECHNICIAN)
    return await effective_template(session, _state(state))


async def update_template(
    *, session: AsyncSession, caller: Caller, state: str, data: StatusTemplateIn, now: datetime
) -> TemplateView:
    auth.require_role(caller, Role.ADMIN)
    chosen = _state(state)
    for name in ("subject", "body", "message"):
        unknown = unknown_placeholders(getattr(data, name))
        if unknown:
            raise ValidationFailed(
                f"{name}: unknown placeholder {{{unknown[0]}}}; known: "
                + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS),
                field=name,
            )
    if any(char in data.subject for char in "\r\n"):
        raise ValidationFailed("subject: must be one line", field="subject")
    row = await session.get(StatusTemplateRow, chosen.value)
    if row is None:
        row = StatusTemplateRow(state=chosen.value)
        session.add(row)
    row.subject = data.subject.strip()
    row.body = data.body.replace("\r\n", "\n")
    row.message = data.message.replace("\r\n", "\n")
    row.updated_at = now
    row.updated_by = caller.user_id
    await session.flush()
    return await effective_template(session, chosen)


async def reset_template(*, session: AsyncSession, caller: Caller, state: str) -> TemplateView:
    auth.require_role(caller, Role.ADMIN)
    chosen = _state(state)
    row = await session.get(StatusTemplateRow, chosen.value)
    if row is not None:
        await session.delete(row)
        await session.flush()
    return await effective_template(session, chosen)


# Components -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentView:
    application: str
    name: str
    public: bool
    display_name: str
    override: ComponentState | None
    sort_order: int
    state: ComponentState

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def state_label(self) -> str:
        return COMPONENT_LABELS[self.state]


async def _open_impacts(session: AsyncSession) -> dict[str, list[ComponentState]]:
    rows = await session.execute(
        select(StatusIncident.application, StatusIncident.impact).where(
            StatusIncident.public.is_(True),
            StatusIncident.state != UpdateState.RESOLVED.value,
            StatusIncident.application.is_not(None),
        )
    )
    impacts: dict[str, list[ComponentState]] = {}
    for application, impact in rows:
        impacts.setdefault(str(application), []).append(ComponentState(impact))
    return impacts


async def _components(session: AsyncSession, *, public_only: bool) -> list[ComponentView]:
    query = (
        select(Application, StatusComponent)
        .join(StatusComponent, StatusComponent.application == Application.key, isouter=True)
        .order_by(func.coalesce(StatusComponent.sort_order, 100), Application.name_en)
    )
    if public_only:
        query = query.where(StatusComponent.public.is_(True))
    impacts = await _open_impacts(session)
    views = []
    for application, component in await session.execute(query):
        override = (
            ComponentState(component.override)
            if component is not None and component.override
            else None
        )
        views.append(
            ComponentView(
                application=application.key,
                name=application.name_en,
                public=component is not None and component.public,
                display_name=component.display_name if component is not None else "",
                override=override,
                sort_order=component.sort_order if component is not None else 100,
                state=component_state(impacts.get(application.key, []), override),
            )
        )
    return views


async def list_components(*, session: AsyncSession, caller: Caller) -> list[ComponentView]:
    """Every application with its status-page settings and current state (staff)."""
    auth.require_role(caller, Role.TECHNICIAN)
    return await _components(session, public_only=False)


async def set_component(
    *, session: AsyncSession, caller: Caller, application: str, data: ComponentIn, now: datetime
) -> ComponentView:
    auth.require_role(caller, Role.ADMIN)
    if await session.get(Application, application) is None:
        raise NotFound(f"no application with key {application}", field="application")
    row = await session.get(StatusComponent, application)
    if row is None:
        row = StatusComponent(application=application)
        session.add(row)
    row.public = data.public
    row.display_name = data.display_name.strip()
    row.override = data.override.value if data.override is not None else None
    row.sort_order = data.sort_order
    row.updated_at = now
    await session.flush()
    return next(
        view
        for view in await _components(session, public_only=False)
        if view.application == application
    )


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


async def _addresses(session: AsyncSession, audiences: Sequence[StatusAudience]) -> list[str]:
    """Each address once, in audience order: listed addresses, then active users'."""
    user_ids = {user_id for audience in audiences for user_id in audience.user_ids}
    users = {
        user.id: user
        for user in await session.scalars(select(User).where(User.id.in_(user_ids)))
        if user.active and user.email
    }
    found: list[str] = []
    for audience in audiences:
        for address in [
            *audience.emails,
            *(users[u].email for u in audience.user_ids if u in users),
        ]:
            address = address.strip().lower()
            if address and address not in found:
                found.append(address)
    return found


async def _new_public_id(session: AsyncSession) -> str:
    while True:
        candidate = secrets.token_hex(6)
        taken = await session.scalar(
            select(StatusIncident.id).where(StatusIncident.public_id == candidate)
        )
        if taken is None:
            return candidate


async def application_name(session: AsyncSession, key: str | None) -> str:
    """The public name of an application: its component's display name, else its name."""
    if key is None:
        return ""
    component = await session.get(StatusComponent, key)
    if component is not None and component.display_name:
        return component.display_name
    application = await session.get(Application, key)
    return application.name_en if application is not None else key


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
    await _check_application(session, data.application, "application")
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
    await _queue_mails(
        session,
        update=update,
        communicated=communicated,
        addresses=addresses,
        now=now,
        settings=settings,
    )
    where = "public" if data.is_public else "not public"
    mailed = f"mailed to {len(addresses)} recipient{'' if len(addresses) == 1 else 's'}"
    if audiences:
        mailed += " of " + ", ".join(audience.name for audience in audiences)
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
    addresses: Sequence[str],
    now: datetime,
    settings: Settings,
) -> None:
    """One message per recipient: nobody sees another recipient's address."""
    if not addresses:
        return
    template = await effective_template(session, UpdateState(update.state))
    base = settings.public_url.rstrip("/")
    values = {
        "title": update.title,
        "application": await application_name(session, communicated.application) or "our services",
        "state": STATE_LABELS[UpdateState(update.state)],
        "message": update.message,
        "status_url": f"{base}/status/incidents/{communicated.public_id}",
    }
    subject = " ".join(fill(template.subject, values).split())[:300]
    text = fill(template.body, values)
    html = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in text.split("\n\n"))
    domain = mail_domain(settings.mail_from)
    root = f"<status-{communicated.public_id}@{domain}>"
    new_jobs = []
    for address in addresses:
        mail = OutgoingMail(
            message_id=f"<status-{communicated.public_id}.{update.id}.{uuid.uuid4().hex}@{domain}>",
            sender=settings.mail_from,
            to=address,
            to_name="",
            subject=subject,
            text=text,
            html=html,
            date=now.isoformat(),
            in_reply_to=root,
            references=[root],
            event=STATUS_MAIL_EVENT,
        )
        new_jobs.append(
            jobs.NewJob(
                kind=MAIL_JOB,
                payload=mail.to_payload(),
                dedupe_key=f"mail:status:{update.id}:{address}"[:200],
                max_attempts=MAIL_MAX_ATTEMPTS,
            )
        )
    await jobs.enqueue_many(session, new_jobs=new_jobs, now=now)


async def prefill(*, session: AsyncSession, incident: Incident, state: UpdateState) -> str:
    """The public text the composer starts from for ``state``."""
    template = await effective_template(session, state)
    communicated = await session.scalar(
        select(StatusIncident).where(StatusIncident.incident_id == incident.id)
    )
    key = communicated.application if communicated is not None else incident.application
    values = {
        "title": communicated.title if communicated is not None else "",
        "application": await application_name(session, key) or "our services",
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


# The public page ------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicUpdate:
    id: int
    state: UpdateState
    message: str
    posted_at: datetime

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class PublicIncident:
    public_id: str
    title: str
    application: str
    impact: ComponentState
    state: UpdateState
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def impact_label(self) -> str:
        return COMPONENT_LABELS[self.impact]


@dataclass(frozen=True)
class PublicStatus:
    components: list[ComponentView]
    open_incidents: list[PublicIncident]
    past_incidents: list[PublicIncident]
    changed_at: datetime | None

    @property
    def overall(self) -> ComponentState:
        return component_state(
            [item.state for item in self.components] + [item.impact for item in self.open_incidents]
        )

    @property
    def overall_label(self) -> str:
        if self.overall is ComponentState.OPERATIONAL:
            return "All systems operational"
        return COMPONENT_LABELS[self.overall]


def _public_incident(
    row: StatusIncident, names: dict[str, str], updates: list[PublicUpdate]
) -> PublicIncident:
    return PublicIncident(
        public_id=row.public_id,
        title=row.title,
        # Only a public application's name is ever shown.
        application=names.get(row.application or "", ""),
        impact=ComponentState(row.impact),
        state=UpdateState(row.state),
        started_at=row.started_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        updates=updates,
    )


async def _public_updates(
    session: AsyncSession, status_ids: Sequence[int]
) -> dict[int, list[PublicUpdate]]:
    found: dict[int, list[PublicUpdate]] = {}
    if not status_ids:
        return found
    rows = await session.execute(
        select(
            StatusUpdate.id,
            StatusUpdate.status_incident_id,
            StatusUpdate.state,
            StatusUpdate.message,
            StatusUpdate.posted_at,
        )
        .where(StatusUpdate.status_incident_id.in_(status_ids), StatusUpdate.is_public.is_(True))
        .order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
    )
    for update_id, status_id, state, message, posted_at in rows:
        found.setdefault(status_id, []).append(
            PublicUpdate(
                id=update_id, state=UpdateState(state), message=message, posted_at=posted_at
            )
        )
    return found


async def public_status(*, session: AsyncSession, now: datetime) -> PublicStatus:
    """What /status shows: public applications, open public incidents, and those resolved in
    the last 90 days, each with its public updates newest first. No caller: it is public."""
    components = await _components(session, public_only=True)
    names = {item.application: item.shown_name for item in components}
    open_rows = list(
        await session.scalars(
            select(StatusIncident)
            .where(
                StatusIncident.public.is_(True),
                StatusIncident.state != UpdateState.RESOLVED.value,
            )
            .order_by(StatusIncident.updated_at.desc(), StatusIncident.id.desc())
        )
    )
    past_rows = list(
        await session.scalars(
            select(StatusIncident)
            .where(
                StatusIncident.public.is_(True),
                StatusIncident.state == UpdateState.RESOLVED.value,
                StatusIncident.resolved_at >= now - timedelta(days=PAST_DAYS),
            )
            .order_by(StatusIncident.resolved_at.desc(), StatusIncident.id.desc())
        )
    )
    updates = await _public_updates(session, [row.id for row in open_rows + past_rows])
    changed = await session.scalar(
        select(func.max(StatusUpdate.posted_at)).where(StatusUpdate.is_public.is_(True))
    )
    component_changed = await session.scalar(select(func.max(StatusComponent.updated_at)))
    moments = [moment for moment in (changed, component_changed) if moment is not None]
    return PublicStatus(
        components=components,
        open_incidents=[_public_incident(r, names, updates.get(r.id, [])) for r in open_rows],
        past_incidents=[_public_incident(r, names, updates.get(r.id, [])) for r in past_rows],
        changed_at=max(moments) if moments else None,
    )


async def public_incident(*, session: AsyncSession, public_id: str) -> PublicIncident:
    row = await session.scalar(
        select(StatusIncident).where(
            StatusIncident.public_id == public_id, StatusIncident.public.is_(True)
        )
    )
    if row is None:
        raise NotFound(f"no public incident {public_id}", field="public_id")
    components = await _components(session, public_only=True)
    names = {item.application: item.shown_name for item in components}
    updates = await _public_updates(session, [row.id])
    return _public_incident(row, names, updates.get(row.id, []))


async def feed_entries(*, session: AsyncSession, limit: int = 50) -> list[Entry]:
    """The latest public updates of public incidents, newest first (the Atom feed)."""
    rows = await session.execute(
        select(
            StatusUpdate.id,
            StatusIncident.public_id,
            StatusIncident.title,
            StatusUpdate.state,
            StatusUpdate.message,
            StatusUpdate.posted_at,
        )
        .join(StatusIncident, StatusIncident.id == StatusUpdate.status_incident_id)
        .where(StatusUpdate.is_public.is_(True), StatusIncident.public.is_(True))
        .order_by(StatusUpdate.posted_at.desc(), StatusUpdate.id.desc())
        .limit(limit)
    )
    return [
        Entry(
            update_id=update_id,
            public_id=public_id,
            incident_title=title,
            state=UpdateState(state),
            message=message,
            posted_at=posted_at,
        )
        for update_id, public_id, title, state, message, posted_at in rows
    ]


__all__ = ["AudienceKind", "MessageTemplate"]
