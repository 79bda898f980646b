"""The lifecycle of a knowledge article: its statuses, the steps between them and who may
take each (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsdesk.auth.roles import Role


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RETIRED = "retired"


class Visibility(StrEnum):
    STAFF = "staff"  # the console only
    PUBLIC = "public"  # also end users in the portal


class ArticleStep(StrEnum):
    """The workflow actions: ``POST /api/v1/articles/{id}/actions/{step}``."""

    SUBMIT = "submit"
    PUBLISH = "publish"
    RETIRE = "retire"
    DRAFT = "draft"


@dataclass(frozen=True)
class Move:
    step: ArticleStep
    source: ArticleStatus
    target: ArticleStatus
    role: Role  # the least role that may take it
    label: str


# Technicians write and submit; an incident manager or admin reviews, publishes and retires.
# An article in review goes back to draft for rework; a retired one may be revised (draft)
# or published again as it is.
MOVES: tuple[Move, ...] = (
    Move(
        ArticleStep.SUBMIT,
        ArticleStatus.DRAFT,
        ArticleStatus.IN_REVIEW,
        Role.TECHNICIAN,
        "Submit for review",
    ),
    Move(
        ArticleStep.PUBLISH,
        ArticleStatus.IN_REVIEW,
        ArticleStatus.PUBLISHED,
        Role.INCIDENT_MANAGER,
        "Publish",
    ),
    Move(
        ArticleStep.PUBLISH,
        ArticleStatus.RETIRED,
        ArticleStatus.PUBLISHED,
        Role.INCIDENT_MANAGER,
        "Publish again",
    ),
    Move(
        ArticleStep.RETIRE,
        ArticleStatus.PUBLISHED,
        ArticleStatus.RETIRED,
        Role.INCIDENT_MANAGER,
        "Retire",
    ),
    Move(
        ArticleStep.DRAFT,
        ArticleStatus.IN_REVIEW,
        ArticleStatus.DRAFT,
        Role.TECHNICIAN,
        "Back to draft",
    ),
    Move(
        ArticleStep.DRAFT,
        ArticleStatus.RETIRED,
        ArticleStatus.DRAFT,
        Role.TECHNICIAN,
        "Revise as a draft",
    ),
)

STATUS_LABELS = {
    ArticleStatus.DRAFT: "Draft",
    ArticleStatus.IN_REVIEW: "In review",
    ArticleStatus.PUBLISHED: "Published",
    ArticleStatus.RETIRED: "Retired",
}
VISIBILITY_LABELS = {Visibility.STAFF: "Staff only", Visibility.PUBLIC: "Staff and end users"}


class StepRefused(ValueError):
    """A step the lifecycle does not allow from this status; the message names the allowed."""


class StepForbidden(PermissionError):
    """A step the caller's role may not take; the message names the role needed."""


def moves_from(status: ArticleStatus) -> list[Move]:
    return [move for move in MOVES if move.source == status]


def available_moves(status: ArticleStatus, role: Role) -> list[Move]:
    """The steps ``role`` may take on an article in ``status``, in workflow order."""
    return [move for move in moves_from(status) if role.at_least(move.role)]


def check_step(status: ArticleStatus, step: ArticleStep, role: Role) -> Move:
    """The move ``step`` makes from ``status``, or ``StepRefused`` / ``StepForbidden``."""
    for move in moves_from(status):
        if move.step == step:
            if not role.at_least(move.role):
                raise StepForbidden(
                    f"step: only an incident manager or admin may {step} an article"
                    if move.role == Role.INCIDENT_MANAGER
                    else f"step: only staff may {step} an article"
                )
            return move
    allowed = ", ".join(str(move.step) for move in moves_from(status)) or "nothing"
    raise StepRefused(f"step: an article that is {status} can take {allowed}, not {step}")


def may_edit(status: ArticleStatus, role: Role) -> bool:
    """Technicians edit drafts and articles in review; a published or retired article's
    text is changed by an incident manager or admin (or revised as a draft first)."""
    if not role.at_least(Role.TECHNICIAN):
        return False
    if status in (ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW):
        return True
    return role.at_least(Role.INCIDENT_MANAGER)


def readable_by_end_users(status: ArticleStatus, visibility: Visibility) -> bool:
    """End users read only published articles meant for them."""
    return status == ArticleStatus.PUBLISHED and visibility == Visibility.PUBLIC


def feedback_delta(old: bool | None, new: bool) -> tuple[int, int]:
    """How one user's vote moves (helped, not helped): a first vote adds one, a changed vote
    moves one from the other side, the same vote again changes nothing."""
    if old is None:
        return (1, 0) if new else (0, 1)
    if old == new:
        return (0, 0)
    return (1, -1) if new else (-1, 1)
