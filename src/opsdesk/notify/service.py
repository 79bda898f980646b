"""Notification use cases: turn an incident event into queued mails and webhook deliveries,
and the administrator's verbs for templates, rules and webhook subscriptions.

Every verb takes the session as a keyword, enqueues its jobs in the caller's transaction and
never commits: a mail exists exactly when the change it reports does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.collaboration import watchers
from opsdesk.core import jobs
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.fields import LEVEL_LABELS, STATUS_LABELS, Status
from opsdesk.incidents.models import Incident
from opsdesk.notify import bounces
from opsdesk.notify.mail import (
    MAIL_JOB,
    OutgoingMail,
    mail_domain,
    new_message_id,
    root_message_id,
    tag_subject,
)
from opsdesk.notify.models import MailTemplateRow, NotificationRule, WebhookSubscription
from opsdesk.notify.rules import DEFAULT_RULES, RecipientKind, parse_recipients
from opsdesk.notify.templates import (
    EVENT_LABELS,
    EVENTS,
    SAMPLE_CONTEXT,
    MailTemplate,
    default_template,
    render,
    validate_template,
)
from opsdesk.notify.webhooks import WEBHOOK_JOB, check_url

WEBHOOK_EVENTS = tuple(f"incident.{event}" for event in EVENTS)
ALL_EVENTS = "*"
MAIL_MAX_ATTEMPTS = 8
WEBHOOK_MAX_ATTEMPTS = 8
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200

# What a template reading ``work`` sees for an event that is not about a task or work order.
NO_WORK: dict[str, Any] = {key: (0 if key == "id" else "") for key in SAMPLE_CONTEXT["work"]}
NO_MAJOR: dict[str, Any] = {key: (0 if key == "minutes" else "") for key in SAMPLE_CONTEXT["major"]}

# Reads the members of a workgroup through the assignment service, which serves staff.
_NOTIFIER = Caller(user_id="", email="", name="opsdesk notifications", role=Role.TECHNICIAN)


def _check_event(event: str, field: str = "event") -> None:
    if event not in EVENTS:
        raise ValidationFailed(
            f"{field}: unknown event {event!r}; known: {', '.join(EVENTS)}", field=field
        )


def _instance_key(value: str) -> str:
    # Dedupe keys have a length limit; long caller-given keys are hashed to fit.
    return value if len(value) <= 64 else hashlib.sha256(value.encode()).hexdigest()


# Rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    event: str
    recipients: list[str]
    enabled: bool
    customized: bool


async def get_rules(*, session: AsyncSession, caller: Caller) -> list[RuleView]:
    """The rule of every event: the stored one, else the default."""
    auth.require_role(caller, Role.ADMIN)
    stored = {row.event: row for row in await session.scalars(select(NotificationRule))}
    views = []
    for event in EVENTS:
        row = stored.get(event)
        if row is None:
            kinds = [str(kind) for kind in DEFAULT_RULES[event]]
            views.append(RuleView(event=event, recipients=kinds, enabled=True, customized=False))
        else:
            views.append(
                RuleView(
                    event=event,
                    recipients=list(row.recipients),
                    enabled=row.enabled,
                    customized=True,
                )
            )
    return views


async def _rule(session: AsyncSession, event: str) -> tuple[list[RecipientKind], bool]:
    row = await session.get(NotificationRule, event)
    if row is None:
        return list(DEFAULT_RULES[event]), True
    return parse_recipients(row.recipients), row.enabled


@dataclass(frozen=True)
class RuleChange:
    event: str
    recipients: Sequence[str]
    enabled: bool = True


async def set_rules(
    *, session: AsyncSession, caller: Caller, rules: Sequence[RuleChange], now: datetime
) -> list[RuleView]:
    """Store the given events' rules; events not given keep theirs."""
    auth.require_role(caller, Role.ADMIN)
    seen: set[str] = set()
    for index, change in enumerate(rules):
        _check_event(change.event, field=f"rules.{index}.event")
        if change.event in seen:
            raise ValidationFailed(
                f"rules.{index}.event: {change.event} is given twice", field=f"rules.{index}.event"
            )
        seen.add(change.event)
        kinds = parse_recipients(change.recipients, field=f"rules.{index}.recipients")
        row = await session.get(NotificationRule, change.event)
        if row is None:
            row = NotificationRule(event=change.event)
            session.add(row)
        row.recipients = [str(kind) for kind in kinds]
        row.enabled = change.enabled
        row.updated_at = now
        row.updated_by = caller.user_id
    await session.flush()
    return await get_rules(session=session, caller=caller)


# Templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateView:
    event: str
    subject: str
    text_body: str
    html_body: str
    customized: bool
    updated_at: datetime | None
    updated_by: str | None


def _template_view(event: str, row: MailTemplateRow | None) -> TemplateView:
    if row is None:
        default = default_template(event)
        return TemplateView(
            event=event,
            subject=default.subject,
            text_body=default.text_body,
            html_body=default.html_body,
            customized=False,
            updated_at=None,
            updated_by=None,
        )
    return TemplateView(
        event=event,
        subject=row.subject,
        text_body=row.text_body,
        html_body=row.html_body,
        customized=True,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def list_templates(*, session: AsyncSession, caller: Caller) -> list[TemplateView]:
    auth.require_role(caller, Role.ADMIN)
    stored = {row.event: row for row in await session.scalars(select(MailTemplateRow))}
    return [_template_view(event, stored.get(event)) for event in EVENTS]


async def get_template(*, session: AsyncSession, caller: Caller, event: str) -> TemplateView:
    auth.require_role(caller, Role.ADMIN)
    _check_event(event)
    return _template_view(event, await session.get(MailTemplateRow, event))


async def update_template(
    *, session: AsyncSession, caller: Caller, event: str, template: MailTemplate, now: datetime
) -> TemplateView:
    """Save an edited template after rendering it once with example values."""
    auth.require_role(caller, Role.ADMIN)
    _check_event(event)
    validate_template(template)
    row = await session.get(MailTemplateRow, event)
    if row is None:
        row = MailTemplateRow(event=event)
        session.add(row)
    row.subject = template.subject.strip()
    row.text_body = template.text_body
    row.html_body = template.html_body
    row.updated_at = now
    row.updated_by = caller.user_id
    await session.flush()
    return _template_view(event, row)


async def reset_template(*, session: AsyncSession, caller: Caller, event: str) -> TemplateView:
    """Back to the shipped default (which then follows future improvements)."""
    auth.require_role(caller, Role.ADMIN)
    _check_event(event)
    row = await session.get(MailTemplateRow, event)
    if row is not None:
        await session.delete(row)
        await session.flush()
    return _template_view(event, None)


async def _effective_template(session: AsyncSession, event: str) -> MailTemplate:
    row = await session.get(MailTemplateRow, event)
    if row is None:
        return default_template(event)
    return MailTemplate(subject=row.subject, text_body=row.text_body, html_body=row.html_body)


# Incident events ------------------------------------------------------------------------


async def _recipients(
    session: AsyncSession,
    incident: Incident,
    kinds: Sequence[RecipientKind],
    work_people: Sequence[str] | None = None,
) -> list[tuple[str, RecipientKind]]:
    """(user id, why) in rule order, each person once. For a task or work order
    (``work_people`` given), ASSIGNEE and GROUP are the people of that item."""
    found: list[tuple[str, RecipientKind]] = []
    for kind in kinds:
        ids: list[str] = []
        if work_people is not None and kind in (RecipientKind.ASSIGNEE, RecipientKind.GROUP):
            ids = list(work_people)
        elif kind == RecipientKind.REPORTER:
            ids = [incident.reporter_id]
        elif kind == RecipientKind.ASSIGNEE and incident.assignee_id is not None:
            ids = [incident.assignee_id]
        elif kind == RecipientKind.GROUP and incident.workgroup is not None:
            try:
                group = await assignment_workgroups.get_workgroup(
                    session=session, caller=_NOTIFIER, key=incident.workgroup
                )
            except NotFound:
                group = None
            ids = [] if group is None else list(group.members)
        elif kind == RecipientKind.MANAGER:
            staff = await auth.active_staff(session=session)
            ids = [user.id for user in staff if user.role == Role.INCIDENT_MANAGER]
        elif kind == RecipientKind.WATCHERS:
            ids = await watchers.watcher_ids(session, incident_id=incident.id)
        for user_id in ids:
            if all(user_id != known for known, _kind in found):
                found.append((user_id, kind))
    return found


def _incident_context(
    incident: Incident, names: Mapping[str, str], public_url: str
) -> dict[str, Any]:
    try:
        status_label = STATUS_LABELS[Status(incident.status)].en
    except ValueError:
        status_label = incident.status
    level = LEVEL_LABELS.get(incident.level)
    return {
        "number": incident.number,
        "title": incident.title,
        "description": incident.description,
        "status": incident.status,
        "status_label": status_label,
        "level": incident.level,
        "level_label": level.en if level is not None else incident.level,
        "workgroup": incident.workgroup or "",
        "assignee_name": names.get(incident.assignee_id or "", ""),
        "reporter_name": names.get(incident.reporter_id, ""),
        "solution": incident.solution or "",
        "cause": incident.cause or "",
        "created_at": incident.created_at.isoformat(),
        "url": f"{public_url.rstrip('/')}/incidents/{incident.number}",
    }


async def notify_incident_event(
    session: AsyncSession,
    *,
    incident_id: int,
    event: str,
    actor_id: str | None,
    now: datetime,
    comment: str = "",
    extra: dict[str, Any] | None = None,
    settings: Settings | None = None,
    webhooks: bool = True,
    recipients: Sequence[str] | None = None,
    work: Mapping[str, Any] | None = None,
    work_people: Sequence[str] | None = None,
    major: Mapping[str, Any] | None = None,
) -> int:
    """Queue the mails (and webhook deliveries) of one incident event; returns how many.

    One ``mail.deliver`` job per recipient, holding the rendered message and a Message-ID
    fixed now. ``extra`` may carry ``event_key`` (what makes this event unique, e.g. a
    history row id; default: ``now``) for deduplication, ``target`` and ``due_at`` for the
    SLA templates, and anything else a custom template reads as ``extra``. A recipient whose
    address bounces (``notify.bounces``) is not mailed: their mail is recorded as a ``done``
    job whose ``last_error`` says why, and is not counted.
    """
    _check_event(event)
    settings = settings or get_settings()
    extra = dict(extra or {})
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}", field="incident_id")
    instance = _instance_key(str(extra.get("event_key") or now.isoformat()))
    kinds, enabled = await _rule(session, event)
    if recipients is not None:
        # Chosen by the caller (an SLA threshold's actions); a disabled event stays muted.
        kinds = parse_recipients(recipients)
    people_to_tell = await _recipients(session, incident, kinds, work_people) if enabled else []
    people: dict[str, User] = {}
    for user_id in {
        *(user_id for user_id, _kind in people_to_tell),
        *(uid for uid in (incident.reporter_id, incident.assignee_id, actor_id) if uid),
    }:
        try:
            people[user_id] = await auth.get_user(session=session, user_id=user_id)
        except NotFound:
            continue
    names = {user_id: user.name for user_id, user in people.items()}
    incident_values = _incident_context(incident, names, settings.public_url)
    actor = people.get(actor_id or "")
    template = await _effective_template(session, event) if people_to_tell else None
    domain = mail_domain(settings.mail_from)
    root = root_message_id(incident.number, domain)
    queued = 0
    mails: list[tuple[str, OutgoingMail]] = []
    for user_id, kind in people_to_tell:
        user = people.get(user_id)
        # Nobody is told about what they did themselves, except the receipt of a report:
        # the reporter keeps its number and link to follow their incident.
        receipt = event == "created" and kind == RecipientKind.REPORTER
        if user is None or (user_id == actor_id and not receipt):
            continue
        if not user.active or not user.email:
            continue
        assert template is not None
        rendered = render(
            template,
            {
                "incident": incident_values,
                "event": event,
                "event_label": EVENT_LABELS[event],
                "actor_name": "" if actor is None else actor.name,
                "recipient_name": user.name,
                "recipient_kind": str(kind),
                "comment": comment,
                "sla": {
                    "target": str(extra.get("target", "")),
                    "due_at": str(extra.get("due_at", "")),
                },
                "extra": extra,
                "work": dict(work or NO_WORK),
                "major": dict(major or NO_MAJOR),
            },
        )
        created = event == "created"
        mail = OutgoingMail(
            # The created mail is the thread's root; every later mail answers it.
            message_id=root if created else new_message_id(incident.number, event, domain),
            sender=settings.mail_from,
            to=user.email,
            to_name=user.name,
            subject=tag_subject(rendered.subject, incident.number),
            text=rendered.text,
            html=rendered.html,
            date=now.isoformat(),
            in_reply_to=None if created else root,
            references=[] if created else [root],
            incident=incident.number,
            event=event,
        )
        mails.append((user_id, mail))
    # A mail to an address that bounces is kept as a finished job saying why, not sent.
    sendable = {
        id(mail)
        for mail in await bounces.without_bouncing(
            session, [mail for _user_id, mail in mails], now=now
        )
    }
    for user_id, mail in mails:
        if id(mail) not in sendable:
            continue
        if await jobs.enqueue(
            session,
            kind=MAIL_JOB,
            payload=mail.to_payload(),
            now=now,
            dedupe_key=f"mail:{incident.id}:{event}:{instance}:{user_id}",
            max_attempts=MAIL_MAX_ATTEMPTS,
        ):
            queued += 1
    if webhooks:
        queued += await notify_webhooks(
            session,
            event=f"incident.{event}",
            payload={
                "incident": incident_values,
                "actor_id": actor_id,
                "comment": comment,
                "extra": extra,
                **({"work": dict(work)} if work is not None else {}),
            },
            now=now,
            dedupe=f"{incident.id}:{instance}",
        )
    return queued


