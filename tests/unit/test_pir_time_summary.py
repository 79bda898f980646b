"""The time summary of a post-incident review from history rows, and the review workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsdesk.auth.roles import Caller, Role
from opsdesk.reviews.pir_workflow import (
    Approvers,
    ReviewStatus,
    Step,
    may_take,
    next_status,
    required_for,
)
from opsdesk.reviews.time_summary import HistoryFact, derive, describe, impact

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def row(id_: int, action: str, minutes: int, **changes: object) -> HistoryFact:
    return HistoryFact(
        id_,
        action,
        at(minutes),
        [{"field": k, "old": None, "new": v} for k, v in changes.items()],
    )


def test_each_time_comes_from_its_history_row() -> None:
    occurred = at(-30).isoformat()
    restored = at(110).isoformat()
    history = [
        row(1, "create_incident", 0, fault_occurred_at=occurred),
        row(2, "incident_accept", 5),
        row(3, "incident_reply", 7),
        row(4, "incident_forward", 20),
        row(5, "incident_work_log", 35),
        row(6, "incident_accept", 40),
        row(7, "incident_solution", 120, fault_recovery_at=restored),
    ]
    times = derive(list(reversed(history)))  # any order in
    assert [(k, e.source_id) for k, e in times.items()] == [
        ("failure_occurred", 1),
        ("operations_notified", 1),
        ("operations_on_site", 2),
        ("second_level_on_site", 5),
        ("services_restored", 7),
    ]
    assert times["failure_occurred"].value == at(-30)
    assert times["operations_notified"].value == at(0)
    assert times["operations_on_site"].value == at(5)
    assert times["second_level_on_site"].value == at(35)
    assert times["services_restored"].value == at(110)
    assert times["second_level_on_site"].label == "Second Level Support On-Site"
    assert describe(impact(times["failure_occurred"].value, times["services_restored"].value)) == (
        "2 h 20 min"
    )


def test_later_rows_win_and_gaps_stay_empty() -> None:
    history = [
        row(1, "create_incident", 0),
        row(2, "update_incident", 3, fault_occurred_at=at(-10).isoformat()),
        row(3, "incident_accept", 5),
        row(4, "incident_solution", 60),
        row(5, "incident_reopen", 70),
        row(6, "incident_solution", 90),
    ]
    times = derive(history, fault_occurred_at=at(-99))
    assert times["failure_occurred"].source_id == 2 and times["failure_occurred"].value == at(-10)
    # No second level came: empty, no source.
    assert times["second_level_on_site"].value is None
    assert times["second_level_on_site"].source_id is None
    # The last resolve, at its own time (no recovery time recorded).
    assert times["services_restored"].source_id == 6
    assert times["services_restored"].value == at(90)


def test_a_forward_without_later_work_and_a_task_count_as_second_level() -> None:
    forward_only = derive(
        [row(1, "create_incident", 0), row(2, "incident_accept", 1), row(3, "incident_forward", 9)]
    )
    assert forward_only["second_level_on_site"].source_id == 3
    task = derive(
        [row(1, "create_incident", 0), row(2, "incident_accept", 1), row(3, "incident_task", 4)]
    )
    assert task["second_level_on_site"].source_id == 3
    nothing = derive([])
    assert all(entry.value is None and entry.source_id is None for entry in nothing.values())
    assert nothing["failure_occurred"].source_action == ""


def test_impact_needs_both_times_in_order() -> None:
    assert impact(None, at(1)) is None and impact(at(2), at(1)) is None
    assert describe(None) == "unknown"
    assert describe(timedelta(days=1, hours=2, minutes=3)) == "1 d 2 h 03 min"


def caller(role: Role, email: str = "x@desk.test") -> Caller:
    return Caller(user_id=email.split("@")[0], email=email, name=email, role=role)


@pytest.mark.parametrize(
    ("status", "step", "after"),
    [
        (ReviewStatus.DRAFT, Step.SUBMIT, ReviewStatus.SUBMITTED),
        (ReviewStatus.RETURNED, Step.SUBMIT, ReviewStatus.SUBMITTED),
        (ReviewStatus.SUBMITTED, Step.REVIEW, ReviewStatus.REVIEWED),
        (ReviewStatus.SUBMITTED, Step.RETURN, ReviewStatus.RETURNED),
        (ReviewStatus.REVIEWED, Step.APPROVE, ReviewStatus.APPROVED),
        (ReviewStatus.REVIEWED, Step.RETURN, ReviewStatus.RETURNED),
        (ReviewStatus.DRAFT, Step.APPROVE, None),
        (ReviewStatus.APPROVED, Step.RETURN, None),
        (ReviewStatus.SUBMITTED, Step.APPROVE, None),
    ],
)
def test_the_workflow_moves(status: ReviewStatus, step: Step, after: ReviewStatus | None) -> None:
    assert next_status(status, step) == after


def test_who_may_take_each_step_by_role_or_by_name() -> None:
    default = Approvers()
    tech, manager, admin = (
        caller(Role.TECHNICIAN),
        caller(Role.INCIDENT_MANAGER),
        caller(Role.ADMIN),
    )
    user = caller(Role.END_USER)
    assert may_take(Step.SUBMIT, ReviewStatus.DRAFT, tech, is_author=True, approvers=default)
    assert not may_take(Step.SUBMIT, ReviewStatus.DRAFT, tech, is_author=False, approvers=default)
    assert not may_take(Step.SUBMIT, ReviewStatus.DRAFT, user, is_author=True, approvers=default)
    assert may_take(
        Step.REVIEW, ReviewStatus.SUBMITTED, manager, is_author=False, approvers=default
    )
    assert not may_take(
        Step.REVIEW, ReviewStatus.SUBMITTED, tech, is_author=True, approvers=default
    )
    assert may_take(
        Step.RETURN, ReviewStatus.SUBMITTED, manager, is_author=False, approvers=default
    )
    assert not may_take(
        Step.RETURN, ReviewStatus.REVIEWED, manager, is_author=False, approvers=default
    )
    assert may_take(Step.APPROVE, ReviewStatus.REVIEWED, admin, is_author=False, approvers=default)
    named = Approvers.parse("incident_manager", "Ada@Desk.test", "admin", "dir@desk.test, boss")
    ada, director = (
        caller(Role.TECHNICIAN, "ada@desk.test"),
        caller(Role.TECHNICIAN, "dir@desk.test"),
    )
    assert named.is_reviewer(ada) and not named.is_reviewer(manager)
    assert named.is_approver(director) and named.is_approver(caller(Role.TECHNICIAN, "boss@x.y"))
    assert not named.is_approver(admin)


def test_which_incidents_need_a_review() -> None:
    levels = frozenset({"P1", "P2"})
    assert required_for("P1", False, levels=levels, for_major=True)
    assert not required_for("P3", False, levels=levels, for_major=True)
    assert required_for("P4", True, levels=levels, for_major=True)
    assert not required_for("P4", True, levels=levels, for_major=False)
