"""The review workflow as data: draft → submitted → reviewed → approved, and who may act.

A step refused by the reviewer (the assistant director) or the approver (the director)
goes to ``returned`` with a mandatory comment; a returned review is edited and submitted
again like a draft. Who the assistant director and the director are is configured: a list
of users (ids or emails), or, when the list is empty, a minimum role. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsdesk.auth.roles import Caller, Role


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RETURNED = "returned"


class Step(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"
    APPROVE = "approve"
    RETURN = "return"


STATUS_LABELS = {
    ReviewStatus.DRAFT: "Draft",
    ReviewStatus.SUBMITTED: "Submitted",
    ReviewStatus.REVIEWED: "Reviewed",
    ReviewStatus.APPROVED: "Approved",
    ReviewStatus.RETURNED: "Returned",
}
STEP_LABELS = {
    Step.SUBMIT: "Submit for review",
    Step.REVIEW: "Mark reviewed",
    Step.APPROVE: "Approve",
    Step.RETURN: "Return with comments",
}

# (status, step) → next status
MOVES: dict[tuple[ReviewStatus, Step], ReviewStatus] = {
    (ReviewStatus.DRAFT, Step.SUBMIT): ReviewStatus.SUBMITTED,
    (ReviewStatus.RETURNED, Step.SUBMIT): ReviewStatus.SUBMITTED,
    (ReviewStatus.SUBMITTED, Step.REVIEW): ReviewStatus.REVIEWED,
    (ReviewStatus.SUBMITTED, Step.RETURN): ReviewStatus.RETURNED,
    (ReviewStatus.REVIEWED, Step.APPROVE): ReviewStatus.APPROVED,
    (ReviewStatus.REVIEWED, Step.RETURN): ReviewStatus.RETURNED,
}
# The sections are written while the author holds the review; action items are also
# filled in by the assistant director (seed 004) until the director approves.
EDITABLE = frozenset({ReviewStatus.DRAFT, ReviewStatus.RETURNED})
ITEMS_EDITABLE = frozenset(
    {ReviewStatus.DRAFT, ReviewStatus.RETURNED, ReviewStatus.SUBMITTED, ReviewStatus.REVIEWED}
)


@dataclass(frozen=True)
class Approvers:
    """Who acts as assistant director (reviewer) and director (approver)."""

    reviewer_role: Role = Role.INCIDENT_MANAGER
    reviewers: frozenset[str] = frozenset()
    approver_role: Role = Role.ADMIN
    approvers: frozenset[str] = frozenset()

    @staticmethod
    def parse(reviewer_role: str, reviewers: str, approver_role: str, approvers: str) -> Approvers:
        def names(text: str) -> frozenset[str]:
            return frozenset(part.strip().lower() for part in text.split(",") if part.strip())

        return Approvers(
            Role(reviewer_role), names(reviewers), Role(approver_role), names(approvers)
        )

    def is_reviewer(self, caller: Caller) -> bool:
        return _named(caller, self.reviewers, self.reviewer_role)

    def is_approver(self, caller: Caller) -> bool:
        return _named(caller, self.approvers, self.approver_role)


def _named(caller: Caller, names: frozenset[str], role: Role) -> bool:
    if names:
        return caller.user_id.lower() in names or caller.email.lower() in names
    return caller.can(role)


def next_status(status: ReviewStatus, step: Step) -> ReviewStatus | None:
    return MOVES.get((status, step))


def may_take(
    step: Step, status: ReviewStatus, caller: Caller, *, is_author: bool, approvers: Approvers
) -> bool:
    """Whether ``caller`` may take ``step`` on a review in ``status`` (the move must exist)."""
    if next_status(status, step) is None or not caller.is_staff:
        return False
    if step is Step.SUBMIT:
        return is_author or caller.can(Role.INCIDENT_MANAGER)
    if step is Step.REVIEW:
        return approvers.is_reviewer(caller)
    if step is Step.APPROVE:
        return approvers.is_approver(caller)
    # RETURN: whoever holds the review at this step
    if status is ReviewStatus.SUBMITTED:
        return approvers.is_reviewer(caller)
    return approvers.is_approver(caller)


def who_acts(step: Step, status: ReviewStatus) -> str:
    """Plain words for a refusal: who may take ``step`` here."""
    if step is Step.SUBMIT:
        return "the author or an incident manager"
    if step is Step.REVIEW or (step is Step.RETURN and status is ReviewStatus.SUBMITTED):
        return "the assistant director (the configured reviewers)"
    return "the director (the configured approvers)"


def required_for(level_label: str, major: bool, *, levels: frozenset[str], for_major: bool) -> bool:
    """Whether an incident of this level (``P1``…) and major flag needs a review."""
    return level_label.upper() in levels or (major and for_major)
