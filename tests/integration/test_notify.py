"""Notification services against the database: which mails and webhooks an event queues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate
from opsdesk.auth import service as auth
from opsdesk.auth.schemas import UserUpdate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.errors import Forbidden, NotFound, ValidationFailed
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.notify import service
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.notify.templates import MailTemplate, default_template
from opsdesk.notify.webhooks import WEBHOOK_JOB
from tests.factories import Desk

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"mail_from": "Desk <desk@desk.example>", "public_url": "https://desk.example/"}
    )


@dataclass(frozen=True)
class Case:
    """An incident reported by ``user``, recorded by ``tech``, owned by ``tech2`` in a group
    of tech and tech2."""

    id: int
    number: str


async def _case(db: Database, desk: Desk, clock: FixedClock) -> Case:
    async with db.write() as session:
        await assignment_workgroups.create_workgroup(
            session=session,
            caller=desk.admin.caller,
            data=WorkgroupCreate(
                key="network", name="Network", members=[desk.tech.id, desk.tech2.id]
            ),
            now=clock.now(),
        )
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(
                title="VPN <drops> every hour",
                reporter_id=desk.user.id,
                assignee_id=desk.tech2.id,
                workgroup="network",
            ),
            now=clock.now(),
        )
    return Case(id=incident.id, number=incident.number)


async def _job_ids(db: Database) -> set[int]:
    async with db.read() as session:
        return set(await session.scalars(select(Job.id)))


async def _new_jobs(db: Database, before: set[int], kind: str) -> list[Job]:
    async with db.read() as session:
        rows = await session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id))
        return [job for job in rows if job.id not in before]


async def _notify(
    db: Database, settings: Settings, case: Case, event: str, actor: str | None, **kw: Any
) -> int:
    async with db.write() as session:
        return await service.notify_incident_event(
            session,
            incident_id=case.id,
            event=event,
            actor_id=actor,
            now=kw.pop("now"),
            settings=settings,
            **kw,
        )


async def test_created_mails_the_reporter_and_the_group_but_not_the_actor(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    queued = await _notify(db, mail_settings, case, "created", desk.tech.id, now=clock.now())
    mails = await _new_jobs(db, before, MAIL_JOB)
    assert queued == 2
    # tech recorded it (skipped); tech2 is assignee and group member (mailed once).
    assert sorted(job.payload["to"] for job in mails) == ["tech2@desk.test", "user@desk.test"]
    root = f"<incident-{case.number}@desk.example>"
    for job in mails:
        payload = job.payload
        assert job.state == "ready" and job.max_attempts == service.MAIL_MAX_ATTEMPTS
        assert payload["message_id"] == root
        assert payload["in_reply_to"] is None and payload["references"] == []
        assert payload["subject"].startswith(f"[#{case.number}] ")
        assert payload["sender"] == "Desk <desk@desk.example>"
        assert "VPN <drops> every hour" in payload["text"]
        assert "VPN &lt;drops&gt; every hour" in payload["html"]
        assert f"https://desk.example/incidents/{case.number}" in payload["text"]
        assert payload["date"] == clock.now().isoformat()
    to_user = next(job for job in mails if job.payload["to"] == "user@desk.test")
    assert to_user.payload["to_name"] == "user"
    assert "recorded by tech" in to_user.payload["text"]


async def test_resolved_mails_only_the_reporter_in_the_incident_thread(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    queued = await _notify(
        db, mail_settings, case, "resolved", desk.tech2.id, now=clock.now(), comment="Rebooted"
    )
    (mail,) = await _new_jobs(db, before, MAIL_JOB)
    assert queued == 1
    root = f"<incident-{case.number}@desk.example>"
    assert mail.payload["to"] == "user@desk.test"
    assert mail.payload["message_id"].startswith(f"<incident-{case.number}.resolved.")
    assert mail.payload["message_id"] != root
    assert mail.payload["in_reply_to"] == root and mail.payload["references"] == [root]
    assert "Rebooted" in mail.payload["text"]


async def test_the_reporter_acting_themself_gets_no_mail(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    assert await _notify(db, mail_settings, case, "resolved", desk.user.id, now=clock.now()) == 0
    assert await _new_jobs(db, before, MAIL_JOB) == []


async def test_the_same_event_instance_is_queued_once_per_recipient(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    extra = {"event_key": "history-42"}
    first = await _notify(db, mail_settings, case, "sla_breach", None, now=clock.now(), extra=extra)
    clock.advance(timedelta(seconds=5))
    again = await _notify(db, mail_settings, case, "sla_breach", None, now=clock.now(), extra=extra)
    other = await _notify(
        db, mail_settings, case, "sla_breach", None, now=clock.now(), extra={"event_key": "h-43"}
    )
    assert (first, again, other) == (2, 0, 2)
    mails = await _new_jobs(db, before, MAIL_JOB)
    assert len(mails) == 4
    assert len({job.payload["message_id"] for job in mails}) == 4


async def test_people_without_an_active_account_are_skipped(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    async with db.write() as session:
        await auth.update_user(
            session=session,
            caller=desk.admin.caller,
            user_id=desk.tech2.id,
            data=UserUpdate(active=False),
            now=clock.now(),
        )
    before = await _job_ids(db)
    assert await _notify(db, mail_settings, case, "sla_warning", None, now=clock.now()) == 1
    (mail,) = await _new_jobs(db, before, MAIL_JOB)
    assert mail.payload["to"] == "tech@desk.test"  # the other member of the group


async def test_rules_choose_the_recipients_and_can_switch_an_event_off(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    async with db.write() as session:
        views = await service.set_rules(
            session=session,
            caller=desk.admin.caller,
            rules=[
                service.RuleChange(event="resolved", recipients=["assignee", "group"]),
                service.RuleChange(event="created", recipients=["reporter"], enabled=False),
            ],
            now=clock.now(),
        )
    by_event = {view.event: view for view in views}
    assert by_event["resolved"].customized and by_event["resolved"].recipients == [
        "assignee",
        "group",
    ]
    assert by_event["accepted"].recipients == ["reporter"] and not by_event["accepted"].customized
    before = await _job_ids(db)
    assert await _notify(db, mail_settings, case, "created", None, now=clock.now()) == 0
    assert await _notify(db, mail_settings, case, "resolved", desk.tech2.id, now=clock.now()) == 1
    (mail,) = await _new_jobs(db, before, MAIL_JOB)
    assert mail.payload["to"] == "tech@desk.test"


async def test_bad_rules_and_non_admins_are_refused(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    async with db.write() as session:
        with pytest.raises(ValidationFailed, match="unknown recipient kind 'boss'") as caught:
            await service.set_rules(
                session=session,
                caller=desk.admin.caller,
                rules=[service.RuleChange(event="created", recipients=["boss"])],
                now=clock.now(),
            )
        assert caught.value.field == "rules.0.recipients"
        with pytest.raises(ValidationFailed, match="unknown event 'exploded'"):
            await service.set_rules(
                session=session,
                caller=desk.admin.caller,
                rules=[service.RuleChange(event="exploded", recipients=[])],
                now=clock.now(),
            )
        with pytest.raises(Forbidden):
            await service.get_rules(session=session, caller=desk.manager.caller)


async def test_a_queued_mail_keeps_its_text_when_the_template_changes_later(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    await _notify(db, mail_settings, case, "resolved", desk.tech2.id, now=clock.now())
    edited = MailTemplate(
        subject="Done: {{ incident.title }}",
        text_body="Fixed, {{ recipient_name }}.",
        html_body="<p>Fixed, {{ recipient_name }}.</p>",
    )
    async with db.write() as session:
        view = await service.update_template(
            session=session,
            caller=desk.admin.caller,
            event="resolved",
            template=edited,
            now=clock.now(),
        )
    assert view.customized and view.updated_by == desk.admin.id
    clock.advance(timedelta(minutes=1))
    await _notify(db, mail_settings, case, "resolved", desk.tech2.id, now=clock.now())
    first, second = await _new_jobs(db, before, MAIL_JOB)
    assert first.payload["text"] != "Fixed, user."
    assert second.payload["text"] == "Fixed, user."
    assert second.payload["subject"] == f"[#{case.number}] Done: VPN <drops> every hour"
    async with db.write() as session:
        reset = await service.reset_template(
            session=session, caller=desk.admin.caller, event="resolved"
        )
    assert not reset.customized and reset.text_body == default_template("resolved").text_body


async def test_a_template_with_an_error_is_not_saved(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    broken = MailTemplate(
        subject="{{ incident.number }}", text_body="{{ incident.nmber }}", html_body="x"
    )
    with pytest.raises(ValidationFailed, match="has no attribute 'nmber'") as caught:
        async with db.write() as session:
            await service.update_template(
                session=session,
                caller=desk.admin.caller,
                event="created",
                template=broken,
                now=clock.now(),
            )
    assert caught.value.field == "text_body"
    async with db.read() as session:
        view = await service.get_template(
            session=session, caller=desk.admin.caller, event="created"
        )
        assert not view.customized
        with pytest.raises(Forbidden):
            await service.list_templates(session=session, caller=desk.tech.caller)


async def test_webhooks_are_queued_per_matching_active_subscription(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    async with db.write() as session:
        resolved_only = await service.create_webhook(
            session=session,
            caller=desk.admin.caller,
            url="https://hooks.example/resolved",
            events=["incident.resolved"],
            secret=SECRET,
            now=clock.now(),
        )
        everything = await service.create_webhook(
            session=session,
            caller=desk.admin.caller,
            url="https://hooks.example/all",
            events=["*"],
            secret=SECRET,
            now=clock.now(),
        )
        await service.create_webhook(
            session=session,
            caller=desk.admin.caller,
            url="https://hooks.example/off",
            events=["*"],
            secret=SECRET,
            active=False,
            now=clock.now(),
        )
        subscriptions = (resolved_only.id, everything.id)
    before = await _job_ids(db)
    queued = await _notify(db, mail_settings, case, "resolved", desk.tech2.id, now=clock.now())
    hooks = await _new_jobs(db, before, WEBHOOK_JOB)
    assert queued == 3  # one mail, two webhooks
    assert sorted(job.payload["subscription_id"] for job in hooks) == sorted(subscriptions)
    for job in hooks:
        assert SECRET not in str(job.payload)
        assert job.payload["event"] == "incident.resolved"
        assert f'"number":"{case.number}"' in job.payload["body"]
        assert f'"delivery_id":"{job.payload["delivery_id"]}"' in job.payload["body"]
    before = await _job_ids(db)
    await _notify(db, mail_settings, case, "accepted", desk.tech2.id, now=clock.now())
    (hook,) = await _new_jobs(db, before, WEBHOOK_JOB)
    assert hook.payload["subscription_id"] == everything.id


async def test_webhook_subscriptions_are_validated_and_deletable(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    async with db.write() as session:
        for url, events, secret, field in (
            ("file:///etc/passwd", ["*"], SECRET, "url"),
            ("https://ok.example", ["incident.exploded"], SECRET, "events"),
            ("https://ok.example", [], SECRET, "events"),
            ("https://ok.example", ["*"], "short", "secret"),
        ):
            with pytest.raises(ValidationFailed) as caught:
                await service.create_webhook(
                    session=session,
                    caller=desk.admin.caller,
                    url=url,
                    events=events,
                    secret=secret,
                    now=clock.now(),
                )
            assert caught.value.field == field
        row = await service.create_webhook(
            session=session,
            caller=desk.admin.caller,
            url="https://ok.example",
            events=["incident.created", "incident.created"],
            secret=SECRET,
            now=clock.now(),
        )
        assert row.events == ["incident.created"]
        await service.delete_webhook(session=session, caller=desk.admin.caller, webhook_id=row.id)
        with pytest.raises(NotFound):
            await service.get_webhook(session=session, caller=desk.admin.caller, webhook_id=row.id)


async def test_an_unknown_event_or_incident_is_refused(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    with pytest.raises(ValidationFailed, match="unknown event 'exploded'"):
        await _notify(db, mail_settings, case, "exploded", None, now=clock.now())
    with pytest.raises(NotFound):
        await _notify(
            db, mail_settings, Case(id=10**9, number="x"), "created", None, now=clock.now()
        )


async def test_a_reporter_who_reports_themselves_still_gets_the_receipt(
    db: Database, desk: Desk, clock: FixedClock, mail_settings: Settings
) -> None:
    case = await _case(db, desk, clock)
    before = await _job_ids(db)
    await _notify(db, mail_settings, case, "created", desk.user.id, now=clock.now())
    mails = await _new_jobs(db, before, MAIL_JOB)
    assert "user@desk.test" in [job.payload["to"] for job in mails]
    # A reply they post themselves is not mailed back to them.
    before = await _job_ids(db)
    await _notify(db, mail_settings, case, "public_reply", desk.user.id, now=clock.now())
    mails = await _new_jobs(db, before, MAIL_JOB)
    assert "user@desk.test" not in [job.payload["to"] for job in mails]
