"""Tasks inside an incident, through the ASGI stack, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.collaboration.tasks import WORK_NOTICE_JOB
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.models import Incident
from tests.api.test_collaboration import act, complete, history_rows, reported_by
from tests.factories import Actor, Desk


def tasks_url(number: str) -> str:
    return f"/api/v1/incidents/{number}/tasks"


async def add_task(
    client: httpx.AsyncClient, actor: Actor, number: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": "Check the core switch", **fields}
    response = await client.post(tasks_url(number), json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def set_status(
    client: httpx.AsyncClient, actor: Actor, number: str, task_id: int, status: str
) -> httpx.Response:
    return await client.patch(
        f"{tasks_url(number)}/{task_id}", json={"status": status}, headers=actor.headers
    )


async def counters(db: Database, number: str) -> tuple[int, int]:
    async with db.read() as session:
        incident = await session.scalar(select(Incident).where(Incident.number == number))
        assert incident is not None
        return incident.open_tasks, incident.open_work_orders


async def notice_payloads(db: Database) -> list[dict[str, Any]]:
    async with db.read() as session:
        rows = await session.scalars(select(Job).where(Job.kind == WORK_NOTICE_JOB))
        return [row.payload for row in rows]


async def test_a_task_is_added_counted_open_told_and_recorded(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    number = await reported_by(client, desk)
    due = (clock.now() + timedelta(hours=4)).isoformat()
    task = await add_task(
        client,
        desk.tech,
        number,
        description="Port 12 flaps",
        assignee_id=desk.tech2.id,
        due_at=due,
    )
    assert task["status"] == "open"
    assert task["assignee_id"] == desk.tech2.id
    assert task["incident_number"] == number
    assert task["overdue"] is False
    assert await counters(db, number) == (1, 0)
    assert await notice_payloads(db) == [
        {"item": "task", "id": task["id"], "event": "assigned", "actor_id": desk.tech.id}
    ]
    rows = await history_rows(client, desk.tech, number)
    row = rows[-1]
    assert row["action"] == "incident_task"
    assert {"field": "task_status", "old": None, "new": "open"} in row["changes"]
    listed = (await client.get(tasks_url(number), headers=desk.tech.headers)).json()
    assert [item["id"] for item in listed] == [task["id"]]


async def test_status_changes_follow_the_lifecycle_and_keep_the_counter_exact(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    first = await add_task(client, desk.tech, number, title="First")
    second = await add_task(client, desk.tech, number, title="Second")
    assert await counters(db, number) == (2, 0)
    assert (
        await set_status(client, desk.tech, number, first["id"], "in_progress")
    ).status_code == 200
    assert await counters(db, number) == (2, 0)
    done = await set_status(client, desk.tech, number, first["id"], "done")
    assert done.status_code == 200, done.text
    assert done.json()["finished_at"] is not None
    assert await counters(db, number) == (1, 0)
    refused = await set_status(client, desk.tech, number, first["id"], "in_progress")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["field"] == "status"
    assert await counters(db, number) == (1, 0)
    assert (await set_status(client, desk.tech, number, first["id"], "open")).status_code == 200
    assert await counters(db, number) == (2, 0)
    assert (
        await set_status(client, desk.tech, number, second["id"], "cancelled")
    ).status_code == 200
    assert (
        await set_status(client, desk.tech, number, first["id"], "cancelled")
    ).status_code == 200
    assert await counters(db, number) == (0, 0)
    rows = [
        row
        for row in await history_rows(client, desk.tech, number)
        if row["action"] == "incident_task"
    ]
    assert len(rows) == 2 + 5
    assert {"field": "task_status", "old": "in_progress", "new": "done"} in rows[3]["changes"]


async def test_fields_change_and_a_new_assignee_is_told(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    task = await add_task(client, desk.tech, number)
    response = await client.patch(
        f"{tasks_url(number)}/{task['id']}",
        json={"title": "Replace the switch", "assignee_id": desk.tech2.id},
        headers=desk.tech.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Replace the switch"
    assert [p["event"] for p in await notice_payloads(db)] == ["assigned"]
    # Nothing sent that differs: no history row.
    before = len(await history_rows(client, desk.tech, number))
    same = await client.patch(
        f"{tasks_url(number)}/{task['id']}",
        json={"title": "Replace the switch"},
        headers=desk.tech.headers,
    )
    assert same.status_code == 200
    assert len(await history_rows(client, desk.tech, number)) == before


async def test_bad_assignees_groups_and_callers_are_refused(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    not_staff = await client.post(
        tasks_url(number),
        json={"title": "x", "assignee_id": desk.user.id},
        headers=desk.tech.headers,
    )
    assert not_staff.status_code == 422, not_staff.text
    assert not_staff.json()["error"]["field"] == "assignee_id"
    no_group = await client.post(
        tasks_url(number), json={"title": "x", "workgroup": "nobody"}, headers=desk.tech.headers
    )
    assert no_group.status_code == 422, no_group.text
    assert no_group.json()["error"]["field"] == "workgroup"
    # The reporter is an end user: tasks are staff work, even on their own incident.
    for response in (
        await client.get(tasks_url(number), headers=desk.user.headers),
        await client.post(tasks_url(number), json={"title": "x"}, headers=desk.user.headers),
    ):
        assert response.status_code == 403, response.text
    missing = await client.get(tasks_url("INC00000000000000000"), headers=desk.tech.headers)
    assert missing.status_code == 404
    task = await add_task(client, desk.tech, number)
    other = await reported_by(client, desk)
    wrong_incident = await set_status(client, desk.tech, other, task["id"], "done")
    assert wrong_incident.status_code == 404
    assert await counters(db, number) == (1, 0)


async def test_a_closed_incident_takes_no_tasks(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await complete(client, desk, number)
    response = await client.post(tasks_url(number), json={"title": "x"}, headers=desk.tech.headers)
    assert response.status_code == 409, response.text
    assert await counters(db, number) == (0, 0)


async def test_resolving_with_an_open_task_needs_the_recorded_override(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    number = await reported_by(client, desk)
    await add_task(client, desk.tech, number)
    await act(client, desk.tech, number, "accept")
    params = {
        "cause": "Flapping port",
        "solution": "Moved the uplink",
        "category": "inc_type_p_function_issues",
    }
    refused = await client.post(
        f"/api/v1/incidents/{number}/actions/resolve", json=params, headers=desk.tech.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["field"] == "override_open_work"
    assert "1 open task" in refused.json()["error"]["message"]
    await act(client, desk.tech, number, "resolve", override_open_work=True, **params)
    rows = await history_rows(client, desk.tech, number)
    assert any("Resolved with 1 open task (override)." in row["comment"] for row in rows)
    # The task stays open: the override does not finish the work.
    assert await counters(db, number) == (1, 0)


async def test_merging_moves_tasks_with_their_counts_and_undo_moves_them_back(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    primary = await reported_by(client, desk)
    secondary = await reported_by(client, desk)
    kept = await add_task(client, desk.tech, primary, title="Call the carrier")
    moved = await add_task(client, desk.tech, secondary, title="Check the core switch")
    done = await add_task(client, desk.tech, secondary, title="Reboot the router")
    assert (await set_status(client, desk.tech, secondary, done["id"], "done")).status_code == 200
    assert await counters(db, secondary) == (1, 0)
    response = await client.post(
        f"/api/v1/incidents/{primary}/merge",
        json={"secondaries": [secondary]},
        headers=desk.tech.headers,
    )
    assert response.status_code == 200, response.text
    assert await counters(db, primary) == (2, 0)
    assert await counters(db, secondary) == (0, 0)
    listed = (await client.get(tasks_url(primary), headers=desk.tech.headers)).json()
    ids = {task["id"] for task in (listed["items"] if isinstance(listed, dict) else listed)}
    assert ids == {kept["id"], moved["id"], done["id"]}
    response = await client.post(
        f"/api/v1/incidents/{secondary}/unmerge", headers=desk.tech.headers
    )
    assert response.status_code == 200, response.text
    assert await counters(db, primary) == (1, 0)
    assert await counters(db, secondary) == (1, 0)
