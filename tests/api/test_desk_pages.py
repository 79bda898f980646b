"""My work, queues, saved views, bulk actions and live-update tags through the ASGI stack,
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from tests.factories import Actor, Desk, create_incident, make_actor

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "desk-password-1"


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    page = await http.get("/login")
    answer = await http.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of((await http.get("/account")).text)


async def staff(db: Database, clock: FixedClock, role: Role, email: str) -> Actor:
    return await make_actor(db, clock, role, email, PASSWORD)


async def act(
    http: httpx.AsyncClient, actor: Actor, number: str, action: str, **params: Any
) -> None:
    answer = await http.post(
        f"/api/v1/incidents/{number}/actions/{action}", json=params, headers=actor.headers
    )
    assert answer.status_code == 200, answer.text


def counter(html: str, queue: str) -> int:
    match = re.search(rf'id="counter-{queue}">\s*<span class="counter-count">(\d+)<', html)
    assert match is not None, f"no counter {queue}"
    return int(match.group(1))


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)">', html)


def results(html: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<li class="result-(done|refused)"><a class="mono" href="/incidents/([^"]+)">[^<]+</a>'
        r" — ([^<]+)</li>",
        html,
    )


async def test_home_is_my_work_for_staff_and_the_own_list_for_end_users(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "home-tech@desk.test")
    assert (await client.get("/my-work")).headers["location"].startswith("/login")
    await sign_in(client, tech.caller.email)
    assert (await client.get("/")).headers["location"] == "/my-work"
    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 303
    assert dashboard.headers["location"] == "/my-work"
    page = await client.get("/my-work")
    assert page.status_code == 200
    assert "<h1>My work</h1>" in page.text
    client.cookies.clear()
    await sign_in(client, "user@desk.test", "user-password")
    assert (await client.get("/")).headers["location"] == "/incidents"
    assert (await client.get("/my-work")).headers["location"] == "/incidents"
    assert (await client.get("/queue")).headers["location"] == "/incidents"


async def test_my_work_counts_each_queue_and_links_to_it(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "count-tech@desk.test")
    manager = await staff(db, clock, Role.INCIDENT_MANAGER, "count-manager@desk.test")
    group = await client.post(
        "/api/v1/workgroups",
        json={"key": "network", "name": "Network", "strategy": "queue", "members": [tech.id]},
        headers=desk.admin.headers,
    )
    assert group.status_code == 201, group.text
    mine = await create_incident(client, desk.admin, title="Mine, open", assignee_id=tech.id)
    paused = await create_incident(client, desk.admin, title="Mine, pause", assignee_id=tech.id)
    await create_incident(client, desk.admin, title="Group, nobody yet", workgroup="network")
    await create_incident(client, desk.admin, title="Somebody else's", assignee_id=desk.tech.id)
    await act(client, tech, mine["number"], "accept")
    await act(client, tech, paused["number"], "accept")
    await act(
        client,
        tech,
        paused["number"],
        "pause",
        reason="Waiting for the vendor",
        until="2099-01-01T00:00:00Z",
    )

    await sign_in(client, tech.caller.email)
    page = (await client.get("/my-work")).text
    assert counter(page, "mine") == 2
    assert counter(page, "groups_unassigned") == 1
    assert 'href="/queue?queue=mine" id="counter-mine"' in page
    # Technicians approve nothing: the approval counter is the managers'.
    assert 'id="counter-approval"' not in page
    assert listed(page) == [mine["number"], paused["number"]] or set(listed(page)) == {
        mine["number"],
        paused["number"],
    }
    assert "In Progress (pause awaiting approval)" in page

    client.cookies.clear()
    await sign_in(client, manager.caller.email)
    page = (await client.get("/my-work")).text
    assert counter(page, "approval") == 1
    queue = (await client.get("/queue?queue=approval")).text
    assert listed(queue) == [paused["number"]]
    assert '<h1 id="queue-title">Awaiting approval</h1>' in queue


async def test_queue_filters_by_owner_group_and_sub_state_and_names_bad_input(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "filter-tech@desk.test")
    first = await create_incident(client, desk.admin, title="VPN drops", assignee_id=tech.id)
    second = await create_incident(client, desk.admin, title="Printer jam", assignee_id=tech.id)
    other = await create_incident(client, desk.admin, title="VPN slow", assignee_id=desk.tech.id)
    await act(client, tech, second["number"], "accept")
    await act(client, tech, second["number"], "change_level", level="P5", comment="minor")

    await sign_in(client, tech.caller.email)
    everything = await client.get("/queue", params={"queue": "all"})
    assert set(listed(everything.text)) == {first["number"], second["number"], other["number"]}
    assert "Clear filters" in everything.text

    by_assignee = await client.get("/queue", params={"queue": "all", "assignee": tech.id})
    assert set(listed(by_assignee.text)) == {first["number"], second["number"]}
    searched = await client.get("/queue", params={"queue": "all", "assignee": tech.id, "q": "vpn"})
    assert listed(searched.text) == [first["number"]]
    sub_state = await client.get(
        "/queue", params={"queue": "all", "status": "level_change_requested"}
    )
    assert listed(sub_state.text) == [second["number"]]
    assert "In Progress (level change awaiting approval)" in sub_state.text
    new_only = await client.get("/queue", params={"queue": "all", "status": "new"})
    assert set(listed(new_only.text)) == {first["number"], other["number"]}

    bad = await client.get("/queue", params={"queue": "all", "status": "sleeping"})
    assert bad.status_code == 422
    assert "filters." in bad.text and "sleeping" in bad.text
    unknown_queue = await client.get("/queue", params={"queue": "everything"})
    assert unknown_queue.status_code == 422
    assert "queue: choose one of" in unknown_queue.text


async def test_bulk_forward_reports_each_row_and_one_refusal_undoes_nothing(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "bulk-tech@desk.test")
    numbers = [
        (await create_incident(client, desk.admin, title=f"Bulk {i}", assignee_id=tech.id))[
            "number"
        ]
        for i in range(5)
    ]
    await act(client, tech, numbers[2], "reject", reason="Not an incident")

    csrf = await sign_in(client, tech.caller.email)
    answer = await client.post(
        "/queue/bulk",
        data={
            "csrf_token": csrf,
            "action": "forward",
            "forward_to": f"person={desk.tech2.id}",
            "comment": "Tom knows this system",
            "numbers": numbers,
            "return_to": "/queue?queue=all",
        },
    )
    assert answer.status_code == 200
    rows = results(answer.text)
    assert [number for _kind, number, _message in rows] == numbers
    refused = [row for row in rows if row[0] == "refused"]
    assert [number for _kind, number, _message in refused] == [numbers[2]]
    assert "forward is not allowed while the incident is Rejected" in refused[0][2]
    assert "4 of 5 done, 1 refused" in answer.text
    async with db.read() as session:
        owners = dict((await session.execute(select(Incident.number, Incident.assignee_id))).all())
    assert [owners[n] for n in numbers] == [
        desk.tech2.id,
        desk.tech2.id,
        tech.id,
        desk.tech2.id,
        desk.tech2.id,
    ]


async def test_bulk_accept_note_watch_and_level_go_through_the_same_services(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "bulk2-tech@desk.test")
    numbers = [
        (await create_incident(client, desk.admin, title=f"Many {i}", assignee_id=tech.id))[
            "number"
        ]
        for i in range(2)
    ]
    csrf = await sign_in(client, tech.caller.email)

    async def bulk(action: str, **fields: str) -> str:
        answer = await client.post(
            "/queue/bulk",
            data={"csrf_token": csrf, "action": action, "numbers": numbers, **fields},
        )
        assert answer.status_code == 200, answer.text
        return answer.text

    assert {r[0] for r in results(await bulk("accept"))} == {"done"}
    assert {r[0] for r in results(await bulk("accept"))} == {"refused"}
    assert {r[2] for r in results(await bulk("watch"))} == {"now watching"}
    assert {r[2] for r in results(await bulk("watch"))} == {"already watching"}
    assert {r[0] for r in results(await bulk("note", comment="Checked the logs"))} == {"done"}
    notes = await client.get(f"/api/v1/incidents/{numbers[0]}/conversations", headers=tech.headers)
    assert [(n["body"], n["internal"]) for n in notes.json()] == [("Checked the logs", True)]
    raised = results(await bulk("change_level", level="level_10", comment="Outage"))
    assert {r[0] for r in raised} == {"done"}
    async with db.read() as session:
        levels = set(
            await session.scalars(select(Incident.level).where(Incident.number.in_(numbers)))
        )
    assert levels == {"level_10"}

    # Bad parameters refuse the batch as a whole, naming the field; nothing is touched.
    missing = await client.post(
        "/queue/bulk",
        data={"csrf_token": csrf, "action": "forward", "numbers": numbers, "comment": "x"},
    )
    assert missing.status_code == 422
    assert "forward_to: choose a person, a group or a shift" in missing.text
    nothing = await client.post(
        "/queue/bulk", data={"csrf_token": csrf, "action": "accept", "comment": ""}
    )
    assert nothing.status_code == 422
    assert "numbers: select at least one incident" in nothing.text
    forged = await client.post(
        "/queue/bulk", data={"csrf_token": "forged", "action": "watch", "numbers": numbers}
    )
    assert forged.status_code == 403


async def test_saved_views_are_personal_unless_shared_and_checked_like_a_search(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    p1 = await create_incident(client, desk.admin, title="Big outage", level="P1")
    await create_incident(client, desk.admin, title="Small thing", level="P4")
    body = {
        "name": "P1 new",
        "queue": "all",
        "filters": {
            "string_filters": [
                {"name": "p1", "field": "level_id", "operator": "in", "values": ["level_10"]},
                {"name": "fresh", "field": "phase", "operator": "in", "values": ["new"]},
            ],
            "condition": "p1 & fresh",
        },
        "sort": "-created_at",
    }
    created = await client.post("/api/v1/views", json=body, headers=desk.tech.headers)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["shared"] is False
    assert (await client.get("/api/v1/views", headers=desk.tech2.headers)).json() == []
    assert (
        await client.get(f"/api/v1/views/{view['id']}", headers=desk.tech2.headers)
    ).status_code == 404
    again = await client.post("/api/v1/views", json=body, headers=desk.tech.headers)
    assert again.status_code == 409
    shared = await client.post(
        "/api/v1/views", json={**body, "name": "Team P1", "shared": True}, headers=desk.tech.headers
    )
    assert [
        v["name"] for v in (await client.get("/api/v1/views", headers=desk.tech2.headers)).json()
    ] == ["Team P1"]
    refused = await client.delete(
        f"/api/v1/views/{shared.json()['id']}", headers=desk.tech2.headers
    )
    assert refused.status_code == 403

    bad_field = {
        **body,
        "name": "Bad",
        "filters": {"string_filters": [{"field": "colour", "operator": "in", "values": ["red"]}]},
    }
    answer = await client.post("/api/v1/views", json=bad_field, headers=desk.tech.headers)
    assert answer.status_code == 422
    assert "filters" in answer.text and "colour" in answer.text
    bad_queue = await client.post(
        "/api/v1/views", json={**body, "name": "Q", "queue": "later"}, headers=desk.tech.headers
    )
    assert bad_queue.status_code == 422
    assert "queue" in bad_queue.text
    end_user = await client.get("/api/v1/views", headers=desk.user.headers)
    assert end_user.status_code == 403

    # The page opens the view with the same filter the API stored.
    await sign_in(client, "admin@desk.test", "admin-password")
    page = await client.get(f"/queue?view={shared.json()['id']}")
    assert listed(page.text) == [p1["number"]]
    assert '<h1 id="queue-title">Team P1</h1>' in page.text
    deleted = await client.delete(f"/api/v1/views/{view['id']}", headers=desk.tech.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/api/v1/views/{view['id']}", headers=desk.tech.headers)
    ).status_code == 404


async def test_saving_a_view_from_the_queue_page_keeps_its_filters(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "views-tech@desk.test")
    kept = await create_incident(client, desk.admin, title="Disk full", assignee_id=tech.id)
    await create_incident(client, desk.admin, title="Disk slow", assignee_id=desk.tech.id)
    csrf = await sign_in(client, tech.caller.email)
    saved = await client.post(
        "/queue/views",
        data={
            "csrf_token": csrf,
            "name": "My disks",
            "return_to": f"/queue?queue=all&assignee={tech.id}&q=disk",
        },
    )
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert listed(page.text) == [kept["number"]]
    assert f'<option value="{tech.id}" selected>' in page.text
    stored = (await client.get("/api/v1/views", headers=tech.headers)).json()
    assert stored[0]["filters"]["condition"] == "assignee & (q_number | q_title)"
    blank = await client.post(
        "/queue/views", data={"csrf_token": csrf, "name": "  ", "return_to": "/queue"}
    )
    assert blank.status_code == 422
    assert "name: give the view a name" in blank.text


async def test_change_tags_answer_304_until_the_queue_or_incident_changes(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "live-tech@desk.test")
    first = await create_incident(client, desk.user, title="Printer on fire")
    assert (await client.get("/queue/changes?queue=all")).status_code == 401
    await sign_in(client, tech.caller.email)
    answer = await client.get("/queue/changes", params={"queue": "all"})
    assert answer.status_code == 200
    etag = answer.headers["etag"]
    assert "no-store" not in answer.headers["cache-control"]
    same = await client.get(
        "/queue/changes", params={"queue": "all"}, headers={"If-None-Match": etag}
    )
    assert same.status_code == 304
    await create_incident(client, desk.user, title="Second report")
    changed = await client.get(
        "/queue/changes", params={"queue": "all"}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag

    url = f"/incidents/{first['number']}/changes"
    tag = (await client.get(url)).headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": tag})).status_code == 304
    reply = await client.post(
        f"/api/v1/incidents/{first['number']}/conversations",
        json={"body": "Looking", "internal": True},
        headers=tech.headers,
    )
    assert reply.status_code == 201
    assert (await client.get(url, headers={"If-None-Match": tag})).status_code == 200

    # The reporter polls their own incident; an internal note is no change for them.
    client.cookies.clear()
    await sign_in(client, "user@desk.test", "user-password")
    mine = (await client.get(url)).headers["etag"]
    await client.post(
        f"/api/v1/incidents/{first['number']}/conversations",
        json={"body": "Another note", "internal": True},
        headers=tech.headers,
    )
    assert (await client.get(url, headers={"If-None-Match": mine})).status_code == 304
    assert (await client.get("/queue/changes?queue=all")).status_code == 403
    other = await create_incident(client, desk.other_user, title="Not yours")
    assert (await client.get(f"/incidents/{other['number']}/changes")).status_code == 404


async def test_the_incident_list_says_when_a_typed_filter_narrows_it(
    client: httpx.AsyncClient, db: Database, clock: FixedClock, desk: Desk
) -> None:
    tech = await staff(db, clock, Role.TECHNICIAN, "list-tech@desk.test")
    await sign_in(client, tech.caller.email)
    narrowed = await client.get("/incidents", params={"assignee_id": tech.id})
    assert narrowed.status_code == 200
    assert f"Incidents matching assignee_id={tech.id}" in narrowed.text
    assert "All incidents" not in narrowed.text
    everything = await client.get("/incidents", params={"sort": "-created_at"})
    assert "All incidents" in everything.text
