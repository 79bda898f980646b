"""The job kinds opsdesk knows and what each does: the worker's handler table.

Each feature owns its work (sweeps, notifications, deliveries); this table names the kind,
says whether it runs in the worker's transaction, and how often a recurring kind comes back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsdesk.auth.events import purge_events
from opsdesk.auth.sessions import purge_ended_sessions, session_policy_of
from opsdesk.collaboration import tasks, work_orders
from opsdesk.core import job_admin, jobs
from opsdesk.core.settings import Settings
from opsdesk.incidents.events import INCIDENT_CHANGED
from opsdesk.incidents.sweeper import incident_rules_from, sweep_due
from opsdesk.intake.email.imap import POLL_JOB as IMAP_POLL_JOB
from opsdesk.intake.email.imap import poll_once
from opsdesk.intake.email.intake import Intake
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.notify import bounces
from opsdesk.notify.mail import MAIL_JOB, MailSender, make_mail_handler
from opsdesk.notify.reminders import (
    CONFIRM_REMINDER_JOB,
    schedule_confirm_reminder,
    send_confirm_reminder,
)
from opsdesk.notify.service import notify_incident_event
from opsdesk.notify.templates import EVENTS as NOTIFY_EVENTS
from opsdesk.notify.webhooks import WEBHOOK_JOB, WebhookSender
from opsdesk.notify.work_notices import send_work_notice
from opsdesk.reviews import major_service
from opsdesk.reviews.pir_service import ensure_review_on_resolve
from opsdesk.sla import clocks as sla_clocks
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla import sweep as sla_sweep
from opsdesk.worker.runner import HandlerSpec, JobContext

SWEEP_KIND = "incidents.sweep"
SWEEP_BATCH = 500
PURGE_KIND = "jobs.purge"
MAIL_PROCESS_KIND = "mail.process"
MAIL_PROCESS_EVERY_S = 10.0
PURGE_EVERY_S = 3600.0
PURGE_BATCH = 5000
WORK_DUE_SWEEP_S = 60.0


def default_handlers(settings: Settings) -> dict[str, HandlerSpec]:
    """Every job kind opsdesk knows; features add their kinds here."""
    rules = incident_rules_from(settings)

    async def sweep_incidents(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        result = await sweep_due(session=ctx.session, now=now, rules=rules, batch=SWEEP_BATCH)
        if max(result.completed, result.resumed) >= SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    async def incident_changed(payload: dict[str, Any], ctx: JobContext) -> None:
        # One transaction: the clocks it stores and the mails and webhook deliveries it
        # queues commit with this job's completion, so a retried event never does twice.
        await sla_clocks.refresh_incident_sla(
            ctx.session, incident_id=int(payload["incident_id"]), now=ctx.clock.now()
        )
        for event in payload["events"]:
            if event in NOTIFY_EVENTS:
                await notify_incident_event(
                    ctx.session,
                    incident_id=payload["incident_id"],
                    event=event,
                    actor_id=payload.get("actor_id"),
                    now=ctx.clock.now(),
                    comment=payload.get("comment", ""),
                    extra={"event_key": f"job-{ctx.job_id}"},
                    settings=settings,
                )
        # Major-incident rules (P1, interrupted critical application) after every change.
        await major_service.apply_rules(
            ctx.session,
            incident_id=int(payload["incident_id"]),
            now=ctx.clock.now(),
            settings=settings,
        )
        if "resolved" in payload["events"] and settings.confirm_reminder_days > 0:
            await schedule_confirm_reminder(
                ctx.session,
                incident_id=int(payload["incident_id"]),
                now=ctx.clock.now(),
                after=timedelta(days=settings.confirm_reminder_days),
            )
        if "resolved" in payload["events"]:
            # A required post-incident review starts when its incident resolves (reviews/
            # sits above incidents, so it hears of the resolve through this event).
            await ensure_review_on_resolve(
                ctx.session,
                incident_id=int(payload["incident_id"]),
                now=ctx.clock.now(),
                settings=settings,
            )

    async def confirm_reminder(payload: dict[str, Any], ctx: JobContext) -> None:
        await send_confirm_reminder(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=settings
        )

    async def sweep_sla(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        result = await sla_sweep.sweep_sla(ctx.session, now=now, limit=SWEEP_BATCH)
        if result.claimed >= SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    async def refresh_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        await sla_clocks.refresh_incident_sla(
            ctx.session, incident_id=int(payload["incident_id"]), now=ctx.clock.now()
        )

    async def recompute_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        last = await sla_clocks.recompute_batch(
            ctx.session, after_id=int(payload["after_id"]), now=now
        )
        if last is not None:  # the next batch is its own job: each commits on its own
            await jobs.enqueue(
                ctx.session,
                kind=sla_configuration.RECOMPUTE_JOB,
                payload={"after_id": last},
                now=now,
            )

    async def notify_sla(payload: dict[str, Any], ctx: JobContext) -> None:
        await sla_sweep.send_notification(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=ctx.settings
        )

    async def purge_jobs(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        before = now - timedelta(days=settings.jobs_keep_days)
        purged = await job_admin.purge_finished(ctx.session, before=before, limit=PURGE_BATCH)
        # Ended web sessions and old auth events go with the same daily sweep.
        purged = max(
            purged,
            await purge_ended_sessions(
                session=ctx.session,
                now=now,
                policy=session_policy_of(settings),
                limit=PURGE_BATCH,
            ),
            await purge_events(
                session=ctx.session,
                before=now - timedelta(days=settings.auth_events_keep_days),
                limit=PURGE_BATCH,
            ),
        )
        if purged >= PURGE_BATCH:
            ctx.again_at(now)  # a full batch may leave more: go on at once

    async def sweep_major(_payload: dict[str, Any], ctx: JobContext) -> None:
        await major_service.sweep(ctx.session, now=ctx.clock.now(), settings=settings)

    async def work_notice(payload: dict[str, Any], ctx: JobContext) -> None:
        await send_work_notice(
            ctx.session, payload=payload, now=ctx.clock.now(), settings=ctx.settings
        )

    async def sweep_work_due(_payload: dict[str, Any], ctx: JobContext) -> None:
        now = ctx.clock.now()
        due = await tasks.sweep_due_tasks(ctx.session, now=now)
        late = await work_orders.sweep_overdue_work_orders(ctx.session, now=now)
        if max(due.due_soon, due.overdue, late) >= tasks.SWEEP_BATCH:
            ctx.again_at(now)  # a full batch: more is due, go on at once

    mail_rules = MailRules.from_settings(settings)

    async def process_mail(_payload: dict[str, Any], ctx: JobContext) -> None:
        # Mail stored by the pipe, by IMAP, or by a listener that died before processing.
        await Intake(db=ctx.db, clock=ctx.clock, rules=mail_rules).process_all()

    async def poll_imap(_payload: dict[str, Any], ctx: JobContext) -> None:
        intake = Intake(db=ctx.db, clock=ctx.clock, rules=mail_rules)
        await poll_once(settings, lambda raw: intake.store(raw, door="imap"))
        await intake.process_all()

    mail = MailSender(settings)
    webhooks = WebhookSender(settings)
    imap = (
        {IMAP_POLL_JOB: HandlerSpec(poll_imap, every_s=settings.imap_interval_s)}
        if settings.imap_host
        else {}
    )
    return {
        **imap,
        MAIL_PROCESS_KIND: HandlerSpec(process_mail, every_s=MAIL_PROCESS_EVERY_S),
        PURGE_KIND: HandlerSpec(purge_jobs, transactional=True, every_s=PURGE_EVERY_S),
        sla_sweep.SWEEP_JOB: HandlerSpec(
            sweep_sla, transactional=True, every_s=settings.sla_sweep_s
        ),
        sla_clocks.REFRESH_JOB: HandlerSpec(refresh_sla, transactional=True, max_attempts=8),
        sla_configuration.RECOMPUTE_JOB: HandlerSpec(
            recompute_sla, transactional=True, max_attempts=8
        ),
        sla_sweep.NOTIFY_JOB: HandlerSpec(notify_sla, transactional=True, max_attempts=8),
        INCIDENT_CHANGED: HandlerSpec(incident_changed, transactional=True),
        CONFIRM_REMINDER_JOB: HandlerSpec(confirm_reminder, transactional=True, max_attempts=8),
        tasks.WORK_NOTICE_JOB: HandlerSpec(work_notice, transactional=True, max_attempts=8),
        tasks.DUE_SWEEP_JOB: HandlerSpec(
            sweep_work_due, transactional=True, every_s=WORK_DUE_SWEEP_S
        ),
        major_service.SWEEP_JOB: HandlerSpec(
            sweep_major, transactional=True, every_s=settings.major_sweep_s
        ),
        SWEEP_KIND: HandlerSpec(
            sweep_incidents, transactional=True, every_s=settings.lifecycle_sweep_s
        ),
        MAIL_JOB: HandlerSpec(
            make_mail_handler(settings, mail, skip_check=bounces.bouncing_now),
            close=mail.close,
            on_start=mail.probe,
        ),
        WEBHOOK_JOB: HandlerSpec(webhooks.deliver, close=webhooks.close),
    }
