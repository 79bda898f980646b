"""Post-incident reviews: the approval workflow. A step moves the review on (draft →
submitted → reviewed → approved, or back), leaves a history row and mails whoever acts next;
who may take which step is the pure rule set in ``pir_workflow``.

Services take the session and flush; the entry point commits. Only staff see reviews.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, Forbidden, ValidationFailed
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.models import Incident
from opsdesk.reviews import pir_notices
from opsdesk.reviews.pir_models import PostIncidentReview
from opsdesk.reviews.pir_service import get_review, record_history
from opsdesk.reviews.pir_workflow import (
    Approvers,
    ReviewStatus,
    Step,
    may_take,
    next_status,
    who_acts,
)


def approvers_of(settings: Settings) -> Approvers:
    return Approvers.parse(
        settings.pir_reviewer_role,
        settings.pir_reviewers,
        settings.pir_approver_role,
        settings.pir_approvers,
    )


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
    record_history(
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
