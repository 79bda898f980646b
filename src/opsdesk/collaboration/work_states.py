"""The lifecycles of tasks and work orders: their statuses and the allowed moves (pure)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class WorkOrderStatus(StrEnum):
    NEW = "new"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


# A task or work order in one of these still needs doing: the incident counts it as open,
# and resolving the incident asks for an override while any is.
OPEN_TASK_STATUSES = frozenset({TaskStatus.OPEN, TaskStatus.IN_PROGRESS})
OPEN_WORK_ORDER_STATUSES = frozenset(
    {WorkOrderStatus.NEW, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS}
)

# Finished tasks can be reopened (the work turned out not to be done); a cancelled one too.
TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.OPEN, TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset({TaskStatus.OPEN}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.OPEN}),
}

# A work order is planned (scheduled), worked and ends done or failed; a failed one may be
# rescheduled, a done one is final (a new visit is a new work order).
WORK_ORDER_MOVES: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    WorkOrderStatus.NEW: frozenset(
        {WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.FAILED}
    ),
    WorkOrderStatus.SCHEDULED: frozenset(
        {WorkOrderStatus.NEW, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.FAILED}
    ),
    WorkOrderStatus.IN_PROGRESS: frozenset(
        {WorkOrderStatus.SCHEDULED, WorkOrderStatus.DONE, WorkOrderStatus.FAILED}
    ),
    WorkOrderStatus.DONE: frozenset(),
    WorkOrderStatus.FAILED: frozenset({WorkOrderStatus.SCHEDULED}),
}

TASK_LABELS = {
    TaskStatus.OPEN: "Open",
    TaskStatus.IN_PROGRESS: "In progress",
    TaskStatus.DONE: "Done",
    TaskStatus.CANCELLED: "Cancelled",
}
WORK_ORDER_LABELS = {
    WorkOrderStatus.NEW: "New",
    WorkOrderStatus.SCHEDULED: "Scheduled",
    WorkOrderStatus.IN_PROGRESS: "In progress",
    WorkOrderStatus.DONE: "Done",
    WorkOrderStatus.FAILED: "Failed",
}


class MoveRefused(ValueError):
    """A status change the lifecycle does not allow; the message names the allowed ones."""


S = TypeVar("S", TaskStatus, WorkOrderStatus)


def _check(moves: dict[S, frozenset[S]], what: str, current: S, new: S) -> None:
    if new == current:
        raise MoveRefused(f"status: the {what} is already {current}")
    allowed = moves[current]
    if new not in allowed:
        choices = ", ".join(sorted(allowed)) or "nothing (it is final)"
        raise MoveRefused(f"status: a {what} that is {current} can move to {choices}, not {new}")


def check_task_move(current: TaskStatus, new: TaskStatus) -> None:
    """Raise ``MoveRefused`` unless a task may go from ``current`` to ``new``."""
    _check(TASK_MOVES, "task", current, new)


def check_work_order_move(current: WorkOrderStatus, new: WorkOrderStatus) -> None:
    """Raise ``MoveRefused`` unless a work order may go from ``current`` to ``new``."""
    _check(WORK_ORDER_MOVES, "work order", current, new)


def open_delta(was_open: bool, is_open: bool) -> int:
    """How a status change moves the incident's open counter: +1, -1 or 0."""
    return int(is_open) - int(was_open)