# Webhooks -------------------------------------------------------------------------------


def _check_webhook_events(events: Sequence[str], field: str = "events") -> list[str]:
    if not events:
        raise ValidationFailed(f"{field}: name at least one event, or '*'", field=field)
    chosen: list[str] = []
    for value in events:
        if value != ALL_EVENTS and value not in WEBHOOK_EVENTS:
            raise ValidationFailed(
                f"{field}: unknown event {value!r}; known: *, {', '.join(WEBHOOK_EVENTS)}",
                field=field,
            )
        if value not in chosen:
            chosen.append(value)
    return chosen


async def notify_webhooks(
    session: AsyncSession,
    *,
    event: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe: str | None = None,
) -> int:
    """Queue one ``webhook.deliver`` per active subscription to ``event``; returns how many.

    The JSON body is fixed now; the secret is read at delivery time and is not copied into
    the job.
    """
    subscriptions = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.active.is_(True))
        .order_by(WebhookSubscription.id)
    )
    queued = 0
    for subscription in subscriptions:
        if event not in subscription.events and ALL_EVENTS not in subscription.events:
            continue
        delivery_id = uuid.uuid4().hex
        body = orjson.dumps(
            {"event": event, "delivery_id": delivery_id, "occurred_at": now.isoformat(), **payload}
        ).decode()
        key = None
        if dedupe is not None:
            key = f"webhook:{subscription.id}:{event}:{_instance_key(dedupe)}"
        if await jobs.enqueue(
            session,
            kind=WEBHOOK_JOB,
            payload={
                "subscription_id": subscription.id,
                "event": event,
                "delivery_id": delivery_id,
                "body": body,
            },
            now=now,
            dedupe_key=key,
            max_attempts=WEBHOOK_MAX_ATTEMPTS,
        ):
            queued += 1
    return queued


