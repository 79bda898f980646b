"""The knowledge article workflow and vote arithmetic, without a database."""

from __future__ import annotations

import itertools

import pytest

from opsdesk.auth.roles import Role
from opsdesk.knowledge.article_states import (
    MOVES,
    ArticleStatus,
    ArticleStep,
    StepForbidden,
    StepRefused,
    Visibility,
    available_moves,
    check_step,
    feedback_delta,
    may_edit,
    readable_by_end_users,
)


def test_the_workflow_is_draft_review_published_retired_and_back() -> None:
    moves = {(m.source, m.step): m.target for m in MOVES}
    assert moves == {
        (ArticleStatus.DRAFT, ArticleStep.SUBMIT): ArticleStatus.IN_REVIEW,
        (ArticleStatus.IN_REVIEW, ArticleStep.PUBLISH): ArticleStatus.PUBLISHED,
        (ArticleStatus.RETIRED, ArticleStep.PUBLISH): ArticleStatus.PUBLISHED,
        (ArticleStatus.PUBLISHED, ArticleStep.RETIRE): ArticleStatus.RETIRED,
        (ArticleStatus.IN_REVIEW, ArticleStep.DRAFT): ArticleStatus.DRAFT,
        (ArticleStatus.RETIRED, ArticleStep.DRAFT): ArticleStatus.DRAFT,
    }


@pytest.mark.parametrize(
    ("status", "step", "role"),
    list(itertools.product(ArticleStatus, ArticleStep, Role)),
)
def test_every_status_step_and_role(status: ArticleStatus, step: ArticleStep, role: Role) -> None:
    move = next((m for m in MOVES if m.source == status and m.step == step), None)
    if move is None:
        with pytest.raises(StepRefused, match=r"^step: "):
            check_step(status, step, role)
        return
    if not role.at_least(move.role):
        with pytest.raises(StepForbidden, match=r"^step: "):
            check_step(status, step, role)
        assert move not in available_moves(status, role)
        return
    assert check_step(status, step, role) is move
    assert move in available_moves(status, role)


def test_publishing_and_retiring_need_a_manager() -> None:
    assert [m.step for m in available_moves(ArticleStatus.IN_REVIEW, Role.TECHNICIAN)] == [
        ArticleStep.DRAFT
    ]
    assert [m.step for m in available_moves(ArticleStatus.PUBLISHED, Role.TECHNICIAN)] == []
    assert [m.step for m in available_moves(ArticleStatus.PUBLISHED, Role.ADMIN)] == [
        ArticleStep.RETIRE
    ]
    assert available_moves(ArticleStatus.DRAFT, Role.END_USER) == []


def test_who_may_edit() -> None:
    assert may_edit(ArticleStatus.DRAFT, Role.TECHNICIAN)
    assert may_edit(ArticleStatus.IN_REVIEW, Role.TECHNICIAN)
    assert not may_edit(ArticleStatus.PUBLISHED, Role.TECHNICIAN)
    assert may_edit(ArticleStatus.PUBLISHED, Role.INCIDENT_MANAGER)
    assert not may_edit(ArticleStatus.DRAFT, Role.END_USER)


def test_end_users_read_only_published_public_articles() -> None:
    readable = {
        (status, visibility)
        for status in ArticleStatus
        for visibility in Visibility
        if readable_by_end_users(status, visibility)
    }
    assert readable == {(ArticleStatus.PUBLISHED, Visibility.PUBLIC)}


@pytest.mark.parametrize("votes", list(itertools.product([True, False], repeat=4)))
def test_vote_deltas_keep_the_counters_equal_to_the_last_votes(votes: tuple[bool, ...]) -> None:
    helped = not_helped = 0
    last: bool | None = None
    for vote in votes:
        more_helped, more_not = feedback_delta(last, vote)
        helped, not_helped, last = helped + more_helped, not_helped + more_not, vote
    assert (helped, not_helped) == ((1, 0) if votes[-1] else (0, 1))
