"""The task and work-order lifecycles, every pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from opsdesk.collaboration.work_states import (
    OPEN_TASK_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    TASK_LABELS,
    TASK_MOVES,
    WORK_ORDER_LABELS,
    WORK_ORDER_MOVES,
    MoveRefused,
    TaskStatus,
    WorkOrderStatus,
    check_task_move,
    check_work_order_move,
    open_delta,
)

TASK_ALLOWED = {
    ("open", "in_progress"),
    ("open", "done"),
    ("open", "cancelled"),
    ("in_progress", "open"),
    ("in_progress", "done"),
    ("in_progress", "cancelled"),
    ("done", "open"),
    ("cancelled", "open"),
}
WORK_ORDER_ALLOWED = {
    ("new", "scheduled"),
    ("new", "in_progress"),
    ("new", "failed"),
    ("scheduled", "new"),
    ("scheduled", "in_progress"),
    ("scheduled", "failed"),
    ("in_progress", "scheduled"),
    ("in_progress", "done"),
    ("in_progress", "failed"),
    ("failed", "scheduled"),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_task_move(current: TaskStatus, new: TaskStatus) -> None:
    if (current.value, new.value) in TASK_ALLOWED:
        check_task_move(current, new)
    else:
        with pytest.raises(MoveRefused, match=r"^status: "):
            check_task_move(current, new)


@pytest.mark.parametrize(
    ("current", "new"), list(itertools.product(WorkOrderStatus, WorkOrderStatus))
)
def test_every_work_order_move(current: WorkOrderStatus, new: WorkOrderStatus) -> None:
    if (current.value, new.value) in WORK_ORDER_ALLOWED:
        check_work_order_move(current, new)
    else:
        with pytest.raises(MoveRefused, match=r"^status: "):
            check_work_order_move(current, new)


def test_the_tables_cover_every_status_and_name_what_is_allowed() -> None:
    assert set(TASK_MOVES) == set(TaskStatus) == set(TASK_LABELS)
    assert set(WORK_ORDER_MOVES) == set(WorkOrderStatus) == set(WORK_ORDER_LABELS)
    with pytest.raises(MoveRefused, match="can move to nothing"):
        check_work_order_move(WorkOrderStatus.DONE, WorkOrderStatus.FAILED)
    with pytest.raises(MoveRefused, match="already open"):
        check_task_move(TaskStatus.OPEN, TaskStatus.OPEN)
    with pytest.raises(MoveRefused, match="can move to open, not in_progress"):
        check_task_move(TaskStatus.DONE, TaskStatus.IN_PROGRESS)


def test_open_statuses_and_the_counter_delta() -> None:
    assert {TaskStatus.OPEN, TaskStatus.IN_PROGRESS} == OPEN_TASK_STATUSES
    assert {
        WorkOrderStatus.NEW,
        WorkOrderStatus.SCHEDULED,
        WorkOrderStatus.IN_PROGRESS,
    } == OPEN_WORK_ORDER_STATUSES
    assert [open_delta(a, b) for a, b in itertools.product((False, True), repeat=2)] == [
        0,
        1,
        -1,
        0,
    ]
