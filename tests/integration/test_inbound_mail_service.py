"""Inbound mail: store then process, against the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.auth.models import User
from opsdesk.collaboration.models import ConversationEntry
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Attachment, Incident, IncidentHistory
from opsdesk.intake.email import service
from opsdesk.intake.email.models import InboundMail
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.notify.models import BouncingAddress
from tests import mail_samples as samples
from tests.api.test_lifecycle_actions import ok, sample_params
from tests.factories import Desk, create_incident


@pytest.fixture
def rules(tmp_path: Path) -> MailRules:
    return MailRules(
        our_address="helpdesk@desk.test",
        our_domain="desk.test",
        storage_dir=tmp_path / "attachments",
    )


async def deliver(db: Database, clock: FixedClock, rules: MailRules, raw: bytes) -> InboundMail:
    """What every door does: store (commit), then process (commit)."""
    async with db.write() as session:
        stored = await service.store_mail(session, raw=raw, door="smtp", now=clock.now())
    async with db.write() as session:
        await service.process_pending(session, rules=rules, now=clock.now())
    async with db.read() as session:
        mail = await session.get(InboundMail, stored.id)
        assert mail is not None
        return mail


async def incident_of(db: Database, mail: InboundMail) -> Incident:
    async with db.read() as session:
        incident = await session.get(Incident, mail.incident_id)
        assert incident is not None
        return incident


async def test_new_mail_from_a_stranger_creates_a_contact_and_an_email_incident(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    raw = samples.outlook_html_with_inline_image("Anna Berg <Anna@Corp.example>", "Payroll down")
    mail = await deliver(db, clock, rules, raw)
    assert (mail.status, mail.outcome, mail.sender) == ("done", "created", "anna@corp.example")
    incident = await incident_of(db, mail)
    assert incident.channel == "email"
    assert incident.title == "Payroll down"
    assert "payroll export" in incident.description and "<b>" not in incident.description
    async with db.read() as session:
        user = await session.scalar(select(User).where(User.email == "anna@corp.example"))
        assert user is not None
        assert (user.name, user.role, user.password_hash) == ("Anna Berg", "end_user", None)
        assert incident.reporter_id == user.id
        files = list(await session.scalars(select(Attachment)))
    assert [(f.file_name, f.content_type) for f in files] == [("image001.png", "image/png")]


async def test_the_same_mail_twice_is_stored_once(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    raw = samples.plain("user@desk.test", "VPN down", "since 9")
    async with db.write() as session:
        first = await service.store_mail(session, raw=raw, door="imap", now=clock.now())
        again = await service.store_mail(session, raw=raw, door="smtp", now=clock.now())
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)
    no_id = b"From: user@desk.test\r\nSubject: x\r\n\r\nbody"
    async with db.write() as session:
        a = await service.store_mail(session, raw=no_id, door="pipe", now=clock.now())
        b = await service.store_mail(session, raw=no_id, door="pipe", now=clock.now())
        mail = await session.get(InboundMail, a.id)
    assert b.duplicate and mail is not None and mail.message_id.startswith("sha256:")


async def test_exe_attachment_is_refused_and_noted_on_the_incident(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    mail = await deliver(db, clock, rules, samples.exe_attachment("user@desk.test"))
    assert mail.outcome == "created"
    assert "setup.exe" in mail.reason
    incident = await incident_of(db, mail)
    assert "Attachments not accepted: setup.exe" in incident.description
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Attachment)) == 0


async def test_replies_thread_by_tag_then_by_references(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk, client: httpx.AsyncClient
) -> None:
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    number = first.incident_number
    assert number
    root = f"<incident-{number}@desk.test>"
    gmail = await deliver(
        db, clock, rules, samples.gmail_reply("user@desk.test", number, root, "Still jams.")
    )
    assert (gmail.outcome, gmail.incident_number) == ("threaded", number)
    # Apple Mail: no tag, no In-Reply-To; References names the user's own first mail only.
    apple = await deliver(
        db,
        clock,
        rules,
        samples.apple_reply_by_references("user@desk.test", [first.message_id], "Paper tray 2"),
    )
    assert (apple.outcome, apple.incident_number) == ("threaded", number)
    # A staff member's mailed answer is a public reply on their behalf.
    staff = await deliver(
        db, clock, rules, samples.gmail_reply("tech@desk.test", number, root, "Try tray 1.")
    )
    assert staff.outcome == "threaded"
    async with db.read() as session:
        entries = list(
            await session.scalars(select(ConversationEntry).order_by(ConversationEntry.id))
        )
    assert [(e.body, e.internal) for e in entries] == [
        ("Still jams.", False),
        ("Paper tray 2", False),
        ("Try tray 1.", False),
    ]
    assert entries[2].author_id == desk.tech.id


async def test_reply_to_resolved_reopens_and_to_completed_opens_a_linked_incident(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk, client: httpx.AsyncClient
) -> None:
    number = (await create_incident(client, desk.user, title="Mail sync"))["number"]
    for action in (Action.ACCEPT, Action.RESOLVE):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    root = f"<incident-{number}@desk.test>"
    reply = await deliver(
        db, clock, rules, samples.gmail_reply("user@desk.test", number, root, "Not fixed.")
    )
    assert reply.outcome == "reopened"
    incident = await incident_of(db, reply)
    assert (incident.status, incident.reopen_count) == ("INCIDENT_STATUS_ACKNOWLEDGED", 1)

    for action in (Action.RESOLVE, Action.CONFIRM):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    late = await deliver(
        db, clock, rules, samples.gmail_reply("user@desk.test", number, root, "Broken again")
    )
    assert (late.outcome, late.related_number) == ("linked", number)
    assert late.incident_number != number
    follow_up = await incident_of(db, late)
    assert number in follow_up.description and follow_up.channel == "email"


async def test_reopen_on_reply_can_be_turned_off(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk, client: httpx.AsyncClient
) -> None:
    number = (await create_incident(client, desk.user, title="Mail sync"))["number"]
    for action in (Action.ACCEPT, Action.RESOLVE):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    reply = await deliver(
        db,
        clock,
        replace(rules, reopen_on_reply=False),
        samples.gmail_reply("user@desk.test", number, f"<incident-{number}@x>", "thanks"),
    )
    assert reply.outcome == "threaded"
    assert (await incident_of(db, reply)).status == "INCIDENT_STATUS_RESOLVED"


async def test_auto_replies_and_our_own_mail_do_nothing(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    number = first.incident_number
    assert number
    ooo = await deliver(db, clock, rules, samples.out_of_office("user@desk.test", number))
    assert (ooo.outcome, ooo.incident_id) == ("ignored_auto_reply", None)
    own = samples.plain("helpdesk@desk.test", f"[#{number}] Incident created", "loop")
    own = own.replace(b"Subject:", b"X-Loop: helpdesk@desk.test\nSubject:", 1)
    looped = await deliver(db, clock, rules, own)
    assert looped.outcome == "ignored_own"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationEntry)) == 0
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1


async def test_bounce_is_logged_on_its_incident_and_marks_the_address(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    number = first.incident_number
    assert number
    original = f"<incident-{number}.assigned.abc123@desk.test>"
    bounce = await deliver(
        db, clock, rules, samples.dsn_bounce(original, "gone@corp.example", number)
    )
    assert (bounce.outcome, bounce.incident_number) == ("bounce", number)
    async with db.read() as session:
        address = await session.get(BouncingAddress, "gone@corp.example")
        assert address is not None and address.bounces == 1 and "5.1.1" in address.last_status
        notes = list(
            await session.scalars(
                select(IncidentHistory.comment).where(
                    IncidentHistory.incident_id == first.incident_id,
                    IncidentHistory.internal.is_(True),
                )
            )
        )
    assert any("gone@corp.example bounced" in note for note in notes)


async def test_a_delayed_report_leaves_the_address_usable_a_failed_one_marks_it(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    number = first.incident_number
    assert number
    original = f"<incident-{number}.assigned.abc123@desk.test>"
    delayed = await deliver(
        db, clock, rules, samples.dsn_delayed(original, "slow@corp.example", number)
    )
    assert (delayed.outcome, delayed.incident_number) == ("bounce", number)
    assert "not delivered yet" in delayed.reason and "4.4.1" in delayed.reason
    async with db.read() as session:
        assert await session.get(BouncingAddress, "slow@corp.example") is None
        notes = list(
            await session.scalars(
                select(IncidentHistory.comment).where(
                    IncidentHistory.incident_id == first.incident_id,
                    IncidentHistory.internal.is_(True),
                )
            )
        )
    # Still logged on the incident, as before.
    assert any("slow@corp.example not delivered yet" in note for note in notes)
    clock.advance(timedelta(hours=5))
    failed = await deliver(
        db,
        clock,
        rules,
        samples.dsn_bounce(
            original, "slow@corp.example", number, status="5.4.7", diagnostic="delivery expired"
        ),
    )
    assert failed.outcome == "bounce" and "bounced" in failed.reason
    async with db.read() as session:
        address = await session.get(BouncingAddress, "slow@corp.example")
        assert address is not None and address.bounces == 1
        assert address.last_status == "failed 5.4.7 delivery expired"
        assert address.last_incident_id == first.incident_id


async def test_a_report_on_two_recipients_marks_only_the_one_that_failed(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    first = await deliver(db, clock, rules, samples.plain("user@desk.test", "Printer", "jams"))
    number = first.incident_number
    assert number
    original = f"<incident-{number}.assigned.abc123@desk.test>"
    # The delayed recipient comes first: its 4.4.1 must not decide for the failed one, nor
    # the failed one's 5.1.1 for it.
    report = await deliver(
        db,
        clock,
        rules,
        samples.dsn_mixed(original, "Gone@Corp.example", "slow@corp.example", number),
    )
    assert (report.outcome, report.incident_number) == ("bounce", number)
    assert "slow@corp.example not delivered yet" in report.reason
    assert "Gone@Corp.example bounced: failed 5.1.1" in report.reason
    async with db.read() as session:
        assert await session.get(BouncingAddress, "slow@corp.example") is None
        gone = await session.get(BouncingAddress, "gone@corp.example")
        assert gone is not None and gone.bounces == 1
        assert gone.last_status.startswith("failed 5.1.1 smtp; 550 5.1.1")
        assert gone.last_incident_id == first.incident_id
        notes = list(
            await session.scalars(
                select(IncidentHistory.comment).where(
                    IncidentHistory.incident_id == first.incident_id,
                    IncidentHistory.internal.is_(True),
                )
            )
        )
    assert any(
        "slow@corp.example not delivered yet" in note and "Gone@Corp.example bounced" in note
        for note in notes
    )


async def test_rate_limit_holds_then_an_admin_processes_again(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    limited = replace(rules, rate_limit=2, rate_window=timedelta(minutes=5))
    outcomes = [
        (await deliver(db, clock, limited, samples.plain("user@desk.test", f"n{i}", "x"))).outcome
        for i in range(3)
    ]
    assert outcomes == ["created", "created", "held_rate_limit"]
    async with db.read() as session:
        held = await session.scalar(select(InboundMail).where(InboundMail.status == "held"))
        assert held is not None
    async with db.write() as session:
        again = await service.process_again(
            session, caller=desk.admin.caller, mail_id=held.id, rules=limited, now=clock.now()
        )
        assert (again.status, again.outcome) == ("done", "created")


async def test_unreadable_mail_is_kept_as_failed(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    mail = await deliver(db, clock, rules, b"\r\n\r\n   \r\n")
    assert (mail.status, mail.outcome) == ("failed", "failed_parse")
    assert mail.raw == b"\r\n\r\n   \r\n"


async def test_unknown_senders_can_be_refused_with_a_polite_reply(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    strict = replace(rules, unknown_senders="refuse")
    mail = await deliver(db, clock, strict, samples.plain("who@else.example", "Hi", "help"))
    assert mail.outcome == "refused" and "not a known user" in mail.reason
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 0
        reply = await session.scalar(select(Job).where(Job.kind == "mail.deliver"))
    assert reply is not None and reply.payload["to"] == "who@else.example"
    assert (reply.state, reply.last_error) == ("ready", None)


async def test_the_polite_refusal_to_a_bouncing_sender_is_skipped_and_recorded(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    strict = replace(rules, unknown_senders="refuse")
    report = samples.dsn_bounce("<refusal.1@desk.test>", "Who@Else.example", "")
    assert (await deliver(db, clock, strict, report)).outcome == "bounce"
    mail = await deliver(db, clock, strict, samples.plain("who@else.example", "Hi", "help"))
    assert mail.outcome == "refused" and "not a known user" in mail.reason
    async with db.read() as session:
        replies = list(await session.scalars(select(Job).where(Job.kind == "mail.deliver")))
    assert len(replies) == 1
    (reply,) = replies
    assert reply.payload["to"] == "who@else.example" and reply.state == "done"
    assert reply.last_error is not None
    assert reply.last_error.startswith("skipped: address bounces (1 bounce")
    assert reply.attempts == 0 and "5.1.1" in reply.last_error


async def test_one_bad_mail_in_a_batch_costs_only_itself(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    raws = [
        samples.plain("first@corp.example", "One", "x"),
        # An address the user rules refuse: creating the contact fails inside the service.
        samples.plain("Printer <printer@localhost>", "Two", "x"),
        samples.plain("third@corp.example", "Three", "x"),
    ]
    async with db.write() as session:
        ids = [
            (await service.store_mail(session, raw=raw, door="smtp", now=clock.now())).id
            for raw in raws
        ]
    async with db.write() as session:
        assert await service.process_pending(session, rules=rules, now=clock.now()) == 3
    async with db.read() as session:
        mails = [await session.get(InboundMail, mail_id) for mail_id in ids]
        outcomes = [(m.status, m.outcome) for m in mails if m is not None]
        incidents = await session.scalar(select(func.count()).select_from(Incident))
    assert outcomes == [("done", "created"), ("failed", "refused"), ("done", "created")]
    assert mails[1] is not None and "printer@localhost" in mails[1].reason
    assert incidents == 2


async def test_mails_arriving_together_are_committed_together_and_each_answered(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    import asyncio

    from opsdesk.intake.email.intake import Intake

    intake = Intake(db=db, clock=clock, rules=rules)
    raws = [samples.plain(f"p{i}@corp.example", f"Mail {i}", "x") for i in range(20)]
    stored = await asyncio.gather(*(intake.store(raw, door="smtp") for raw in [*raws, raws[3]]))
    assert len({s.id for s in stored}) == 20
    assert [s.duplicate for s in stored].count(True) == 1
    assert await intake.process_all() == 20
    async with db.read() as session:
        outcomes = list(await session.scalars(select(InboundMail.outcome)))
    assert outcomes == ["created"] * 20


async def test_one_batch_counts_its_own_mails_and_threads_replies_to_them(
    db: Database, clock: FixedClock, rules: MailRules, desk: Desk
) -> None:
    limited = replace(rules, rate_limit=2)
    first = samples.plain("nat@corp.example", "Wi-Fi", "down", message_id="<wifi-1@corp.example>")
    reply = samples.apple_reply_by_references(
        "nat@corp.example", ["<wifi-1@corp.example>"], "Also on floor 2"
    )
    third = samples.plain("nat@corp.example", "Another", "x")
    async with db.write() as session:
        ids = [
            (await service.store_mail(session, raw=raw, door="smtp", now=clock.now())).id
            for raw in (first, reply, third)
        ]
    async with db.write() as session:
        assert await service.process_pending(session, rules=limited, now=clock.now()) == 3
    async with db.read() as session:
        mails = [await session.get(InboundMail, mail_id) for mail_id in ids]
        users = await session.scalar(
            select(func.count()).select_from(User).where(User.email == "nat@corp.example")
        )
    assert [(m.outcome, m.incident_number) for m in mails if m is not None] == [
        ("created", mails[0].incident_number if mails[0] else None),
        ("threaded", mails[0].incident_number if mails[0] else None),
        ("held_rate_limit", None),
    ]
    assert users == 1
