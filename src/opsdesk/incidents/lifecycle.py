"""The incident state machine, as data: (phase, action) → next phase, and who may act.

A *phase* is the COC status refined by the sub-status that COC keeps in its workflow
nodes: an acknowledged incident may be waiting for approval of a pause or of a level
decrease, or be paused. The native API, the COC API, the web buttons and the CLI all read
``TRANSITIONS``; nothing else decides whether an action is allowed.

Some actions have more than one outcome, chosen by their parameters (a refused
confirmation goes back to handling, a level decrease waits for approval); the table lists
every outcome, and the service names the one that applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from opsdesk.auth.roles import Role
from opsdesk.incidents.fields import STATUS_LABELS, HistoryAction, Label, Status


class SubStatus(StrEnum):
    """Workflow nodes inside ``INCIDENT_STATUS_ACKNOWLEDGED``, and how a completed
    incident ended when that is not by its own resolution (merged into another)."""

    PAUSE_REQUESTED = "pause_requested"
    PAUSED = "paused"
    LEVEL_CHANGE_REQUESTED = "level_change_requested"
    MERGED = "merged"


class Phase(StrEnum):
    DRAFT = "draft"
    NEW = "new"
    IN_PROGRESS = "in_progress"
    PAUSE_REQUESTED = "pause_requested"
    PAUSED = "paused"
    LEVEL_CHANGE_REQUESTED = "level_change_requested"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    COMPLETED = "completed"
    # Read-only, pointing at its primary (``Incident.merged_into_id``); COC clients, who
    # have no such status, see it completed. Only undoing the merge leaves this phase.
    MERGED = "merged"


_STATUS_OF: dict[Phase, tuple[Status, SubStatus | None]] = {
    Phase.DRAFT: (Status.DRAFT, None),
    Phase.NEW: (Status.TRIGGERED, None),
    Phase.IN_PROGRESS: (Status.ACKNOWLEDGED, None),
    Phase.PAUSE_REQUESTED: (Status.ACKNOWLEDGED, SubStatus.PAUSE_REQUESTED),
    Phase.PAUSED: (Status.ACKNOWLEDGED, SubStatus.PAUSED),
    Phase.LEVEL_CHANGE_REQUESTED: (Status.ACKNOWLEDGED, SubStatus.LEVEL_CHANGE_REQUESTED),
    Phase.REJECTED: (Status.REJECTED, None),
    Phase.RESOLVED: (Status.RESOLVED, None),
    Phase.COMPLETED: (Status.COMPLETED, None),
    Phase.MERGED: (Status.COMPLETED, SubStatus.MERGED),
}
_PHASE_OF = {pair: phase for phase, pair in _STATUS_OF.items()}

# ITIL display labels; the COC status keeps its own (fields.STATUS_LABELS).
PHASE_LABELS: dict[Phase, Label] = {
    Phase.DRAFT: Label("Draft", "草稿"),
    Phase.NEW: Label("New", "未受理"),
    Phase.IN_PROGRESS: Label("In Progress", "处理中"),
    Phase.PAUSE_REQUESTED: Label("In Progress (pause awaiting approval)", "暂停审批中"),
    Phase.PAUSED: Label("On Hold", "已暂停"),
    Phase.LEVEL_CHANGE_REQUESTED: Label(
        "In Progress (level change awaiting approval)", "降级审批中"
    ),
    Phase.REJECTED: Label("Rejected", "被驳回"),
    Phase.RESOLVED: Label("Resolved", "已解决待验证"),
    Phase.COMPLETED: Label("Closed", "已完成"),
    Phase.MERGED: Label("Merged", "已合并"),
}


def phase_of(status: str, sub_status: str | None) -> Phase:
    """The phase of a stored (status, sub_status) pair; unknown pairs are a data error."""
    key = (Status(status), None if sub_status is None else SubStatus(sub_status))
    try:
        return _PHASE_OF[key]
    except KeyError:
        raise ValueError(f"no phase for status {status!r} with sub-status {sub_status!r}") from None


def status_of(phase: Phase) -> tuple[Status, SubStatus | None]:
    return _STATUS_OF[phase]


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    FORWARD = "forward"
    REMARK = "remark"
    PAUSE = "pause"
    APPROVE = "approve"
    DENY = "deny"
    RESUME = "resume"
    CHANGE_LEVEL = "change_level"
    RESOLVE = "resolve"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    AUTO_COMPLETE = "auto_complete"


# The history row each action writes.
HISTORY_KEYS: dict[Action, HistoryAction] = {
    action: HistoryAction[action.name]
    for action in Action  # same member names
}


class Outcome(StrEnum):
    """Which branch of an action applies; most actions have only ``DONE``."""

    DONE = "done"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    RAISE = "raise"
    LOWER = "lower"


@dataclass(frozen=True)
class Who:
    """Who may take an action: staff from ``min_role`` up, the reporter, the system."""

    min_role: Role | None = Role.TECHNICIAN
    reporter: bool = False
    system: bool = False

    def allows(self, role: Role | None, *, is_reporter: bool) -> bool:
        """``role`` None means the system itself (a sweep or a worker)."""
        if role is None:
            return self.system
        if self.min_role is not None and role.at_least(self.min_role):
            return True
        return self.reporter and is_reporter


STAFF = Who()
MANAGERS = Who(min_role=Role.INCIDENT_MANAGER)
REPORTER_OR_STAFF = Who(reporter=True)
SYSTEM = Who(min_role=None, system=True)
STAFF_OR_SYSTEM = Who(system=True)
REPORTER = Who(min_role=None, reporter=True)


@dataclass(frozen=True)
class Transition:
    source: Phase
    action: Action
    outcomes: Mapping[Outcome, Phase]
    who: Who = STAFF
    counts_as_reopen: frozenset[Outcome] = frozenset()

    def target(self, outcome: Outcome) -> Phase:
        return self.outcomes[outcome]


def _t(
    source: Phase,
    action: Action,
    target: Phase | Mapping[Outcome, Phase],
    who: Who = STAFF,
    reopens: tuple[Outcome, ...] = (),
) -> Transition:
    outcomes = {Outcome.DONE: target} if isinstance(target, Phase) else dict(target)
    return Transition(source, action, outcomes, who, frozenset(reopens))


_OPEN_HANDLING = (
    Phase.IN_PROGRESS,
    Phase.PAUSE_REQUESTED,
    Phase.PAUSED,
    Phase.LEVEL_CHANGE_REQUESTED,
)

_TABLE: list[Transition] = [
    _t(Phase.NEW, Action.ACCEPT, Phase.IN_PROGRESS),
    _t(Phase.NEW, Action.REJECT, Phase.REJECTED),
    _t(Phase.NEW, Action.FORWARD, Phase.NEW),
    *(_t(phase, Action.FORWARD, phase) for phase in _OPEN_HANDLING),
    *(
        _t(phase, Action.REMARK, phase)
        for phase in (Phase.DRAFT, Phase.NEW, *_OPEN_HANDLING, Phase.REJECTED, Phase.RESOLVED)
    ),
    _t(Phase.IN_PROGRESS, Action.PAUSE, Phase.PAUSE_REQUESTED),
    _t(Phase.PAUSE_REQUESTED, Action.APPROVE, Phase.PAUSED, MANAGERS),
    _t(Phase.PAUSE_REQUESTED, Action.DENY, Phase.IN_PROGRESS, MANAGERS),
    _t(Phase.LEVEL_CHANGE_REQUESTED, Action.APPROVE, Phase.IN_PROGRESS, MANAGERS),
    _t(Phase.LEVEL_CHANGE_REQUESTED, Action.DENY, Phase.IN_PROGRESS, MANAGERS),
    _t(Phase.PAUSED, Action.RESUME, Phase.IN_PROGRESS, STAFF_OR_SYSTEM),
    _t(
        Phase.IN_PROGRESS,
        Action.CHANGE_LEVEL,
        {Outcome.RAISE: Phase.IN_PROGRESS, Outcome.LOWER: Phase.LEVEL_CHANGE_REQUESTED},
    ),
    _t(Phase.IN_PROGRESS, Action.RESOLVE, Phase.RESOLVED),
    _t(Phase.PAUSED, Action.RESOLVE, Phase.RESOLVED),
    _t(
        Phase.RESOLVED,
        Action.CONFIRM,
        {Outcome.CONFIRMED: Phase.COMPLETED, Outcome.REFUSED: Phase.IN_PROGRESS},
        REPORTER_OR_STAFF,
        reopens=(Outcome.REFUSED,),
    ),
    _t(Phase.RESOLVED, Action.REOPEN, Phase.IN_PROGRESS, REPORTER_OR_STAFF, (Outcome.DONE,)),
    _t(Phase.COMPLETED, Action.REOPEN, Phase.IN_PROGRESS, REPORTER_OR_STAFF, (Outcome.DONE,)),
    # COC's "ReOpen" of a rejected ticket: the reporter resubmits it for acceptance.
    _t(Phase.REJECTED, Action.REOPEN, Phase.NEW, REPORTER_OR_STAFF, (Outcome.DONE,)),
    _t(Phase.REJECTED, Action.CLOSE, Phase.COMPLETED, REPORTER_OR_STAFF),
    # The reporter takes back what nobody has accepted yet; COC has no key for it.
    _t(Phase.DRAFT, Action.WITHDRAW, Phase.COMPLETED, REPORTER),
    _t(Phase.NEW, Action.WITHDRAW, Phase.COMPLETED, REPORTER),
    _t(Phase.RESOLVED, Action.AUTO_COMPLETE, Phase.COMPLETED, SYSTEM),
]

TRANSITIONS: dict[tuple[Phase, Action], Transition] = {(t.source, t.action): t for t in _TABLE}

# Actions a person may request through an API; the rest are the system's own.
PUBLIC_ACTIONS: tuple[Action, ...] = tuple(a for a in Action if a is not Action.AUTO_COMPLETE)


class NotAllowed(Exception):
    """The action does not apply in this phase (HTTP 409)."""

    def __init__(self, phase: Phase, action: Action, allowed: list[Action]) -> None:
        names = ", ".join(allowed) or "none"
        label = PHASE_LABELS[phase].en
        super().__init__(
            f"{action} is not allowed while the incident is {label} ({phase}); allowed now: {names}"
        )
        self.phase = phase
        self.action = action
        self.allowed = allowed


class NotPermitted(Exception):
    """The phase allows the action, but not by this caller (HTTP 403)."""


def allowed_actions(phase: Phase, role: Role | None, *, is_reporter: bool) -> list[Action]:
    """The actions this caller may take now, in the table's order."""
    return [
        action
        for action in Action
        if (transition := TRANSITIONS.get((phase, action))) is not None
        and transition.who.allows(role, is_reporter=is_reporter)
    ]


