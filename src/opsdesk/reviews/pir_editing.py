"""Post-incident reviews: edits while the review is open. Sections and hand-set times (the
old value, who and why kept with each), and action items, each tracked by an incident task.

Services take the session and flush; the entry point commits. Only staff see reviews.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks
from opsdesk.collaboration.work_schemas import TaskCreate, TaskUpdate
from opsdesk.collaboration.work_states import OPEN_TASK_STATUSES, TaskStatus
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.incidents.models import Incident
from opsdesk.reviews import time_summary
from opsdesk.reviews.pir_models import PostIncidentReview, ReviewActionItem
from opsdesk.reviews.pir_schemas import (
    ActionItemCreate,
    ActionItemUpdate,
    ReviewSections,
    TimeEdit,
    TimeKey,
)
from opsdesk.reviews.pir_service import get_review, items_of, record_history
from opsdesk.reviews.pir_workflow import EDITABLE, ITEMS_EDITABLE, ReviewStatus

# Review history actions of the edits.
EDITED = "edited"
TIME_EDITED = "time_edited"
ITEM_ADDED = "item_added"
ITEM_CHANGED = "item_changed"
ITEM_REMOVED = "item_removed"


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
        record_history(
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
    record_history(
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
) -> tuple[ReviewActionItem, PostIncidentReview, Incident]:
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
    record_history(
        session,
        review,
        action=ITEM_ADDED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {position}: {data.action} (task #{task.id})",
    )
    await session.flush()
    return item, review, incident


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
) -> tuple[ReviewActionItem, PostIncidentReview, Incident]:
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
        return item, review, incident
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
    record_history(
        session,
        review,
        action=ITEM_CHANGED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {item.position}: {item.action}",
        changes=changes,
    )
    await session.flush()
    return item, review, incident


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
    record_history(
        session,
        review,
        action=ITEM_REMOVED,
        actor_id=caller.user_id,
        now=now,
        comment=f"Action item {item.position}: {item.action}",
    )
    await session.flush()


def may_edit(review: PostIncidentReview, caller: Caller) -> bool:
    return caller.is_staff and ReviewStatus(review.status) in EDITABLE


def may_edit_items(review: PostIncidentReview, caller: Caller) -> bool:
    return caller.is_staff and ReviewStatus(review.status) in ITEMS_EDITABLE
