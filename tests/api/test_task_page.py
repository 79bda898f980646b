"""The task page (``/incidents/{number}/tasks/{id}``) and its edit form, on both databases:
every field the API's update takes, refusals beside the field with nothing changed, and the
same answers as the API for callers who may not change tasks."""

from __future__ import annotations

import re
from typing import Any

import httpx

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_collaboration import complete, history_rows, reported_by
from tests.api.test_desk_pages import csrf_of, sign_in, staff
from tests.api.test_tasks import add_task, counters, tasks_url
from tests.factories import Actor, Desk


def page_url(number: str, task_id: int) -> str:
    return f"/incidents/{number}/tasks/{task_id}"


async def api_task(client: httpx.AsyncClient, actor: Actor, number: str, task_id: int) -> Any:
    listed = (await client.get(tasks_url(number), headers=actor.headers)).json()
    return next(task for task in listed if task["id"] == task_id)


async def edit(
    client: httpx.AsyncClient, number: str, task_id: int, **fields: str
) -> httpx.Response:
    page = await client.get(page_url(number, task_id))
    form = {
        "title": "Check the core switch",
        "description": "",
        "assignee_id": "",
        "workgroup": "",
        "due_at": "",
        "status": "",
        **fields,
    }
    return await client.post(
        f"{page_url(number, task_id)}/edit", data={"csrf_token": csrf_of(page.text), **form}
    )


async def workgroup(client: httpx.AsyncClient, desk: Desk, key: str) -> str:
    created = await client.post(
        "/api/v1/workgroups", json={"key": key, "name": f"Team {key}"}, headers=desk.admin.headers
    )
    assert created.status_code == 201, created.text
    return key


