"""Demo post-incident review: a resolved P2 (accept, forward to a second level, work log,
reply, resolve) whose review is filled in, has action items and waits for review."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.schemas import ConversationCreate, WorkLogCreate
from opsdesk.core.clock import Clock
from opsdesk.core.settings import get_settings
from opsdesk.incidents import actions as action_service
from opsdesk.incidents import creation
from opsdesk.incidents.fields import Channel, Ownership, Source
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.schemas import AcceptParams, ForwardParams, IncidentCreate, ResolveParams
from opsdesk.reviews import pir_approval, pir_editing, pir_service
from opsdesk.reviews.pir_schemas import ActionItemCreate, Priority, ReviewSections
from opsdesk.reviews.pir_workflow import Step


async def load_demo_reviews(*, session: AsyncSession, clock: Clock) -> None:
    """The demo's P2 outage and its submitted post-incident review."""
    now = clock.now()
    settings = get_settings()

    async def caller(email: str) -> Caller:
        user = await auth_service.get_user_by_email(session=session, email=email)
        return auth_service.caller_of(user)

    tech, tech2 = await caller("tech@example.com"), await caller("tech2@example.com")
    manager = await caller("manager@example.com")
    start = now - timedelta(days=2, hours=5)
    incident = await creation.create_incident(
        session=session,
        caller=tech,
        data=IncidentCreate(
            title="Payroll database unreachable",
            description="The payroll application cannot reach its database; salaries cannot "
            "be entered before the monthly run.",
            level="P2",
            ownership=Ownership.ALARM_DETECTION,
            category="inc_type_p_function_issues",
            service_interrupted=True,
            fault_occurred_at=start,
            source=Source.ALARM,
            channel=Channel.MONITORING,
            assignee_id=tech.user_id,
        ),
        now=start + timedelta(minutes=6),
    )
    number = incident.number
    steps = (
        (tech, Action.ACCEPT, AcceptParams(comment="Looking at the database host"), 14),
        (
            tech,
            Action.FORWARD,
            ForwardParams(assignee_id=tech2.user_id, comment="Storage problem: second level"),
            35,
        ),
    )
    for who, action, params, minutes in steps:
        await action_service.take_action(
            session=session,
            caller=who,
            number=number,
            action=action,
            params=params,
            now=start + timedelta(minutes=minutes),
        )
    await collaboration.add_work_log(
        session=session,
        caller=tech2,
        number=number,
        data=WorkLogCreate(
            description="On the storage array: the database volume is full", time_spent_minutes=40
        ),
        now=start + timedelta(minutes=52),
    )
    await collaboration.add_conversation(
        session=session,
        caller=tech2,
        number=number,
        data=ConversationCreate(body="We found the cause and are freeing space now."),
        now=start + timedelta(minutes=70),
    )
    await action_service.take_action(
        session=session,
        caller=tech2,
        number=number,
        action=Action.RESOLVE,
        params=ResolveParams(
            cause="The database volume filled up with archived transaction logs",
            solution="Moved the archived logs to the backup store and grew the volume by 200 GB",
            fault_recovery_at=start + timedelta(hours=2, minutes=5),
        ),
        now=start + timedelta(hours=2, minutes=15),
    )
    # The worker starts the review on the resolve event; the demo does it at once.
    review = await pir_service.ensure_review_on_resolve(
        session, incident_id=incident.id, now=start + timedelta(hours=2, minutes=16)
    )
    assert review is not None
    at = start + timedelta(days=1)
    await pir_editing.update_sections(
        session=session,
        caller=tech2,
        review_id=review.id,
        data=ReviewSections(
            client_impact="Payroll clerks could not enter salaries for two hours; the monthly "
            "run was not delayed.",
            worked_well="- The disk alarm opened the incident within minutes.\n"
            "- Handing it to storage (second level) was quick.",
            did_not_work="- The log archive job had failed silently for three weeks.\n"
            "- Nobody watched the volume's growth.",
            recommendations="- Alert on a failed archive job.\n"
            "- Alert at 80 % volume use, not 95 %.\n"
            "- Review retention of archived logs.",
        ),
        now=at,
    )
    for item, owner, priority, days in (
        ("Alert when the log archive job fails", "Database team", Priority.HIGH, 7),
        ("Lower the volume alarm to 80 %", "Monitoring team", Priority.MEDIUM, 14),
    ):
        await pir_editing.add_item(
            session=session,
            caller=manager,
            review_id=review.id,
            data=ActionItemCreate(
                action=item,
                responsibility=owner,
                assignee_id=tech2.user_id,
                priority=priority,
                due_at=now + timedelta(days=days),
            ),
            now=at,
        )
    await pir_approval.take_step(
        session=session,
        caller=tech2,
        review_id=review.id,
        step=Step.SUBMIT,
        comment="Ready for the assistant director.",
        now=at + timedelta(minutes=5),
        settings=settings,
    )
