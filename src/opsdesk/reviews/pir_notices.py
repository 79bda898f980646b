"""Mails of the review workflow: submitted → the assistant directors, reviewed → the
directors, returned or approved → the author. Through the incident notification machinery
(templates ``review_*``, their rules, the outbox), in the transaction of the step."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.core.errors import NotFound
from opsdesk.core.settings import Settings
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import notify_incident_event
from opsdesk.reviews.pir_models import PostIncidentReview
from opsdesk.reviews.pir_workflow import STATUS_LABELS, Approvers, ReviewStatus, Step

EVENTS = {
    Step.SUBMIT: "review_submitted",
    Step.REVIEW: "review_reviewed",
    Step.RETURN: "review_returned",
    Step.APPROVE: "review_approved",
}


async def names_of(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for user_id in set(user_ids):
        try:
            names[user_id] = (await auth.get_user(session=session, user_id=user_id)).name
        except NotFound:
            names[user_id] = user_id
    return names


async def people_for(session: AsyncSession, approvers: Approvers, *, director: bool) -> list[str]:
    """The active staff who act as assistant director (or director)."""
    check = approvers.is_approver if director else approvers.is_reviewer
    staff = await auth.active_staff(session=session)
    return [user.id for user in staff if check(auth.caller_of(user))]


async def tell(
    session: AsyncSession,
    *,
    review: PostIncidentReview,
    incident: Incident,
    step: Step,
    actor_id: str,
    comment: str,
    approvers: Approvers,
    now: datetime,
    settings: Settings,
) -> int:
    """Queue the mails of one workflow step; returns how many."""
    if step is Step.SUBMIT:
        people = await people_for(session, approvers, director=False)
    elif step is Step.REVIEW:
        people = await people_for(session, approvers, director=True)
    else:
        people = [review.author_id] if review.author_id else []
    author_ids = [review.author_id] if review.author_id else []
    author = (await names_of(session, author_ids)).get(review.author_id or "", "")
    return await notify_incident_event(
        session,
        incident_id=incident.id,
        event=EVENTS[step],
        actor_id=actor_id,
        now=now,
        comment=comment,
        extra={"event_key": f"review-{review.id}-{step}-{now.isoformat()}"},
        settings=settings,
        work={
            "kind": "review",
            "kind_label": "Post-incident review",
            "id": review.id,
            "title": review.title,
            "description": comment,
            "status": STATUS_LABELS[ReviewStatus(review.status)],
            "workgroup": "",
            "assignee_name": author,
            "due_at": "",
            "location": "",
            "url": f"{settings.public_url.rstrip('/')}/reviews/{review.id}",
        },
        work_people=people,
    )
