"""Post-incident reviews: the review itself. Started when a required incident resolves (or by
hand) with its time summary derived from the incident history, found, listed, and gathered
with everything shown beside it. Edits are in ``pir_editing``, the workflow in
``pir_approval``.

Services take the session and flush; the entry point commits. Only staff see reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks
from opsdesk.collaboration.models import IncidentTask
from opsdesk.core.errors import Conflict, Forbidden, NotFound
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import LEVEL_LABELS
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.reviews import pir_notices, time_summary
from opsdesk.reviews.pir_models import PostIncidentReview, ReviewActionItem, ReviewHistory
from opsdesk.reviews.pir_workflow import (
    EDITABLE,
    STATUS_LABELS,
    ReviewStatus,
    required_for,
)

# Review history actions of this module (edits and workflow steps name their own).
CREATED = "created"
TIMES_REFRESHED = "times_refreshed"


def requirement(incident: Incident, settings: Settings) -> str:
    """Why ``incident`` needs a review ('' when it does not)."""
    levels = frozenset(
        part.strip().upper() for part in settings.pir_required_levels.split(",") if part.strip()
    )
    label = LEVEL_LABELS[incident.level].en if incident.level in LEVEL_LABELS else incident.level
    if not required_for(label, incident.major, levels=levels, for_major=settings.pir_for_major):
        return ""
    if label.upper() in levels:
        return f"level {label} requires a post-incident review"
    return "every major incident requires a post-incident review"


def refuse_end_users(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("post-incident reviews are for staff only")


def _history_facts(rows: list[IncidentHistory]) -> list[time_summary.HistoryFact]:
    return [
        time_summary.HistoryFact(row.id, row.action, row.start_time, row.changes) for row in rows
    ]


async def incident_history(session: AsyncSession, incident_id: int) -> list[IncidentHistory]:
    rows = await session.scalars(
        select(IncidentHistory)
        .where(IncidentHistory.incident_id == incident_id)
        .order_by(IncidentHistory.start_time, IncidentHistory.id)
    )
    return list(rows)


def _stored(entry: time_summary.TimeEntry) -> dict[str, Any]:
    return {
        "value": entry.value.isoformat() if entry.value else None,
        "source_id": entry.source_id,
        "source_action": entry.source_action,
    }


async def _derive(session: AsyncSession, incident: Incident) -> dict[str, Any]:
    entries = time_summary.derive(
        _history_facts(await incident_history(session, incident.id)),
        fault_occurred_at=incident.fault_occurred_at,
        fault_recovery_at=incident.fault_recovery_at,
    )
    return {key: _stored(entry) for key, entry in entries.items()}


def record_history(
    session: AsyncSession,
    review: PostIncidentReview,
    *,
    action: str,
    actor_id: str | None,
    now: datetime,
    to_status: str | None = None,
    comment: str = "",
    changes: list[dict[str, Any]] | None = None,
) -> None:
    session.add(
        ReviewHistory(
            review_id=review.id,
            action=action,
            actor_id=actor_id,
            at=now,
            from_status=review.status,
            to_status=to_status or review.status,
            comment=comment,
            changes=changes or [],
        )
    )


def _first_text(incident: Incident, base_url: str) -> tuple[str, str]:
    link = f"{base_url.rstrip('/')}/incidents/{incident.number}"
    description = (incident.description or "").strip()
    description = f"{description}\n\nIncident: {link}" if description else f"Incident: {link}"
    parts = []
    if incident.cause:
        parts.append(f"Cause: {incident.cause}")
    if incident.solution:
        parts.append(f"Solution: {incident.solution}")
    return description, "\n\n".join(parts)


async def _review_of(session: AsyncSession, incident_id: int) -> PostIncidentReview | None:
    review: PostIncidentReview | None = await session.scalar(
        select(PostIncidentReview).where(PostIncidentReview.incident_id == incident_id)
    )
    return review


async def _create(
    session: AsyncSession,
    incident: Incident,
    *,
    actor_id: str | None,
    author_id: str | None,
    reason: str,
    now: datetime,
    settings: Settings,
) -> PostIncidentReview:
    description, resolution = _first_text(incident, settings.public_url)
    review = PostIncidentReview(
        incident_id=incident.id,
        status=ReviewStatus.DRAFT,
        required=bool(reason),
        required_reason=reason,
        title=incident.title,
        description=description,
        client_impact="",
        resolution=resolution,
        worked_well="",
        did_not_work="",
        recommendations="",
        time_summary=await _derive(session, incident),
        author_id=author_id,
        created_at=now,
        updated_at=now,
    )
    session.add(review)
    await session.flush()
    record_history(
        session,
        review,
        action=CREATED,
        actor_id=actor_id,
        now=now,
        comment=reason or "started by hand",
    )
    await session.flush()
    return review


async def ensure_review_on_resolve(
    session: AsyncSession, *, incident_id: int, now: datetime, settings: Settings | None = None
) -> PostIncidentReview | None:
    """When an incident resolves: start its review if required; refresh an open one's times.

    Run by the worker for each ``resolved`` incident event (incidents sit below reviews and
    cannot call up). Idempotent: a retried event finds the review and changes nothing new.
    """
    settings = settings or get_settings()
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return None
    review = await _review_of(session, incident.id)
    if review is None:
        reason = requirement(incident, settings)
        if not reason:
            return None
        return await _create(
            session,
            incident,
            actor_id=None,
            author_id=incident.assignee_id,
            reason=reason,
            now=now,
            settings=settings,
        )
    if review.status not in EDITABLE:
        return review
    # Resolved again (after a reopen): re-derive the times nobody edited by hand.
    fresh = await _derive(session, incident)
    summary = dict(review.time_summary)
    changes = []
    for key, entry in fresh.items():
        old = summary.get(key) or {}
        if old.get("edited") or old.get("value") == entry["value"]:
            continue
        changes.append({"field": key, "old": old.get("value"), "new": entry["value"]})
        summary[key] = entry
    if changes:
        review.time_summary = summary
        review.updated_at = now
        record_history(
            session, review, action=TIMES_REFRESHED, actor_id=None, now=now, changes=changes
        )
        await session.flush()
    return review


async def create_review(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    now: datetime,
    settings: Settings | None = None,
) -> tuple[PostIncidentReview, Incident]:
    """Start a review of any incident the caller (staff) may see; one per incident."""
    settings = settings or get_settings()
    refuse_end_users(caller)
    try:
        incident = await access_incident(session=session, caller=caller, number=number)
    except NotFound:
        raise NotFound(f"no incident {number}", field="incident_number") from None
    if await _review_of(session, incident.id) is not None:
        raise Conflict(
            f"incident {number} already has a post-incident review", field="incident_number"
        )
    review = await _create(
        session,
        incident,
        actor_id=caller.user_id,
        author_id=caller.user_id,
        reason=requirement(incident, settings),
        now=now,
        settings=settings,
    )
    return review, incident


async def get_review(
    *, session: AsyncSession, caller: Caller, review_id: int, for_update: bool = False
) -> tuple[PostIncidentReview, Incident]:
    refuse_end_users(caller)
    query = select(PostIncidentReview).where(PostIncidentReview.id == review_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    review = await session.scalar(query)
    if review is None:
        raise NotFound(f"no post-incident review {review_id}", field="review_id")
    incident = await session.get(Incident, review.incident_id)
    assert incident is not None
    return review, incident


async def review_of_incident(
    session: AsyncSession, *, caller: Caller, incident: Incident
) -> PostIncidentReview | None:
    """The review of an incident the adapter already loaded (staff only, else None)."""
    if not caller.is_staff:
        return None
    return await _review_of(session, incident.id)


async def list_reviews(
    *,
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    status: ReviewStatus | None = None,
    incident_number: str | None = None,
) -> Page[tuple[PostIncidentReview, Incident]]:
    """Reviews, latest change first, narrowed by status and incident."""
    refuse_end_users(caller)
    query = select(PostIncidentReview, Incident).join(
        Incident, Incident.id == PostIncidentReview.incident_id
    )
    if status is not None:
        query = query.where(PostIncidentReview.status == status)
    if incident_number:
        query = query.where(Incident.number == incident_number)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(PostIncidentReview.updated_at.desc(), PostIncidentReview.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    items = [(row[0], row[1]) for row in rows]
    return Page(items=items, total=total, page=page.page, per_page=page.per_page)


# --- the whole review, for the API, the pages and the exports ----------------------------


async def items_of(session: AsyncSession, review_id: int) -> list[ReviewActionItem]:
    rows = await session.scalars(
        select(ReviewActionItem)
        .where(ReviewActionItem.review_id == review_id)
        .order_by(ReviewActionItem.position, ReviewActionItem.id)
    )
    return list(rows)


async def task_states(session: AsyncSession, items: list[ReviewActionItem]) -> dict[int, str]:
    """Each linked task's status, read back from the tasks."""
    states: dict[int, str] = {}
    for item in items:
        if item.task_id is None:
            continue
        task: IncidentTask | None = await tasks.task_by_id(session, item.task_id)
        if task is not None:
            states[item.task_id] = task.status
    return states


