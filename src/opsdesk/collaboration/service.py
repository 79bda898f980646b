"""Use cases of working an incident together: replies, notes, work logs and feedback.

Every verb loads the incident through ``access_incident`` (so end users never learn about
others' incidents), writes its history row in the caller's transaction, flushes and never
commits. Each annotation also bumps the incident's ``updated_at`` and ``version``: it is
activity on the incident, and a client holding an older ETag should know.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration.models import ConversationEntry, Feedback, WorkLogEntry
from opsdesk.collaboration.schemas import RATING_MAX, ConversationCreate, FeedbackSet, WorkLogCreate
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.attachments import link_attachments
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules

# Feedback rates a solution, so there must be one.
FEEDBACK_STATUSES = frozenset({Status.RESOLVED, Status.COMPLETED})


@dataclass(frozen=True)
class WorkLogs:
    """An incident's work log, oldest first, and the time it adds up to."""

    items: list[WorkLogEntry]
    total_seconds: int

    @property
    def total_minutes(self) -> int:
        return self.total_seconds // 60


def _refuse_if_closed(incident: Incident, what: str) -> None:
    if incident.status == Status.COMPLETED:
        raise Conflict(
            f"incident {incident.number} is closed; reopen it first to add {what}",
            field="status",
        )


def _refuse_end_users(caller: Caller, what: str) -> None:
    if not caller.is_staff:
        raise Forbidden(f"{what} are for staff only; end users cannot see or add them")


def _touch(incident: Incident, now: datetime) -> None:
    incident.updated_at = now
    incident.version += 1


async def add_conversation(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    data: ConversationCreate,
    now: datetime,
) -> ConversationEntry:
    """Post a public reply or, for staff, an internal note, with its history row."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if data.internal and not caller.is_staff:
        raise Forbidden(
            "internal: end users can only post public replies, not internal notes",
            field="internal",
        )
    _refuse_if_closed(incident, "a note" if data.internal else "a reply")
    entry = ConversationEntry(
        incident_id=incident.id,
        author_id=caller.user_id,
        body=data.body,
        internal=data.internal,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    # An internal note's files are as private as the note.
    await link_attachments(
        session=session,
        incident=incident,
        attachment_ids=data.attachment_ids,
        context="conversation",
        conversation_id=entry.id,
        internal=data.internal,
        caller=caller,
    )
    _touch(incident, now)
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.NOTE if data.internal else HistoryAction.REPLY,
            operator_id=caller.user_id,
            now=now,
            comment=data.body,
            internal=data.internal,
        )
    )
    if not data.internal:
        await publish(
            session,
            incident_id=incident.id,
            events=[IncidentEvent.PUBLIC_REPLY],
            actor_id=caller.user_id,
            now=now,
            comment=data.body,
        )
    await session.flush()
    return entry


async def add_system_note(
    *, session: AsyncSession, incident: Incident, body: str, now: datetime
) -> None:
    """A staff-only history note written by opsdesk itself (e.g. a notification bounced)."""
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.NOTE,
            operator_id=None,
            now=now,
            comment=body[:2000],
            internal=True,
        )
    )
    await session.flush()


async def list_conversations(
    *, session: AsyncSession, caller: Caller, number: str
) -> list[ConversationEntry]:
    """The conversation, oldest first; end users see only the public replies."""
    incident = await access_incident(session=session, caller=caller, number=number)
    query = select(ConversationEntry).where(ConversationEntry.incident_id == incident.id)
    if not caller.is_staff:
        query = query.where(ConversationEntry.internal.is_(False))
    rows = await session.scalars(query.order_by(ConversationEntry.created_at, ConversationEntry.id))
    return list(rows)


async def add_work_log(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    data: WorkLogCreate,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
) -> WorkLogEntry:
    """Record work done and its duration (stored in seconds), with an internal history row."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    _refuse_end_users(caller, "work logs")
    _refuse_if_closed(incident, "a work log")
    if data.started_at is not None and data.started_at > now + rules.clock_skew:
        raise ValidationFailed(
            "started_at: must not be in the future "
            f"(more than {int(rules.clock_skew.total_seconds())} s ahead of the server clock)",
            field="started_at",
        )
    entry = WorkLogEntry(
        incident_id=incident.id,
        author_id=caller.user_id,
        description=data.description,
        time_spent_s=data.time_spent_minutes * 60,
        started_at=data.started_at,
        created_at=now,
    )
    session.add(entry)
    _touch(incident, now)
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.WORK_LOG,
            operator_id=caller.user_id,
            now=now,
            comment=f"{data.time_spent_minutes} min: {data.description}",
            internal=True,
        )
    )
    await session.flush()
    return entry


async def list_work_logs(*, session: AsyncSession, caller: Caller, number: str) -> WorkLogs:
    """The work log, oldest first, with its total; staff only."""
    incident = await access_incident(session=session, caller=caller, number=number)
    _refuse_end_users(caller, "work logs")
    rows = await session.scalars(
        select(WorkLogEntry)
        .where(WorkLogEntry.incident_id == incident.id)
        .order_by(WorkLogEntry.created_at, WorkLogEntry.id)
    )
    items = list(rows)
    return WorkLogs(items=items, total_seconds=sum(item.time_spent_s for item in items))


async def give_feedback(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    data: FeedbackSet,
    now: datetime,
) -> Feedback:
    """The reporter rates a resolved incident; a later answer replaces the earlier one."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if caller.user_id != incident.reporter_id:
        raise Forbidden(f"only the reporter of incident {number} may give feedback on it")
    if incident.status not in FEEDBACK_STATUSES:
        raise Conflict(
            f"incident {number} is {incident.status}; feedback is taken once it is "
            f"{Status.RESOLVED} or {Status.COMPLETED}",
            field="status",
        )
    # The incident row is locked above, so two answers at once cannot both insert.
    feedback = await session.get(Feedback, incident.id)
    if feedback is None:
        feedback = Feedback(
            incident_id=incident.id,
            reporter_id=caller.user_id,
            rating=data.rating,
            comment=data.comment,
            created_at=now,
            updated_at=now,
        )
        session.add(feedback)
    else:
        feedback.reporter_id = caller.user_id
        feedback.rating = data.rating
        feedback.comment = data.comment
        feedback.updated_at = now
    _touch(incident, now)
    summary = f"rating {data.rating}/{RATING_MAX}"
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.FEEDBACK,
            operator_id=caller.user_id,
            now=now,
            comment=f"{summary}: {data.comment}" if data.comment else summary,
        )
    )
    await session.flush()
    return feedback


async def get_feedback(*, session: AsyncSession, caller: Caller, number: str) -> Feedback:
    """The reporter's feedback, for the reporter and for staff."""
    incident = await access_incident(session=session, caller=caller, number=number)
    if not caller.is_staff and caller.user_id != incident.reporter_id:
        raise Forbidden(f"only the reporter of incident {number} and staff may read its feedback")
    feedback = await session.get(Feedback, incident.id)
    if feedback is None:
        raise NotFound(f"incident {number} has no feedback yet", field="feedback")
    return feedback