async def test_staff_change_every_field_of_a_task_on_its_page(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    group = await workgroup(client, desk, "network")
    tech = await staff(db, clock, Role.TECHNICIAN, "task-page-tech@desk.test")
    number = await reported_by(client, desk)
    task = await add_task(client, desk.tech, number)
    await sign_in(client, tech.caller.email)
    incident_page = (await client.get(f"/incidents/{number}")).text
    assert f'href="{page_url(number, task["id"])}"' in incident_page
    page = await client.get(page_url(number, task["id"]))
    assert page.status_code == 200
    assert 'id="task-edit-form"' in page.text
    assert 'value="Check the core switch"' in page.text

    saved = await edit(
        client,
        number,
        task["id"],
        title="Replace the core switch",
        description="Port 12 flaps\r\nsince 9:00",
        assignee_id=desk.tech2.id,
        workgroup=group,
        due_at="2030-01-02T09:30",
        status="in_progress",
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == page_url(number, task["id"])
    after = await api_task(client, desk.tech, number, task["id"])
    assert after["title"] == "Replace the core switch"
    assert after["description"] == "Port 12 flaps\nsince 9:00"
    assert after["assignee_id"] == desk.tech2.id
    assert after["workgroup"] == group
    assert after["due_at"].startswith("2030-01-02T09:30:00")
    assert after["status"] == "in_progress"
    row = (await history_rows(client, desk.tech, number))[-1]
    assert row["action"] == "incident_task" and row["operator_id"] == tech.caller.user_id
    assert {change["field"] for change in row["changes"]} >= {
        "task_title",
        "task_description",
        "task_assignee_id",
        "task_workgroup",
        "task_due_at",
        "task_status",
    }
    shown = (await client.get(page_url(number, task["id"]))).text
    assert f"Task #{task['id']} saved." in shown
    assert 'value="2030-01-02T09:30"' in shown and "Team network" in shown
    assert re.search(rf'<option value="{desk.tech2.id}" selected>', shown)

    # Emptied inputs clear the person, the group and the due time; the status is kept.
    cleared = await edit(client, number, task["id"], title="Replace the core switch")
    assert cleared.status_code == 303, cleared.text
    after = await api_task(client, desk.tech, number, task["id"])
    assert (after["assignee_id"], after["workgroup"], after["due_at"]) == (None, None, None)
    assert (after["description"], after["status"]) == ("", "in_progress")
    # Done from the form counts the task finished on the incident, as the API does.
    assert await counters(db, number) == (1, 0)
    done = await edit(client, number, task["id"], title="Replace the core switch", status="done")
    assert done.status_code == 303
    assert await counters(db, number) == (0, 0)


async def test_a_refused_edit_names_the_field_keeps_what_was_typed_and_changes_nothing(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "task-page-tech@desk.test")
    number = await reported_by(client, desk)
    task = await add_task(client, desk.tech, number, description="Port 12")
    done = await client.patch(
        f"{tasks_url(number)}/{task['id']}", json={"status": "done"}, headers=desk.tech.headers
    )
    assert done.status_code == 200
    before = await api_task(client, desk.tech, number, task["id"])
    history = len(await history_rows(client, desk.tech, number))
    await sign_in(client, tech.caller.email)
    cases: list[tuple[dict[str, str], int, str, str]] = [
        ({"title": "   "}, 422, "title", "Title"),
        ({"title": "x" * 201}, 422, "title", "Title"),
        ({"assignee_id": desk.user.id}, 422, "assignee_id", "not an active staff member"),
        ({"workgroup": "nobody"}, 422, "workgroup", "nobody"),
        ({"due_at": "tomorrow"}, 422, "due_at", "enter a date and time"),
        ({"status": "in_progress"}, 409, "status", "in_progress"),
        ({"status": "finished"}, 422, "status", "Status"),
    ]
    for fields, code, field, words in cases:
        typed = {"description": "Typed but refused", **fields}
        answer = await edit(client, number, task["id"], **typed)
        assert answer.status_code == code, (fields, answer.text)
        error = re.search(rf'id="task-edit-{field}-error">([^<]*)<', answer.text)
        assert error is not None, (fields, answer.text)
        assert words in error.group(1), (fields, error.group(1))
        assert f'aria-describedby="task-edit-{field}-error"' in answer.text
        assert ">Typed but refused</textarea>" in answer.text
        assert await api_task(client, desk.tech, number, task["id"]) == before
    assert len(await history_rows(client, desk.tech, number)) == history
    assert await counters(db, number) == (0, 0)


async def test_callers_who_may_not_change_tasks_get_what_the_api_answers(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    own = await reported_by(client, desk)
    task = await add_task(client, desk.tech, own)
    before = await api_task(client, desk.tech, own, task["id"])

    # The reporter is an end user: 403 on their own incident's task, as the API says.
    api = await client.patch(
        f"{tasks_url(own)}/{task['id']}", json={"title": "mine"}, headers=desk.user.headers
    )
    assert api.status_code == 403
    await sign_in(client, "user@desk.test", "user-password")
    page = await client.get(page_url(own, task["id"]))
    assert page.status_code == 403
    assert "task-edit-form" not in page.text and "Check the core switch" not in page.text
    portal = await client.get(f"/incidents/{own}")
    assert page_url(own, task["id"]) not in portal.text
    csrf = csrf_of(portal.text)
    posted = await client.post(
        f"{page_url(own, task['id'])}/edit", data={"csrf_token": csrf, "title": "mine"}
    )
    assert posted.status_code == 403
    # Someone else's incident: 403 too, before anything is looked up, as the API says.
    others = (
        await client.post("/api/v1/incidents", json={"title": "Printer"}, headers=desk.tech.headers)
    ).json()["number"]
    hidden = await add_task(client, desk.tech, others)
    api = await client.patch(
        f"{tasks_url(others)}/{hidden['id']}", json={"title": "x"}, headers=desk.user.headers
    )
    assert api.status_code == 403
    assert (await client.get(page_url(others, hidden["id"]))).status_code == 403
    posted = await client.post(
        f"{page_url(others, hidden['id'])}/edit", data={"csrf_token": csrf, "title": "x"}
    )
    assert posted.status_code == 403
    # Without the session's CSRF token nothing happens.
    assert (
        await client.post(f"{page_url(own, task['id'])}/edit", data={"title": "x"})
    ).status_code == 403

    # A technician may not reach a task through another incident's number (404), nor
    # change one on a closed incident (409, no form shown).
    tech = await staff(db, clock, Role.TECHNICIAN, "task-page-tech@desk.test")
    client.cookies.clear()
    csrf = await sign_in(client, tech.caller.email)
    api = await client.patch(
        f"{tasks_url(others)}/{task['id']}", json={"title": "x"}, headers=tech.headers
    )
    assert api.status_code == 404
    assert (await client.get(page_url(others, task["id"]))).status_code == 404
    wrong = await client.post(
        f"{page_url(others, task['id'])}/edit", data={"csrf_token": csrf, "title": "x"}
    )
    assert wrong.status_code == 404
    assert (await client.get(page_url(own, 999_999))).status_code == 404
    assert await api_task(client, desk.tech, own, task["id"]) == before

    cancelled = await client.patch(
        f"{tasks_url(own)}/{task['id']}", json={"status": "cancelled"}, headers=tech.headers
    )
    assert cancelled.status_code == 200
    await complete(client, desk, own)
    api = await client.patch(
        f"{tasks_url(own)}/{task['id']}", json={"title": "x"}, headers=tech.headers
    )
    assert api.status_code == 409
    closed = await client.get(page_url(own, task["id"]))
    assert closed.status_code == 200 and "task-edit-form" not in closed.text
    refused = await edit(client, own, task["id"], title="late")
    assert refused.status_code == 409
    assert 'id="form-error"' in refused.text and "closed" in refused.text
    assert (await api_task(client, desk.tech, own, task["id"]))["title"] == before["title"]