@dataclass(frozen=True)
class ReviewBundle:
    """A review with everything shown beside it: incident, items and task states, history."""

    review: PostIncidentReview
    incident: Incident
    items: list[ReviewActionItem]
    task_status: dict[int, str]
    history: list[ReviewHistory]
    incident_history: list[IncidentHistory]
    names: dict[str, str]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[ReviewStatus(self.review.status)]

    @property
    def level_label(self) -> str:
        level = LEVEL_LABELS.get(self.incident.level)
        return level.en if level is not None else self.incident.level


async def bundle(
    session: AsyncSession, review: PostIncidentReview, incident: Incident
) -> ReviewBundle:
    items = await items_of(session, review.id)
    history = list(
        await session.scalars(
            select(ReviewHistory)
            .where(ReviewHistory.review_id == review.id)
            .order_by(ReviewHistory.at, ReviewHistory.id)
        )
    )
    rows = await incident_history(session, incident.id)
    user_ids = {
        review.author_id,
        review.reviewed_by,
        review.approved_by,
        incident.assignee_id,
        *(item.assignee_id for item in items),
        *(row.actor_id for row in history),
        *(row.operator_id for row in rows),
        *((entry.get("edited") or {}).get("by") for entry in review.time_summary.values()),
    }
    names = await pir_notices.names_of(session, [uid for uid in user_ids if uid])
    return ReviewBundle(
        review=review,
        incident=incident,
        items=items,
        task_status=await task_states(session, items),
        history=history,
        incident_history=rows,
        names=names,
    )
