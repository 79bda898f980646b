"""Admin page helpers: a mail template previewed on a real incident, a webhook test send and
a subscription's delivery log (its ``webhook.deliver`` jobs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.errors import NotFound
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.models import Incident
from opsdesk.notify.rules import RecipientKind
from opsdesk.notify.service import _check_event, _incident_context, get_webhook
from opsdesk.notify.templates import (
    EVENT_LABELS,
    SAMPLE_CONTEXT,
    MailTemplate,
    RenderedMail,
    render,
    validate_template,
)
from opsdesk.notify.webhooks import WEBHOOK_JOB


async def preview_template(
    *,
    session: AsyncSession,
    caller: Caller,
    event: str,
    template: MailTemplate,
    number: str,
    settings: Settings | None = None,
) -> RenderedMail:
    """``template`` rendered against the real incident ``number``, as its reporter gets it."""
    auth.require_role(caller, Role.ADMIN)
    _check_event(event)
    validate_template(template)
    settings = settings or get_settings()
    incident = await session.scalar(select(Incident).where(Incident.number == number.strip()))
    if incident is None:
        raise NotFound(f"number: no incident {number.strip()!r}", field="number")
    ids = [uid for uid in (incident.reporter_id, incident.assignee_id) if uid]
    names = await auth.display_names(session=session, user_ids=ids)
    return render(
        template,
        {
            **SAMPLE_CONTEXT,
            "incident": _incident_context(incident, names, settings.public_url),
            "event": event,
            "event_label": EVENT_LABELS[event],
            "actor_name": caller.name,
            "recipient_name": names.get(incident.reporter_id, ""),
            "recipient_kind": str(RecipientKind.REPORTER),
        },
    )


TEST_EVENT = "webhook.test"


async def send_test_webhook(
    *, session: AsyncSession, caller: Caller, webhook_id: int, now: datetime
) -> str:
    """Queue one signed ``webhook.test`` delivery to the subscription; returns its id."""
    row = await get_webhook(session=session, caller=caller, webhook_id=webhook_id)
    delivery_id = uuid.uuid4().hex
    body = orjson.dumps(
        {
            "event": TEST_EVENT,
            "delivery_id": delivery_id,
            "occurred_at": now.isoformat(),
            "message": "A test delivery sent from the opsdesk admin page.",
        }
    ).decode()
    await jobs.enqueue(
        session,
        kind=WEBHOOK_JOB,
        payload={
            "subscription_id": row.id,
            "event": TEST_EVENT,
            "delivery_id": delivery_id,
            "body": body,
        },
        now=now,
        max_attempts=1,
    )
    return delivery_id


@dataclass(frozen=True)
class Delivery:
    job_id: int
    delivery_id: str
    event: str
    state: str
    attempts: int
    due_at: datetime
    finished_at: datetime | None
    last_error: str | None


async def webhook_deliveries(
    *, session: AsyncSession, caller: Caller, webhook_id: int, limit: int = 50
) -> list[Delivery]:
    """The latest deliveries to a subscription (its ``webhook.deliver`` jobs), newest first."""
    await get_webhook(session=session, caller=caller, webhook_id=webhook_id)
    # The payload is JSON on both databases; the newest few hundred deliveries are scanned.
    rows = await session.scalars(
        select(jobs.Job).where(jobs.Job.kind == WEBHOOK_JOB).order_by(jobs.Job.id.desc()).limit(500)
    )
    found = []
    for job in rows:
        if job.payload.get("subscription_id") != webhook_id:
            continue
        found.append(
            Delivery(
                job_id=job.id,
                delivery_id=str(job.payload.get("delivery_id", "")),
                event=str(job.payload.get("event", "")),
                state=job.state,
                attempts=job.attempts,
                due_at=job.due_at,
                finished_at=job.finished_at,
                last_error=job.last_error,
            )
        )
        if len(found) >= limit:
            break
    return found
