"""Random sequences of actions by random people keep the lifecycle's invariants.

Hypothesis drives the real service against a real database (SQLite, and PostgreSQL when
configured): after every step the status is a COC status, the history has one row per
accepted action plus the create, the reopen count matches the reopens, and a completed
incident takes nothing but a reopen.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from opsdesk.auth.roles import Caller
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.errors import OpsdeskError
from opsdesk.incidents import actions as action_service
from opsdesk.incidents import creation
from opsdesk.incidents.fields import Status
from opsdesk.incidents.lifecycle import PUBLIC_ACTIONS, TRANSITIONS, Action, Phase, phase_of
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import ACTION_PARAMS, IncidentCreate
from tests.conftest import START
from tests.factories import Desk, make_desk

PEOPLE = ("tech", "tech2", "manager", "admin", "user", "other_user")
LEVELS = ("P1", "P2", "P3", "P4", "P5")


Step = tuple[str, Action, dict[Action, dict[str, Any]], int, int | None]


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    """(who, action, parameters of each action, minutes to wait first, steer) several times.

    A step with a ``steer`` takes, instead of its drawn action, one of the actions its
    person may take in the phase reached, so that walks go deep into the lifecycle; the
    others are blind and mostly refused.
    """
    chosen: list[Step] = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        action = draw(st.sampled_from(PUBLIC_ACTIONS))
        who = draw(st.sampled_from(PEOPLE))
        params: dict[Action, dict[str, Any]] = {
            Action.ACCEPT: {},
            Action.REJECT: {"reason": "no"},
            Action.FORWARD: {"assignee_id": "<tech2>", "comment": "over to you"},
            Action.REMARK: {"note": "noted"},
            Action.PAUSE: {"reason": "vendor", "until": START + timedelta(days=30)},
            Action.APPROVE: {},
            Action.DENY: {},
            Action.RESUME: {},
            Action.CHANGE_LEVEL: {"level": draw(st.sampled_from(LEVELS)), "comment": "re-rated"},
            Action.RESOLVE: {
                "cause": "c",
                "solution": "s",
                "category": "inc_type_p_function_issues",
            },
            Action.CONFIRM: {"accepted": draw(st.booleans()), "comment": "checked"},
            Action.REOPEN: {"reason": "again"},
            Action.CLOSE: {},
            Action.WITHDRAW: {"comment": "sorted itself out"},
        }
        wait = draw(st.integers(min_value=0, max_value=3 * 1440))
        steer = draw(st.none() | st.integers(min_value=0, max_value=20))
        chosen.append((who, action, params, wait, steer))
    return chosen


async def _history_count(db: Database, incident_id: int) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(IncidentHistory)
            .where(IncidentHistory.incident_id == incident_id)
        )
    return count or 0


async def _run(
    url: str,
    desk: Desk,
    sequence: list[Step],
    reached: set[Phase],
) -> None:
    db = Database(url)
    clock = FixedClock(START)
    rules = IncidentRules()
    try:
        async with db.write() as session:
            incident = await creation.create_incident(
                session=session,
                caller=desk.user.caller,
                data=IncidentCreate(title="property"),
                now=clock.now(),
            )
        number, incident_id = incident.number, incident.id
        accepted, reopens = 0, 0
        for who, drawn, params_of, wait, steer in sequence:
            clock.advance(timedelta(minutes=wait))
            caller: Caller = getattr(desk, who).caller
            async with db.read() as session:
                before = await session.get(Incident, incident_id)
                assert before is not None
                phase_before = phase_of(before.status, before.sub_status)
                may = action_service.available_actions(before, caller)
            action = may[steer % len(may)] if steer is not None and may else drawn
            params = {**params_of[action]}
            if params.get("assignee_id") == "<tech2>":
                params["assignee_id"] = desk.tech2.id
            try:
                async with db.write() as session:
                    await action_service.take_action(
                        session=session,
                        caller=caller,
                        number=number,
                        action=action,
                        params=ACTION_PARAMS[action].model_validate(params),
                        now=clock.now(),
                        rules=rules,
                    )
            except OpsdeskError:
                succeeded = False
            else:
                succeeded = True
            if succeeded:
                accepted += 1
                assert (phase_before, action) in TRANSITIONS
                if phase_before is Phase.COMPLETED:
                    assert action is Action.REOPEN
                if action is Action.REOPEN or (action is Action.CONFIRM and not params["accepted"]):
                    reopens += 1
            async with db.read() as session:
                after = await session.get(Incident, incident_id)
                assert after is not None
                assert after.status in set(Status)
                phase_after = phase_of(after.status, after.sub_status)
                reached.add(phase_after)
                if not succeeded:
                    assert phase_after is phase_before
                assert after.reopen_count == reopens
                assert after.version == 1 + accepted
            assert await _history_count(db, incident_id) == 1 + accepted
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_random_action_sequences_keep_the_invariants(database_url: str) -> None:
    desk = asyncio.run(_make_desk(database_url))
    reached: set[Phase] = set()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(sequence=steps())
    def run(sequence: list[Step]) -> None:
        asyncio.run(_run(database_url, desk, sequence, reached))

    run()
    # The random walks went deep enough to mean something.
    assert {Phase.IN_PROGRESS, Phase.RESOLVED, Phase.COMPLETED, Phase.REJECTED} <= reached


async def _make_desk(url: str) -> Desk:
    db = Database(url)
    try:
        return await make_desk(db, FixedClock(START))
    finally:
        await db.dispose()
