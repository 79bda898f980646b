"""The state machine as data: every (phase, action) pair, every role, pure and fast."""

from __future__ import annotations

import pytest

from opsdesk.auth.roles import Role
from opsdesk.incidents.fields import HISTORY_ACTION_LABELS, Status
from opsdesk.incidents.lifecycle import (
    HISTORY_KEYS,
    PHASE_LABELS,
    PUBLIC_ACTIONS,
    TRANSITIONS,
    Action,
    NotAllowed,
    NotPermitted,
    Outcome,
    Phase,
    allowed_actions,
    decide,
    level_outcome,
    phase_of,
    status_label,
    status_of,
)

# The expected table, written out by hand: (phase, action) -> next phase per outcome.
EXPECTED: dict[tuple[Phase, Action], dict[Outcome, Phase]] = {
    (Phase.NEW, Action.ACCEPT): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.NEW, Action.REJECT): {Outcome.DONE: Phase.REJECTED},
    (Phase.NEW, Action.FORWARD): {Outcome.DONE: Phase.NEW},
    (Phase.IN_PROGRESS, Action.FORWARD): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.PAUSE_REQUESTED, Action.FORWARD): {Outcome.DONE: Phase.PAUSE_REQUESTED},
    (Phase.PAUSED, Action.FORWARD): {Outcome.DONE: Phase.PAUSED},
    (Phase.LEVEL_CHANGE_REQUESTED, Action.FORWARD): {Outcome.DONE: Phase.LEVEL_CHANGE_REQUESTED},
    **{
        (phase, Action.REMARK): {Outcome.DONE: phase}
        for phase in Phase
        if phase not in (Phase.COMPLETED, Phase.MERGED)
    },
    (Phase.IN_PROGRESS, Action.PAUSE): {Outcome.DONE: Phase.PAUSE_REQUESTED},
    (Phase.PAUSE_REQUESTED, Action.APPROVE): {Outcome.DONE: Phase.PAUSED},
    (Phase.PAUSE_REQUESTED, Action.DENY): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.LEVEL_CHANGE_REQUESTED, Action.APPROVE): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.LEVEL_CHANGE_REQUESTED, Action.DENY): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.PAUSED, Action.RESUME): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.IN_PROGRESS, Action.CHANGE_LEVEL): {
        Outcome.RAISE: Phase.IN_PROGRESS,
        Outcome.LOWER: Phase.LEVEL_CHANGE_REQUESTED,
    },
    (Phase.IN_PROGRESS, Action.RESOLVE): {Outcome.DONE: Phase.RESOLVED},
    (Phase.PAUSED, Action.RESOLVE): {Outcome.DONE: Phase.RESOLVED},
    (Phase.RESOLVED, Action.CONFIRM): {
        Outcome.CONFIRMED: Phase.COMPLETED,
        Outcome.REFUSED: Phase.IN_PROGRESS,
    },
    (Phase.RESOLVED, Action.REOPEN): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.COMPLETED, Action.REOPEN): {Outcome.DONE: Phase.IN_PROGRESS},
    (Phase.REJECTED, Action.REOPEN): {Outcome.DONE: Phase.NEW},
    (Phase.REJECTED, Action.CLOSE): {Outcome.DONE: Phase.COMPLETED},
    (Phase.DRAFT, Action.WITHDRAW): {Outcome.DONE: Phase.COMPLETED},
    (Phase.NEW, Action.WITHDRAW): {Outcome.DONE: Phase.COMPLETED},
    (Phase.RESOLVED, Action.AUTO_COMPLETE): {Outcome.DONE: Phase.COMPLETED},
}

ALL_PAIRS = [(phase, action) for phase in Phase for action in Action]


def test_the_table_is_exactly_the_expected_one() -> None:
    actual = {key: dict(t.outcomes) for key, t in TRANSITIONS.items()}
    assert actual == EXPECTED