async def list_webhooks(*, session: AsyncSession, caller: Caller) -> list[WebhookSubscription]:
    auth.require_role(caller, Role.ADMIN)
    return list(await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


async def get_webhook(
    *, session: AsyncSession, caller: Caller, webhook_id: int
) -> WebhookSubscription:
    auth.require_role(caller, Role.ADMIN)
    row = await session.get(WebhookSubscription, webhook_id)
    if row is None:
        raise NotFound(f"no webhook {webhook_id}", field="id")
    return row


async def create_webhook(
    *,
    session: AsyncSession,
    caller: Caller,
    url: str,
    events: Sequence[str],
    secret: str,
    now: datetime,
    description: str = "",
    active: bool = True,
) -> WebhookSubscription:
    """A new subscription; its secret is kept to sign deliveries and never shown again."""
    auth.require_role(caller, Role.ADMIN)
    checked_url = check_url(url)
    chosen = _check_webhook_events(events)
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise ValidationFailed(
            f"secret: must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters",
            field="secret",
        )
    if len(description) > 200:
        raise ValidationFailed("description: at most 200 characters", field="description")
    row = WebhookSubscription(
        url=checked_url,
        secret=secret,
        events=chosen,
        description=description,
        active=active,
        created_at=now,
        created_by=caller.user_id or None,
    )
    session.add(row)
    await session.flush()
    return row


async def delete_webhook(*, session: AsyncSession, caller: Caller, webhook_id: int) -> None:
    """Remove a subscription; deliveries still queued for it are dropped when they come up."""
    row = await get_webhook(session=session, caller=caller, webhook_id=webhook_id)
    await session.delete(row)
    await session.flush()
