"""Links and parent/child through the ASGI stack: links both ways, history rows on both
incidents, refusals, end-user visibility, and resolving a parent resolves its children."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident, IncidentHistory
from tests.api.test_collaboration import act, history_rows, resolve, url, version_of
from tests.factories import Actor, Desk, create_incident

RESOLUTION = {
    "cause": "A failed line card in the VPN concentrator",
    "solution": "Replaced the line card",
    "category": "inc_type_p_function_issues",
}


async def new(client: httpx.AsyncClient, actor: Actor, title: str) -> str:
    number: str = (await create_incident(client, actor, title=title))["number"]
    return number


async def link(
    client: httpx.AsyncClient, actor: Actor, number: str, kind: str, other: str, **extra: Any
) -> httpx.Response:
    body = {"kind": kind, "number": other, **extra}
    return await client.post(url(number, "links"), json=body, headers=actor.headers)


async def linked(client: httpx.AsyncClient, actor: Actor, number: str) -> dict[str, Any]:
    response = await client.get(url(number, "links"), headers=actor.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def incident(client: httpx.AsyncClient, actor: Actor, number: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/incidents/{number}", headers=actor.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def rows_of(rows: list[Any], *actions: str) -> list[Any]:
    return [row for row in rows if row["action"] in actions]


async def test_staff_link_both_ways_with_history_rows_on_both_and_unlink(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    vpn = await new(client, desk.tech, "VPN drops every hour")
    again = await new(client, desk.tech, "VPN drops again")
    before = await version_of(client, desk.tech, again)
    made = await link(client, desk.tech, again, "duplicate_of", vpn)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["kind"], body["direction"], body["label"]) == (
        "duplicate_of",
        "outgoing",
        "Duplicate of",
    )
    assert body["incident"]["number"] == vpn
    assert body["incident"]["phase_label"] == "New"
    assert await version_of(client, desk.tech, again) == before + 1
    from_vpn = await linked(client, desk.tech, vpn)
    (seen,) = from_vpn["links"]
    assert (seen["id"], seen["direction"], seen["label"], seen["incident"]["number"]) == (
        body["id"],
        "incoming",
        "Duplicated by",
        again,
    )
    assert seen["incident"]["title"] == "VPN drops again"
    # One history row on each incident, naming the other one.
    (on_vpn,) = rows_of(await history_rows(client, desk.tech, vpn), "incident_link")
    (on_again,) = rows_of(await history_rows(client, desk.tech, again), "incident_link")
    assert on_vpn["comment"] == f"Duplicated by {again}"
    assert on_again["comment"] == f"Duplicate of {vpn}"
    assert on_again["action_name_en"] == "link incident"
    assert on_again["changes"] == [{"field": "link", "old": None, "new": f"Duplicate of {vpn}"}]
    # Removed from the other end: both incidents get an unlink row.
    gone = await client.delete(url(vpn, f"links/{body['id']}"), headers=desk.tech.headers)
    assert gone.status_code == 204, gone.text
    assert (await linked(client, desk.tech, again))["links"] == []
    (off,) = rows_of(await history_rows(client, desk.tech, again), "incident_unlink")
    assert off["comment"] == f"No longer duplicate of {vpn}"
    assert rows_of(await history_rows(client, desk.tech, vpn), "incident_unlink")
    again_gone = await client.delete(url(vpn, f"links/{body['id']}"), headers=desk.tech.headers)
    assert error_of(again_gone, 404)["field"] == "link_id"


async def test_link_refusals_name_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    one = await new(client, desk.tech, "one")
    two = await new(client, desk.tech, "two")
    three = await new(client, desk.tech, "three")
    itself = error_of(await link(client, desk.tech, one, "related", one), 422)
    assert itself["field"] == "number"
    assert "cannot be linked to itself" in itself["message"]
    assert (await link(client, desk.tech, one, "related", two)).status_code == 201
    # The same link again, also from the other side (related is symmetric).
    for source, target in ((one, two), (two, one)):
        twice = error_of(await link(client, desk.tech, source, "related", target), 409)
        assert twice["field"] == "number"
        assert "already linked" in twice["message"]
    assert (await link(client, desk.tech, one, "caused_by", two)).status_code == 201
    opposite = error_of(await link(client, desk.tech, two, "caused_by", one), 409)
    assert "already linked" in opposite["message"]
    assert error_of(await link(client, desk.tech, one, "blocks", two), 422)["field"] == "kind"
    missing = error_of(await link(client, desk.tech, one, "related", "INC-NOPE"), 404)
    assert missing["field"] == "number"
    no_number = await client.post(
        url(one, "links"), json={"kind": "related"}, headers=desk.tech.headers
    )
    assert error_of(no_number, 422)["field"] == "number"
    unknown_link = await client.delete(url(three, "links/1"), headers=desk.tech.headers)
    assert error_of(unknown_link, 404)["field"] == "link_id"
    other_incidents_link = (await linked(client, desk.tech, one))["links"][0]["id"]
    wrong_end = await client.delete(
        url(three, f"links/{other_incidents_link}"), headers=desk.tech.headers
    )
    assert error_of(wrong_end, 404)["field"] == "link_id"


async def test_a_merged_incident_is_not_linked_its_primary_is(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    primary = await new(client, desk.tech, "primary")
    secondary = await new(client, desk.tech, "secondary")
    third = await new(client, desk.tech, "third")
    async with db.write() as session:
        primary_id = await session.scalar(select(Incident.id).where(Incident.number == primary))
        await session.execute(
            update(Incident)
            .where(Incident.number == secondary)
            .values(
                merged_into_id=primary_id, status="INCIDENT_STATUS_COMPLETED", sub_status="merged"
            )
        )
    for kind in ("related", "parent", "child"):
        error = error_of(await link(client, desk.tech, third, kind, secondary), 409)
        assert f"{secondary} was merged into {primary}; link {primary} instead" in error["message"]


async def test_parent_child_set_replace_cycle_and_clear(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    outage = await new(client, desk.tech, "VPN concentrator down")
    report = await new(client, desk.tech, "Cannot reach VPN")
    other = await new(client, desk.tech, "Network maintenance")
    as_parent = await link(client, desk.tech, report, "parent", outage)
    assert as_parent.status_code == 201, as_parent.text
    assert (as_parent.json()["id"], as_parent.json()["label"]) == (None, "Child of")
    assert (await incident(client, desk.tech, report))["parent"] == outage
    assert (await incident(client, desk.tech, outage))["parent"] is None
    listed = await client.get("/api/v1/incidents", headers=desk.tech.headers)
    parents = {item["number"]: item["parent"] for item in listed.json()["items"]}
    assert parents[report] == outage
    found = await client.post("/api/v1/incidents/search", json={}, headers=desk.tech.headers)
    assert {item["number"]: item["parent"] for item in found.json()["items"]}[report] == outage
    family = await linked(client, desk.tech, report)
    assert family["parent"]["number"] == outage
    assert family["parent"]["phase_label"] == "New"
    children = (await linked(client, desk.tech, outage))["children"]
    assert [child["number"] for child in children] == [report]
    (on_child,) = rows_of(await history_rows(client, desk.tech, report), "incident_link")
    assert on_child["comment"] == f"Parent set to {outage}"
    (on_parent,) = rows_of(await history_rows(client, desk.tech, outage), "incident_link")
    assert on_parent["comment"] == f"{report} added as a child"
    # The same parent again; another parent without replace; a cycle at depth two.
    again = error_of(await link(client, desk.tech, report, "parent", outage), 409)
    assert "already the parent" in again["message"]
    second = error_of(await link(client, desk.tech, report, "parent", other), 409)
    assert second["field"] == "replace"
    assert f"already has parent {outage}" in second["message"]
    assert (await link(client, desk.tech, outage, "parent", other)).status_code == 201
    cycle = error_of(await link(client, desk.tech, other, "parent", report), 409)
    assert f"{report} is a descendant of {other}" in cycle["message"]
    cycle_by_child = error_of(await link(client, desk.tech, report, "child", other), 409)
    assert "descendant" in cycle_by_child["message"]
    # Re-parenting explicitly: the old parent is told.
    moved = await link(client, desk.tech, report, "parent", other, replace=True)
    assert moved.status_code == 201, moved.text
    (left,) = rows_of(await history_rows(client, desk.tech, outage), "incident_unlink")
    assert left["comment"] == f"{report} moved to parent {other}"
    # "child" from the parent's side, then clear.
    assert (await link(client, desk.tech, outage, "child", report, replace=True)).status_code == 201
    assert (await incident(client, desk.tech, report))["parent"] == outage
    cleared = await client.delete(url(report, "links/parent"), headers=desk.tech.headers)
    assert cleared.status_code == 204, cleared.text
    assert (await incident(client, desk.tech, report))["parent"] is None
    none_left = await client.delete(url(report, "links/parent"), headers=desk.tech.headers)
    assert error_of(none_left, 404)["field"] == "parent"


async def test_end_users_list_only_what_they_may_see_and_change_nothing(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    mine = await new(client, desk.user, "My VPN drops")
    also_mine = await new(client, desk.user, "My VPN drops again")
    theirs = await new(client, desk.other_user, "Secret project VPN")
    outage = await new(client, desk.tech, "VPN concentrator down")
    assert (await link(client, desk.tech, mine, "related", also_mine)).status_code == 201
    assert (await link(client, desk.tech, mine, "related", theirs)).status_code == 201
    assert (await link(client, desk.tech, mine, "parent", outage)).status_code == 201
    seen = await linked(client, desk.user, mine)
    assert [item["incident"]["number"] for item in seen["links"]] == [also_mine]
    assert seen["parent"] is None
    assert "Secret project" not in str(seen)
    assert (await incident(client, desk.user, mine))["parent"] is None
    assert (await incident(client, desk.tech, mine))["parent"] == outage
    staff_view = await linked(client, desk.tech, mine)
    assert len(staff_view["links"]) == 2
    nothing = await client.get(url(theirs, "links"), headers=desk.user.headers)
    assert error_of(nothing, 404)["field"] == "number"
    link_id = staff_view["links"][0]["id"]
    # 403 whatever the body: the role is checked first.
    for response in (
        await link(client, desk.user, mine, "related", also_mine),
        await client.post(url(mine, "links"), json={"junk": 1}, headers=desk.user.headers),
        await client.delete(url(mine, f"links/{link_id}"), headers=desk.user.headers),
        await client.delete(url(mine, "links/parent"), headers=desk.user.headers),
    ):
        assert response.status_code == 403, response.text
    assert (await client.get(url(mine, "links"))).status_code == 401


async def _paused_awaiting_approval(client: httpx.AsyncClient, desk: Desk, number: str) -> None:
    await act(client, desk.tech, number, "accept")
    await act(
        client, desk.tech, number, "pause", reason="waiting for the user", until="2100-01-01T00:00Z"
    )


async def test_resolving_a_parent_resolves_its_three_open_children(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    """The acceptance test: each child resolved, with a history row naming the parent."""
    parent = await new(client, desk.tech, "VPN concentrator down")
    new_child = await new(client, desk.user, "VPN: cannot connect")
    working = await new(client, desk.tech, "VPN slow in Berlin")
    waiting = await new(client, desk.tech, "VPN drops in Paris")
    done = await new(client, desk.tech, "VPN certificate warning")
    await act(client, desk.tech, working, "accept")
    await _paused_awaiting_approval(client, desk, waiting)
    await resolve(client, desk, done)
    for child in (new_child, working, waiting, done):
        assert (await link(client, desk.tech, child, "parent", parent)).status_code == 201
    async with db.read() as session:
        jobs_before = await session.scalar(select(func.count()).select_from(Job))
    done_rows = len(await history_rows(client, desk.tech, done))
    clock.advance(timedelta(minutes=5))
    await act(client, desk.tech, parent, "accept")
    await act(client, desk.tech, parent, "resolve", **RESOLUTION)
    for child in (new_child, working, waiting):
        found = await incident(client, desk.tech, child)
        assert (found["phase"], found["parent"]) == ("resolved", parent)
        assert (found["cause"], found["solution"]) == (RESOLUTION["cause"], RESOLUTION["solution"])
        (row,) = rows_of(await history_rows(client, desk.tech, child), "incident_solution")
        assert row["comment"] == f"Resolved with parent {parent}"
        assert row["operator_id"] == desk.tech.id
        assert row["status"] == "INCIDENT_STATUS_RESOLVED"
    waiting_now = await incident(client, desk.tech, waiting)
    assert (waiting_now["pause_reason"], waiting_now["sub_status"]) == (None, None)
    # The already resolved child is untouched.
    assert len(await history_rows(client, desk.tech, done)) == done_rows
    # The reporter of the New child sees it resolved, and is told (one event per child).
    assert (await incident(client, desk.user, new_child))["phase"] == "resolved"
    async with db.read() as session:
        jobs_after = await session.scalar(select(func.count()).select_from(Job))
    assert (jobs_after or 0) - (jobs_before or 0) >= 3 + 2
    children = (await linked(client, desk.tech, parent))["children"]
    assert {child["phase_label"] for child in children} == {"Resolved"}


async def test_grandchildren_roll_up_and_open_work_needs_the_override(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    parent = await new(client, desk.tech, "Data centre power")
    child = await new(client, desk.tech, "Rack 12 down")
    grandchild = await new(client, desk.tech, "Billing host down")
    assert (await link(client, desk.tech, child, "parent", parent)).status_code == 201
    assert (await link(client, desk.tech, grandchild, "parent", child)).status_code == 201
    async with db.write() as session:
        await session.execute(
            update(Incident).where(Incident.number == grandchild).values(open_tasks=1)
        )
    await act(client, desk.tech, parent, "accept")
    refused = await client.post(
        url(parent, "actions/resolve"), json=RESOLUTION, headers=desk.tech.headers
    )
    error = error_of(refused, 409)
    assert error["field"] == "override_open_work"
    assert f"{grandchild} (a child of {parent}) has 1 open task" in error["message"]
    assert (await incident(client, desk.tech, child))["phase"] == "new"
    await act(client, desk.tech, parent, "resolve", override_open_work=True, **RESOLUTION)
    (row,) = rows_of(await history_rows(client, desk.tech, grandchild), "incident_solution")
    assert row["comment"] == (
        f"Resolved with parent {child} (resolved with {parent})\n\n"
        "Resolved with 1 open task (override)."
    )
    assert (await incident(client, desk.tech, child))["phase"] == "resolved"


async def test_coc_histories_show_link_merge_split_and_work_rows(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    one = await new(client, desk.tech, "one")
    two = await new(client, desk.tech, "two")
    assert (await link(client, desk.tech, one, "caused_by", two)).status_code == 201
    other_keys = [
        HistoryAction.MERGE,
        HistoryAction.MERGED,
        HistoryAction.UNMERGE,
        HistoryAction.SPLIT,
        HistoryAction.SPLIT_FROM,
        HistoryAction.TASK,
        HistoryAction.WORK_ORDER,
    ]
    async with db.write() as session:
        found = await session.scalar(select(Incident).where(Incident.number == one))
        assert found is not None
        for key in other_keys:
            session.add(
                record_history(
                    incident=found,
                    action=key,
                    operator_id=desk.tech.id,
                    now=clock.now(),
                    comment=f"{key} {two}",
                )
            )
    response = await client.post(
        f"/v2/incidents/{one}/histories",
        json={"sort_filter": {"operator": "asc", "field": "start_time", "values": ["start_time"]}},
        headers={"X-Auth-Token": desk.tech.token},
    )
    assert response.status_code == 200, response.text
    info = {row["action"]: row for row in response.json()["data"]["info"]}
    linked_row = info["incident_link"]
    assert (linked_row["action_name_en"], linked_row["action_name_zh"]) == (
        "link incident",
        "关联事件单",
    )
    assert linked_row["comment"] == f"Caused by {two}"
    assert linked_row["operator"] == desk.tech.id
    for key in other_keys:
        row = info[str(key)]
        assert row["action_name_en"] not in ("", str(key)), key
        assert row["action_name_zh"] not in ("", str(key)), key
        assert row["comment"] == f"{key} {two}"
    native = rows_of(await history_rows(client, desk.tech, one), *map(str, other_keys))
    assert len(native) == len(other_keys)
    (from_two,) = rows_of(await history_rows(client, desk.tech, two), "incident_link")
    assert from_two["comment"] == f"Causes {one}"
    assert await session_rows(db, HistoryAction.LINK) == 2


async def session_rows(db: Database, action: str) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(IncidentHistory)
            .where(IncidentHistory.action == action)
        )
    return int(count or 0)


async def test_merging_a_parent_hands_its_children_to_the_primary_and_undo_returns_them(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    primary = await new(client, desk.tech, "VPN down for everyone")
    secondary = await new(client, desk.tech, "VPN down in Paris")
    children = [await new(client, desk.user, f"VPN report {n}") for n in range(2)]
    for child in children:
        assert (await link(client, desk.tech, secondary, "child", child)).status_code == 201
    # The primary is a child of the secondary too: it must not become its own parent.
    assert (await link(client, desk.tech, secondary, "child", primary)).status_code == 201
    response = await client.post(
        url(primary, "merge"), json={"secondaries": [secondary]}, headers=desk.tech.headers
    )
    assert response.status_code == 200, response.text
    for child in children:
        assert (await incident(client, desk.tech, child))["parent"] == primary
    assert (await incident(client, desk.tech, primary))["parent"] == secondary
    response = await client.post(url(secondary, "unmerge"), headers=desk.tech.headers)
    assert response.status_code == 200, response.text
    for child in children:
        assert (await incident(client, desk.tech, child))["parent"] == secondary
    assert (await incident(client, desk.tech, primary))["parent"] == secondary
