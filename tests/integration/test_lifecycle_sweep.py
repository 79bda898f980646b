"""The lifecycle sweep: auto-complete after the window (never major incidents), end of pauses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.sweeper import sweep_once
from tests.api.test_lifecycle_actions import act, ok, sample_params
from tests.factories import Desk, create_incident

RULES = IncidentRules(auto_complete_after=timedelta(days=7))


async def resolved_incident(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, *, title: str
) -> str:
    number: str = (await create_incident(client, desk.user, title=title))["number"]
    for action in (Action.ACCEPT, Action.RESOLVE):
        await ok(client, desk.tech, number, action, sample_params(action, desk, clock))
    return number


async def state(client: httpx.AsyncClient, desk: Desk, number: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/incidents/{number}", headers=desk.admin.headers)
    body: dict[str, Any] = response.json()
    return body


async def history_keys(client: httpx.AsyncClient, desk: Desk, number: str) -> list[str]:
    response = await client.get(f"/api/v1/incidents/{number}/history", headers=desk.admin.headers)
    return [row["action"] for row in response.json()]


async def test_unconfirmed_resolved_incidents_complete_after_the_window_but_not_major_ones(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    ordinary = await resolved_incident(client, desk, clock, title="printer jam")
    major = await resolved_incident(client, desk, clock, title="datacentre down")
    async with db.write() as session:
        await session.execute(update(Incident).where(Incident.number == major).values(major=True))

    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    early = await sweep_once(db=db, clock=clock, rules=RULES)
    assert (early.completed, early.resumed) == (0, 0)
    assert (await state(client, desk, ordinary))["status"] == "INCIDENT_STATUS_RESOLVED"

    clock.advance(timedelta(seconds=1))
    due = await sweep_once(db=db, clock=clock, rules=RULES)
    assert (due.completed, due.resumed) == (1, 0)
    completed = await state(client, desk, ordinary)
    assert completed["status"] == "INCIDENT_STATUS_COMPLETED"
    assert completed["completed_at"] is not None
    assert (await history_keys(client, desk, ordinary)).count("incident_auto_complete") == 1
    assert (await state(client, desk, major))["status"] == "INCIDENT_STATUS_RESOLVED"
    assert "incident_auto_complete" not in await history_keys(client, desk, major)

    again = await sweep_once(db=db, clock=clock, rules=RULES)
    assert (again.completed, again.resumed) == (0, 0)


async def test_a_reopened_incident_restarts_its_confirmation_window(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    number = await resolved_incident(client, desk, clock, title="vpn drops")
    clock.advance(timedelta(days=5))
    await ok(client, desk.user, number, Action.REOPEN, {"reason": "it broke again"})
    await ok(client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock))
    clock.advance(timedelta(days=3))
    assert (await sweep_once(db=db, clock=clock, rules=RULES)).completed == 0
    clock.advance(timedelta(days=4))
    assert (await sweep_once(db=db, clock=clock, rules=RULES)).completed == 1


async def test_an_approved_pause_ends_by_itself_at_its_planned_time(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, db: Database
) -> None:
    number: str = (await create_incident(client, desk.user, title="disk order"))["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    until = clock.now() + timedelta(hours=4)
    await ok(
        client, desk.tech, number, Action.PAUSE, {"reason": "vendor", "until": until.isoformat()}
    )
    # Requested but not approved: the sweep leaves it alone even after the planned end.
    clock.advance(timedelta(hours=5))
    assert (await sweep_once(db=db, clock=clock, rules=RULES)).resumed == 0
    assert (await state(client, desk, number))["phase"] == "pause_requested"
    await ok(client, desk.manager, number, Action.DENY, {"comment": "no"})

    until = clock.now() + timedelta(hours=4)
    await ok(
        client, desk.tech, number, Action.PAUSE, {"reason": "vendor", "until": until.isoformat()}
    )
    await ok(client, desk.manager, number, Action.APPROVE, {"comment": "ok"})
    assert (await state(client, desk, number))["phase"] == "paused"
    clock.advance(timedelta(hours=4))
    result = await sweep_once(db=db, clock=clock, rules=RULES)
    assert (result.completed, result.resumed) == (0, 1)
    resumed = await state(client, desk, number)
    assert resumed["phase"] == "in_progress"
    assert resumed["pause_until"] is None
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.admin.headers)
    ).json()
    recover = [row for row in history if row["action"] == "incident_recover"]
    assert len(recover) == 1 and recover[0]["operator_id"] is None
    # Nothing left to do: a second sweep is a no-op, and the pause cannot be resumed twice.
    assert (await sweep_once(db=db, clock=clock, rules=RULES)).resumed == 0
    second = await act(client, desk.tech, number, Action.RESUME, {})
    assert second.status_code == 409