def decide(
    phase: Phase,
    action: Action,
    outcome: Outcome,
    role: Role | None,
    *,
    is_reporter: bool,
) -> Transition:
    """The transition to take, or ``NotAllowed`` / ``NotPermitted`` with the reason."""
    transition = TRANSITIONS.get((phase, action))
    if transition is None:
        raise NotAllowed(phase, action, allowed_actions(phase, role, is_reporter=is_reporter))
    if not transition.who.allows(role, is_reporter=is_reporter):
        who = "the system" if role is None else f"a {role.value}"
        raise NotPermitted(f"{action}: {who} may not take this action on this incident")
    if outcome not in transition.outcomes:
        raise ValueError(f"{action} has no outcome {outcome} in phase {phase}")
    return transition


def level_outcome(current: str, target: str) -> Outcome:
    """Levels sort as their keys: ``level_10`` (P1) is the highest."""
    if target == current:
        raise ValueError("the incident already has this level")
    return Outcome.RAISE if target < current else Outcome.LOWER


def status_label(phase: Phase) -> str:
    """The short ITIL label of a phase: New, In Progress, On Hold, Resolved, Closed, …"""
    if phase is Phase.PAUSED:
        return "On Hold"
    if phase is Phase.MERGED:
        return "Merged"
    return STATUS_LABELS[status_of(phase)[0]].en
