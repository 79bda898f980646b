"""Lifecycle actions through the API: every (phase, action) pair on a real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.lifecycle import (
    HISTORY_KEYS,
    PUBLIC_ACTIONS,
    TRANSITIONS,
    Action,
    Outcome,
    Phase,
    status_of,
)
from opsdesk.incidents.models import Incident
from tests.factories import Actor, Desk, create_incident

CATEGORY = "inc_type_p_function_issues"


def sample_params(action: Action, desk: Desk, clock: FixedClock) -> dict[str, Any]:
    """Valid parameters for each action (a level raise, an accepted confirmation)."""
    return {
        Action.ACCEPT: {},
        Action.REJECT: {"reason": "not an incident: a feature request"},
        Action.FORWARD: {"assignee_id": desk.tech2.id, "comment": "network team"},
        Action.REMARK: {"note": "customer called again"},
        Action.PAUSE: {
            "reason": "waiting for the vendor",
            "until": (clock.now() + timedelta(days=1)).isoformat(),
        },
        Action.APPROVE: {"comment": "ok"},
        Action.DENY: {"comment": "keep working"},
        Action.RESUME: {},
        Action.CHANGE_LEVEL: {"level": "P2", "comment": "more users affected"},
        Action.RESOLVE: {"cause": "full disk", "solution": "rotated logs", "category": CATEGORY},
        Action.CONFIRM: {"accepted": True},
        Action.REOPEN: {"reason": "it broke again"},
        Action.CLOSE: {},
        Action.WITHDRAW: {"comment": "it works again"},
    }[action]


def actor_for(action: Action, desk: Desk) -> Actor:
    if action is Action.WITHDRAW:
        return desk.user
    return desk.manager if action in (Action.APPROVE, Action.DENY) else desk.tech


async def act(
    client: httpx.AsyncClient, actor: Actor, number: str, action: Action, params: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/incidents/{number}/actions/{action}", json=params, headers=actor.headers
    )


async def ok(
    client: httpx.AsyncClient, actor: Actor, number: str, action: Action, params: dict[str, Any]
) -> dict[str, Any]:
    response = await act(client, actor, number, action, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# How to reach each phase from a new incident (DRAFT has no way in yet: set directly).
PATHS: dict[Phase, list[tuple[Action, dict[str, Any] | None]]] = {
    Phase.NEW: [],
    Phase.IN_PROGRESS: [(Action.ACCEPT, None)],
    Phase.PAUSE_REQUESTED: [(Action.ACCEPT, None), (Action.PAUSE, None)],
    Phase.PAUSED: [(Action.ACCEPT, None), (Action.PAUSE, None), (Action.APPROVE, None)],
    Phase.LEVEL_CHANGE_REQUESTED: [
        (Action.ACCEPT, None),
        (Action.CHANGE_LEVEL, {"level": "P4", "comment": "only one user"}),
    ],
    Phase.REJECTED: [(Action.REJECT, None)],
    Phase.RESOLVED: [(Action.ACCEPT, None), (Action.RESOLVE, None)],
    Phase.COMPLETED: [(Action.ACCEPT, None), (Action.RESOLVE, None), (Action.CONFIRM, None)],
}


async def incident_in(
    phase: Phase, client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> str:
    created = await create_incident(client, desk.user, title=f"in {phase}")
    number: str = created["number"]
    if phase is Phase.DRAFT:
        async with db.write() as session:
            await session.execute(
                update(Incident).where(Incident.number == number).values(status="incident_draft")
            )
        return number
    for action, params in PATHS[phase]:
        chosen = sample_params(action, desk, clock) if params is None else params
        await ok(client, actor_for(action, desk), number, action, chosen)
    return number


async def snapshot(client: httpx.AsyncClient, desk: Desk, number: str) -> tuple[Any, Any]:
    incident = (await client.get(f"/api/v1/incidents/{number}", headers=desk.admin.headers)).json()
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.admin.headers)
    ).json()
    return incident, history


# A merged incident takes no action itself: every write for it lands on its primary
# (tests/api/test_merge.py covers that).
@pytest.mark.parametrize("phase", [phase for phase in Phase if phase is not Phase.MERGED])
async def test_every_action_in_every_phase(
    phase: Phase, client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    for action in PUBLIC_ACTIONS:
        number = await incident_in(phase, client, desk, clock, db)
        before, history_before = await snapshot(client, desk, number)
        assert before["phase"] == phase.value
        response = await act(
            client, actor_for(action, desk), number, action, sample_params(action, desk, clock)
        )
        after, history_after = await snapshot(client, desk, number)
        transition = TRANSITIONS.get((phase, action))
        if transition is None:
            assert response.status_code == 409, (phase, action, response.text)
            error = response.json()["error"]
            assert error["code"] == "conflict"
            assert phase.value in error["message"] and action.value in error["message"]
            assert error["details"]["state"] == phase.value
            assert action.value not in error["details"]["allowed"]
            assert after == before and history_after == history_before
            continue
        assert response.status_code == 200, (phase, action, response.text)
        outcome = next(iter(transition.outcomes))
        if action is Action.CHANGE_LEVEL:
            outcome = Outcome.RAISE
        elif action is Action.CONFIRM:
            outcome = Outcome.CONFIRMED
        target = transition.target(outcome)
        status, sub_status = status_of(target)
        assert after["phase"] == target.value
        assert after["status"] == status.value and after["sub_status"] == sub_status
        assert after["version"] == before["version"] + 1
        assert len(history_after) == len(history_before) + 1
        row = history_after[-1]
        assert row["action"] == HISTORY_KEYS[action].value
        assert row["status"] == status.value
        assert row["operator_id"] == actor_for(action, desk).id
        assert row["start_time_ms"] == int(clock.now().timestamp() * 1000)


async def test_actions_list_names_what_the_caller_may_do_with_schemas(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    tech = (
        await client.get(f"/api/v1/incidents/{number}/actions", headers=desk.tech.headers)
    ).json()
    assert tech["phase"] == "new" and tech["phase_label"] == "New"
    names = [a["action"] for a in tech["actions"]]
    assert names == ["accept", "reject", "forward", "remark"]
    reject = next(a for a in tech["actions"] if a["action"] == "reject")
    assert reject["params_schema"]["required"] == ["reason"]
    assert reject["name_zh"] == "驳回事件单"
    user = (
        await client.get(f"/api/v1/incidents/{number}/actions", headers=desk.user.headers)
    ).json()
    assert [a["action"] for a in user["actions"]] == ["withdraw"]
    other = await client.get(f"/api/v1/incidents/{number}/actions", headers=desk.other_user.headers)
    assert other.status_code == 404


async def test_missing_and_unknown_parameters_name_the_field(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    missing = await act(client, desk.tech, number, Action.REJECT, {})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "reason"
    assert "reason" in missing.json()["error"]["message"]
    unknown = await act(client, desk.tech, number, Action.ACCEPT, {"bogus": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "bogus"
    nothing = await client.post(
        f"/api/v1/incidents/{number}/actions/teleport", json={}, headers=desk.tech.headers
    )
    assert nothing.status_code == 404 and "accept" in nothing.json()["error"]["message"]
    system_only = await act(client, desk.admin, number, Action.AUTO_COMPLETE, {})
    assert system_only.status_code == 404
    incident, history = await snapshot(client, desk, number)
    assert incident["version"] == 1 and len(history) == 1


async def test_end_users_cannot_take_staff_actions(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    refused = await act(client, desk.user, number, Action.ACCEPT, {})
    assert refused.status_code == 403
    hidden = await act(client, desk.other_user, number, Action.ACCEPT, {})
    assert hidden.status_code == 404
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    await ok(client, desk.tech, number, Action.PAUSE, sample_params(Action.PAUSE, desk, clock))
    not_manager = await act(client, desk.tech, number, Action.APPROVE, {})
    assert not_manager.status_code == 403


async def test_accept_takes_ownership_and_forward_moves_it(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (
        await create_incident(
            client, desk.tech, assignee_scene="sre_oncall", assignee_role="primary"
        )
    )["number"]
    accepted = await ok(client, desk.tech2, number, Action.ACCEPT, {"comment": "mine"})
    assert accepted["owner_type"] == "individual" and accepted["assignee_id"] == desk.tech2.id
    assert accepted["assignee_scene"] is None and accepted["accepted_at"] is not None
    forwarded = await ok(
        client,
        desk.tech2,
        number,
        Action.FORWARD,
        {"assignee_scene": "dba", "assignee_role": "primary", "comment": "database issue"},
    )
    assert forwarded["owner_type"] == "shift" and forwarded["assignee_id"] is None
    assert forwarded["phase"] == "in_progress"
    same = await act(
        client,
        desk.tech2,
        number,
        Action.FORWARD,
        {"assignee_scene": "dba", "assignee_role": "primary", "comment": "again"},
    )
    assert same.status_code == 422 and same.json()["error"]["field"] == "assignee_id"
    to_user = await act(
        client, desk.tech2, number, Action.FORWARD, {"assignee_id": desk.user.id, "comment": "x"}
    )
    assert to_user.status_code == 422 and "end user" in to_user.json()["error"]["message"]
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    ).json()
    assert history[-1]["comment"] == "database issue"
    changed = {c["field"]: c for c in history[-1]["changes"]}
    assert (
        changed["owner_type"]["new"] == "shift" and changed["assignee_id"]["old"] == desk.tech2.id
    )


async def test_pause_needs_approval_and_a_future_end(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    past = await act(
        client,
        desk.tech,
        number,
        Action.PAUSE,
        {"reason": "vendor", "until": (clock.now() - timedelta(minutes=1)).isoformat()},
    )
    assert past.status_code == 422 and past.json()["error"]["field"] == "until"
    requested = await ok(
        client, desk.tech, number, Action.PAUSE, sample_params(Action.PAUSE, desk, clock)
    )
    assert requested["phase"] == "pause_requested" and requested["status_label"] == "In Progress"
    assert requested["pause_reason"] == "waiting for the vendor"
    denied = await ok(client, desk.manager, number, Action.DENY, {"comment": "no"})
    assert denied["phase"] == "in_progress" and denied["pause_reason"] is None
    await ok(client, desk.tech, number, Action.PAUSE, sample_params(Action.PAUSE, desk, clock))
    paused = await ok(client, desk.manager, number, Action.APPROVE, {})
    assert paused["phase"] == "paused" and paused["status_label"] == "On Hold"
    assert paused["status"] == "INCIDENT_STATUS_ACKNOWLEDGED"
    resumed = await ok(client, desk.tech, number, Action.RESUME, {})
    assert resumed["phase"] == "in_progress" and resumed["pause_until"] is None


async def test_raising_the_level_is_immediate_lowering_needs_approval(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    raised = await ok(
        client, desk.tech, number, Action.CHANGE_LEVEL, {"level": "P1", "comment": "all down"}
    )
    assert raised["level"] == "level_10" and raised["phase"] == "in_progress"
    same = await act(
        client, desk.tech, number, Action.CHANGE_LEVEL, {"level": "P1", "comment": "x"}
    )
    assert same.status_code == 422 and same.json()["error"]["field"] == "level"
    lowered = await ok(
        client, desk.tech, number, Action.CHANGE_LEVEL, {"level": "P3", "comment": "one site"}
    )
    assert lowered["level"] == "level_10" and lowered["requested_level"] == "level_30"
    assert lowered["phase"] == "level_change_requested"
    resolve = await act(
        client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock)
    )
    assert resolve.status_code == 409
    approved = await ok(client, desk.manager, number, Action.APPROVE, {})
    assert approved["level"] == "level_30" and approved["requested_level"] is None
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    ).json()
    level_data = [e for e in history[-1]["enum_data_list"] if e["prop_id"] == "level"]
    assert level_data == [
        {"prop_id": "level", "biz_id": "level_30", "name_en": "P3", "name_zh": "P3"}
    ]
    patch = await client.patch(
        f"/api/v1/incidents/{number}", json={"level": "P1"}, headers=desk.tech.headers
    )
    assert patch.status_code == 409 and "change_level" in patch.json()["error"]["message"]


async def test_resolve_rules(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> None:
    number = (
        await create_incident(client, desk.tech, service_interrupted=True, reporter_id=desk.user.id)
    )["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    base = {"cause": "bad deploy", "solution": "rolled back"}
    no_category = await act(client, desk.tech, number, Action.RESOLVE, base)
    assert no_category.status_code == 422 and no_category.json()["error"]["field"] == "category"
    with_category = {**base, "category": CATEGORY}
    no_start = await act(client, desk.tech, number, Action.RESOLVE, with_category)
    assert no_start.json()["error"]["field"] == "fault_occurred_at"
    start = (clock.now() - timedelta(hours=2)).isoformat()
    no_end = await act(
        client, desk.tech, number, Action.RESOLVE, {**with_category, "fault_occurred_at": start}
    )
    assert no_end.json()["error"]["field"] == "fault_recovery_at"
    backwards = await act(
        client,
        desk.tech,
        number,
        Action.RESOLVE,
        {
            **with_category,
            "fault_occurred_at": start,
            "fault_recovery_time": (clock.now() - timedelta(hours=3)).isoformat(),
        },
    )
    assert backwards.status_code == 422 and "before" in backwards.json()["error"]["message"]
    resolved = await ok(
        client,
        desk.tech,
        number,
        Action.RESOLVE,
        {
            **with_category,
            "fault_occurred_at": start,
            "fault_recovery_time": (clock.now() - timedelta(minutes=5)).isoformat(),
        },
    )
    assert resolved["phase"] == "resolved" and resolved["status_label"] == "Resolved"
    assert resolved["cause"] == "bad deploy" and resolved["solution"] == "rolled back"
    assert resolved["category"] == CATEGORY and resolved["resolved_at"] is not None


async def test_confirmation_by_the_reporter_refusal_reopens(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    await ok(client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock))
    no_reason = await act(client, desk.user, number, Action.CONFIRM, {"accepted": False})
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "comment"
    refused = await ok(
        client, desk.user, number, Action.CONFIRM, {"accepted": False, "comment": "still slow"}
    )
    assert refused["phase"] == "in_progress" and refused["reopen_count"] == 1
    assert refused["last_reopened_by"] == desk.user.id
    await ok(client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock))
    other = await act(client, desk.other_user, number, Action.CONFIRM, {"accepted": True})
    assert other.status_code == 404
    done = await ok(client, desk.user, number, Action.CONFIRM, {"accepted": True})
    assert done["phase"] == "completed" and done["status_label"] == "Closed"
    assert done["completed_at"] is not None
    remark = await act(client, desk.tech, number, Action.REMARK, {"note": "late"})
    assert remark.status_code == 409
    patch = await client.patch(
        f"/api/v1/incidents/{number}", json={"title": "x"}, headers=desk.tech.headers
    )
    assert patch.status_code == 409


async def test_reopen_window(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> None:
    number = (await create_incident(client, desk.user))["number"]
    for action in (Action.ACCEPT, Action.RESOLVE, Action.CONFIRM):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    clock.advance(timedelta(days=13, hours=23))
    reopened = await ok(client, desk.user, number, Action.REOPEN, {"reason": "back again"})
    assert reopened["phase"] == "in_progress" and reopened["reopen_count"] == 1
    for action in (Action.RESOLVE, Action.CONFIRM):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    clock.advance(timedelta(days=14, seconds=1))
    late = await act(client, desk.user, number, Action.REOPEN, {"reason": "again"})
    assert late.status_code == 409 and "14 days" in late.json()["error"]["message"]
    incident, _history = await snapshot(client, desk, number)
    assert incident["phase"] == "completed" and incident["reopen_count"] == 1


async def test_rejected_incident_is_resubmitted_or_closed(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    first = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, first, Action.REJECT, {"reason": "duplicate of IM1"})
    resubmitted = await ok(client, desk.user, first, Action.REOPEN, {"reason": "not a duplicate"})
    assert resubmitted["phase"] == "new"
    await ok(client, desk.tech, first, Action.REJECT, {"reason": "really a duplicate"})
    closed = await ok(client, desk.user, first, Action.CLOSE, {})
    assert closed["phase"] == "completed"
    history = (
        await client.get(f"/api/v1/incidents/{first}/history", headers=desk.user.headers)
    ).json()
    assert [row["action"] for row in history] == [
        "create_incident",
        "incident_reject",
        "incident_reopen",
        "incident_reject",
        "incident_close",
    ]
    assert history[1]["comment"] == "duplicate of IM1"
    assert history[1]["enum_data_list"][0]["name_zh"] == "被驳回"


async def test_if_match_guards_actions(client: httpx.AsyncClient, desk: Desk) -> None:
    number = (await create_incident(client, desk.user))["number"]
    stale = await client.post(
        f"/api/v1/incidents/{number}/actions/accept",
        json={},
        headers={**desk.tech.headers, "If-Match": '"7"'},
    )
    assert stale.status_code == 412
    fresh = await client.post(
        f"/api/v1/incidents/{number}/actions/accept",
        json={},
        headers={**desk.tech.headers, "If-Match": '"1"'},
    )
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"2"'


async def test_the_reporter_withdraws_what_nobody_has_accepted(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    by_staff = await act(client, desk.tech, number, Action.WITHDRAW, {})
    assert by_staff.status_code == 403
    by_other = await act(client, desk.other_user, number, Action.WITHDRAW, {})
    assert by_other.status_code == 404
    withdrawn = await ok(client, desk.user, number, Action.WITHDRAW, {})
    assert withdrawn["phase"] == "completed" and withdrawn["status"] == "INCIDENT_STATUS_COMPLETED"
    assert withdrawn["completed_at"] is not None
    _incident, history = await snapshot(client, desk, number)
    assert history[-1]["action"] == "incident_withdraw"
    assert history[-1]["operator_id"] == desk.user.id
    assert history[-1]["comment"] == "withdrawn by the reporter"
    assert history[-1]["action_name_en"] == "withdrawn by the reporter"
    # Nothing was ever worked on: a withdrawn report is not reopened, a new one is made.
    reopen = await act(client, desk.user, number, Action.REOPEN, {"reason": "it is back"})
    assert reopen.status_code == 409 and "withdrew" in reopen.json()["error"]["message"]

    accepted = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, accepted, Action.ACCEPT, {})
    late = await act(client, desk.user, accepted, Action.WITHDRAW, {})
    assert late.status_code == 409 and "withdraw" in late.json()["error"]["message"]
    listed = (
        await client.get(f"/api/v1/incidents/{accepted}/actions", headers=desk.user.headers)
    ).json()
    assert "withdraw" not in [a["action"] for a in listed["actions"]]
