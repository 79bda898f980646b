"""Post-incident reviews: created when a required incident resolves (or by hand), the time
summary from the history, edits with reasons, action items as incident tasks, the workflow.

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
from opsdesk.collaboration.work_schemas import TaskCreate, TaskUpdate
from opsdesk.collaboration.work_states import OPEN_TASK_STATUSES, TaskStatus
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import LEVEL_LABELS
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.reviews import pir_notices, time_summary
from opsdesk.reviews.pir_models import PostIncidentReview, ReviewActionItem, ReviewHistory
from opsdesk.reviews.pir_schemas import (
    ActionItemCreate,
    ActionItemUpdate,
    ReviewSections,
    TimeEdit,
    TimeKey,
)
from opsdesk.reviews.pir_workflow import (
    EDITABLE,
    ITEMS_EDITABLE,
    STATUS_LABELS,
    Approvers,
    ReviewStatus,
    Step,
    may_take,
    next_status,
    required_for,
    who_acts,
)

# Review history actions besides the workflow steps.
CREATED = "created"
EDITED = "edited"
TIME_EDITED = "time_edited"
TIMES_REFRESHED = "times_refreshed"
ITEM_ADDED = "item_added"
ITEM_CHANGED = "item_changed"
ITEM_REMOVED = "item_removed"


def approvers_of(settings: Settings) -> Approvers:
    return Approvers.parse(
        settings.pir_reviewer_role,
        settings.pir_reviewers,
        settings.pir_approver_role,
        settings.pir_approvers,
    )


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


def _refuse_end_users(caller: Caller) -> None:
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


def _record(
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
    _record(
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
        _record(session, review, action=TIMES_REFRESHED, actor_id=None, now=now, changes=changes)
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
    _refuse_end_users(caller)
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
    _refuse_end_users(caller)
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
    _refuse_end_users(caller)
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


def _check_editable(
    review: PostIncidentReview, what: str, allowed: frozenset[ReviewStatus]
) -> None:
    if ReviewStatus(review.status) not in allowed:
        raise Conflict(
            f"the review is {review.status}: its {what} can no longer be changed",
            field="status",
        )


async def update_sections(
    *, session: AsyncSession, caller: Caller, review_id: int, data: ReviewSections, now: datetime
) -> tuple[PostIncidentReview, Incident]:
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    _check_editable(review, "sections", EDITABLE)
    sent = data.model_dump(exclude_unset=True)
    for field, value in sent.items():
        if value is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    changes = []
    for field, value in sent.items():
        if getattr(review, field) != value:
            changes.append({"field": field, "old": getattr(review, field), "new": value})
            setattr(review, field, value)
    if changes:
        review.updated_at = now
        _record(
            session,
            review,
            action=EDITED,
            actor_id=caller.user_id,
            now=now,
            comment=", ".join(str(c["field"]) for c in changes),
            changes=changes,
        )
        await session.flush()
    return review, incident


async def edit_time(
    *,
    session: AsyncSession,
    caller: Caller,
    review_id: int,
    key: TimeKey,
    data: TimeEdit,
    now: datetime,
) -> tuple[PostIncidentReview, Incident]:
    """Set one time by hand: the old value, who and why are kept with it and in the history."""
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    _check_editable(review, "time summary", EDITABLE)
    summary = dict(review.time_summary)
    entry = dict(summary.get(key.value) or {"value": None, "source_id": None, "source_action": ""})
    old = entry.get("value")
    new = data.value.isoformat() if data.value else None
    entry["edited"] = {
        "by": caller.user_id,
        "at": now.isoformat(),
        "reason": data.reason,
        "old": (entry.get("edited") or {}).get("old", old),
    }
    entry["value"] = new
    summary[key.value] = entry
    review.time_summary = summary
    review.updated_at = now
    _record(
        session,
        review,
        action=TIME_EDITED,
        actor_id=caller.user_id,
        now=now,
        comment=f"{time_summary.LABELS[key.value]}: {data.reason}",
        changes=[{"field": key.value, "old": old, "new": new}],
    )
    await session.flush()
    return review, incident


# --- action items ------------------------------------------------------------------------


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


def _task_text(review: PostIncidentReview, item: ReviewActionItem) -> str:
    owner = f" Responsibility: {item.responsibility}." if item.responsibility else ""
    return (
        f"Post-incident action item {item.position} of review #{review.id} "
        f"(priority {item.priority}).{owner}"
    )


async def add_item(
    *,
    session: AsyncSession,
    caller: Caller,
    review_id: int,
    data: ActionItemCreate,
    now: datetime,
) -> tuple[ReviewActionItem, PostIncidentReview]:
    """Add an action item and the incident task that tracks it until done."""
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    _check_editable(review, "action items", ITEMS_EDITABLE)
    position = max((item.position for item in await items_of(session, review.id)), default=0) + 1
    item = ReviewActionItem(
        review_id=review.id,
        position=position,
        action=data.action,
        responsibility=data.responsibility,
        assignee_id=data.assignee_id,
        priority=data.priority.value,
        due_at=data.due_at,
        created_at=now,
        updated_at=now,
    )
    task = await tasks.create_task(
        session=session,
        caller=caller,
        number=incident.number,
        data=TaskCreate(
            title=data.action,
            description=_task_text(review, item),
            assignee_id=data.assignee_id,
            due_at=data.due_at,
        ),
        now=now,
    )
    item.task_id = task.id
    session.add(item)
    review.updated_at = now
    _record(
        session,
        review,
        action=ITEM_ADDED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {position}: {data.action} (task #{task.id})",
    )
    await session.flush()
    return item, review


async def _item(
    session: AsyncSession, review: PostIncidentReview, item_id: int
) -> ReviewActionItem:
    item = await session.get(ReviewActionItem, item_id)
    if item is None or item.review_id != review.id:
        raise NotFound(f"review {review.id} has no action item {item_id}", field="item_id")
    return item


async def update_item(
    *,
    session: AsyncSession,
    caller: Caller,
    review_id: int,
    item_id: int,
    data: ActionItemUpdate,
    now: datetime,
) -> tuple[ReviewActionItem, PostIncidentReview]:
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    _check_editable(review, "action items", ITEMS_EDITABLE)
    item = await _item(session, review, item_id)
    sent = data.model_dump(exclude_unset=True)
    for field in ("action", "responsibility", "priority"):
        if field in sent and sent[field] is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    changes = []
    for field, value in sent.items():
        stored = value.value if hasattr(value, "value") else value
        if getattr(item, field) != stored:
            changes.append({"field": field, "old": str(getattr(item, field)), "new": str(stored)})
            setattr(item, field, stored)
    if not changes:
        return item, review
    task_change: dict[str, Any] = {
        key: sent[key] for key in ("assignee_id", "due_at") if key in sent
    }
    if "action" in sent:
        task_change["title"] = sent["action"]
    if "responsibility" in sent or "priority" in sent:
        task_change["description"] = _task_text(review, item)
    if item.task_id is not None and task_change:
        task = await tasks.task_by_id(session, item.task_id)
        if task is not None and TaskStatus(task.status) in OPEN_TASK_STATUSES:
            await tasks.update_task(
                session=session,
                caller=caller,
                number=incident.number,
                task_id=item.task_id,
                data=TaskUpdate.model_validate(task_change),
                now=now,
            )
    item.updated_at = now
    review.updated_at = now
    _record(
        session,
        review,
        action=ITEM_CHANGED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {item.position}: {item.action}",
        changes=changes,
    )
    await session.flush()
    return item, review


async def remove_item(
    *, session: AsyncSession, caller: Caller, review_id: int, item_id: int, now: datetime
) -> None:
    """Remove an action item; its task, if still open, is cancelled."""
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    _check_editable(review, "action items", ITEMS_EDITABLE)
    item = await _item(session, review, item_id)
    if item.task_id is not None:
        task = await tasks.task_by_id(session, item.task_id)
        if task is not None and TaskStatus(task.status) in OPEN_TASK_STATUSES:
            await tasks.update_task(
                session=session,
                caller=caller,
                number=incident.number,
                task_id=item.task_id,
                data=TaskUpdate(status=TaskStatus.CANCELLED),
                now=now,
            )
    await session.delete(item)
    review.updated_at = now
    _record(
        session,
        review,
        action=ITEM_REMOVED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {item.position}: {item.action}",
    )
    await session.flush()


# --- workflow ----------------------------------------------------------------------------


def steps_for(review: PostIncidentReview, caller: Caller, approvers: Approvers) -> list[Step]:
    status = ReviewStatus(review.status)
    is_author = review.author_id == caller.user_id
    return [
        step
        for step in Step
        if may_take(step, status, caller, is_author=is_author, approvers=approvers)
    ]


async def take_step(
    *,
    session: AsyncSession,
    caller: Caller,
    review_id: int,
    step: Step,
    comment: str,
    now: datetime,
    settings: Settings | None = None,
) -> tuple[PostIncidentReview, Incident]:
    """Move the review one step on; a history row and a mail to whoever acts next."""
    settings = settings or get_settings()
    approvers = approvers_of(settings)
    review, incident = await get_review(
        session=session, caller=caller, review_id=review_id, for_update=True
    )
    status = ReviewStatus(review.status)
    target = next_status(status, step)
    if target is None:
        raise Conflict(f"a {status} review cannot take the step {step}", field="status")
    if not may_take(
        step, status, caller, is_author=review.author_id == caller.user_id, approvers=approvers
    ):
        raise Forbidden(f"only {who_acts(step, status)} may {step} this review", field="step")
    if step is Step.RETURN and not comment:
        raise ValidationFailed("comment: say what must change when returning", field="comment")
    if step is Step.SUBMIT and not review.title.strip():
        raise ValidationFailed("title: a review needs a title", field="title")
    _record(
        session,
        review,
        action=step.value,
        actor_id=caller.user_id,
        now=now,
        to_status=target,
        comment=comment,
    )
    if step is Step.SUBMIT:
        review.submitted_at = now
        if review.author_id is None:
            review.author_id = caller.user_id
    elif step is Step.REVIEW:
        review.reviewed_by, review.reviewed_at = caller.user_id, now
    elif step is Step.APPROVE:
        review.approved_by, review.approved_at = caller.user_id, now
    else:
        review.reviewed_by = review.reviewed_at = None
    review.status = target
    review.updated_at = now
    await session.flush()
    await pir_notices.tell(
        session,
        review=review,
        incident=incident,
        step=step,
        actor_id=caller.user_id,
        comment=comment,
        approvers=approvers,
        now=now,
        settings=settings,
    )
    return review, incident


# --- the whole review, for the API, the pages and the exports ----------------------------


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


def may_edit(review: PostIncidentReview, caller: Caller) -> bool:
    return caller.is_staff and ReviewStatus(review.status) in EDITABLE


def may_edit_items(review: PostIncidentReview, caller: Caller) -> bool:
    return caller.is_staff and ReviewStatus(review.status) in ITEMS_EDITABLE