@pytest.mark.parametrize(("phase", "action"), ALL_PAIRS)
def test_every_pair_is_allowed_or_refused_with_the_allowed_list(
    phase: Phase, action: Action
) -> None:
    expected = EXPECTED.get((phase, action))
    outcome = next(iter(expected)) if expected else Outcome.DONE
    if expected is None:
        with pytest.raises(NotAllowed) as refused:
            decide(phase, action, outcome, Role.ADMIN, is_reporter=True)
        assert str(phase) in str(refused.value)
        assert refused.value.allowed == allowed_actions(phase, Role.ADMIN, is_reporter=True)
        assert action not in refused.value.allowed
    else:
        transition = decide(
            phase,
            action,
            outcome,
            None if action is Action.AUTO_COMPLETE else Role.ADMIN,
            is_reporter=True,
        )
        assert transition.target(outcome) == expected[outcome]


def test_statuses_and_phases_map_both_ways() -> None:
    for phase in Phase:
        status, sub = status_of(phase)
        assert phase_of(status, sub) is phase
        assert PHASE_LABELS[phase].en and PHASE_LABELS[phase].zh
    assert {status_of(p)[0] for p in Phase} == set(Status)
    with pytest.raises(ValueError, match="no phase"):
        phase_of(Status.RESOLVED, "paused")


def test_itil_labels() -> None:
    labels = {phase: status_label(phase) for phase in Phase}
    assert labels[Phase.NEW] == "New"
    assert labels[Phase.IN_PROGRESS] == "In Progress"
    assert labels[Phase.PAUSED] == "On Hold"
    assert labels[Phase.RESOLVED] == "Resolved"
    assert labels[Phase.COMPLETED] == "Closed"


@pytest.mark.parametrize(
    ("action", "role", "is_reporter", "allowed"),
    [
        (Action.ACCEPT, Role.TECHNICIAN, False, True),
        (Action.ACCEPT, Role.END_USER, True, False),
        (Action.APPROVE, Role.TECHNICIAN, False, False),
        (Action.APPROVE, Role.INCIDENT_MANAGER, False, True),
        (Action.APPROVE, Role.ADMIN, False, True),
        (Action.CONFIRM, Role.END_USER, True, True),
        (Action.CONFIRM, Role.END_USER, False, False),
        (Action.REOPEN, Role.END_USER, True, True),
        (Action.CLOSE, Role.END_USER, True, True),
        (Action.WITHDRAW, Role.END_USER, True, True),
        (Action.WITHDRAW, Role.END_USER, False, False),
        (Action.WITHDRAW, Role.TECHNICIAN, False, False),
        (Action.WITHDRAW, Role.ADMIN, False, False),
        (Action.AUTO_COMPLETE, Role.ADMIN, False, False),
        (Action.AUTO_COMPLETE, None, False, True),
        (Action.RESUME, None, False, True),
        (Action.ACCEPT, None, False, False),
    ],
)
def test_who_may_act(action: Action, role: Role | None, is_reporter: bool, allowed: bool) -> None:
    transitions = [t for (_, a), t in TRANSITIONS.items() if a is action]
    assert transitions
    assert all(t.who.allows(role, is_reporter=is_reporter) is allowed for t in transitions)


def test_refused_role_is_not_permitted_rather_than_not_allowed() -> None:
    with pytest.raises(NotPermitted, match="end_user"):
        decide(Phase.NEW, Action.ACCEPT, Outcome.DONE, Role.END_USER, is_reporter=True)


def test_completed_incidents_accept_only_reopen() -> None:
    for role in (*Role, None):
        assert set(allowed_actions(Phase.COMPLETED, role, is_reporter=True)) <= {Action.REOPEN}


def test_level_outcome() -> None:
    assert level_outcome("level_30", "level_10") is Outcome.RAISE
    assert level_outcome("level_30", "level_50") is Outcome.LOWER
    with pytest.raises(ValueError, match="already"):
        level_outcome("level_30", "level_30")


def test_every_action_has_a_named_history_key() -> None:
    for action in Action:
        key = HISTORY_KEYS[action]
        assert key in HISTORY_ACTION_LABELS
    assert Action.AUTO_COMPLETE not in PUBLIC_ACTIONS
