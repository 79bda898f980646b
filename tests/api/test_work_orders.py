"""Work orders: for work-order workgroups, with their lifecycle, list, logs and files."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_collaboration import act, history_rows, reported_by
from tests.api.test_tasks import counters, notice_payloads
from tests.factories import Actor, Desk

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


async def make_group(
    client: httpx.AsyncClient, desk: Desk, key: str, members: list[str], *, work_orders: bool
) -> None:
    response = await client.post(
        "/api/v1/workgroups",
        json={"key": key, "name": key, "members": members, "does_work_orders": work_orders},
        headers=desk.admin.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["does_work_orders"] is work_orders


def orders_url(number: str) -> str:
    return f"/api/v1/incidents/{number}/work-orders"


async def add_order(
    client: httpx.AsyncClient, actor: Actor, number: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": "Replace the PSU in rack B4", "workgroup": "field", **fields}
    response = await client.post(orders_url(number), json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(
    client: httpx.AsyncClient, actor: Actor, order_id: int, **fields: Any
) -> httpx.Response:
    return await client.patch(f"/api/v1/work-orders/{order_id}", json=fields, headers=actor.headers)


async def test_a_work_order_goes_to_a_work_order_group_and_through_its_lifecycle(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    start = clock.now() + timedelta(hours=1)
    order = await add_order(
        client,
        desk.tech,
        number,
        location="DC1, rack B4",
        assignee_id=desk.tech2.id,
        planned_start=start.isoformat(),
        planned_end=(start + timedelta(hours=2)).isoformat(),
    )
    assert order["status"] == "new"
    assert order["location"] == "DC1, rack B4"
    assert await counters(db, number) == (0, 1)
    assert await notice_payloads(db) == [
        {"item": "work_order", "id": order["id"], "event": "assigned", "actor_id": desk.tech.id}
    ]
    for status, open_count in (("scheduled", 1), ("in_progress", 1), ("failed", 0)):
        response = await patch(client, desk.tech2, order["id"], status=status)
        assert response.status_code == 200, response.text
        assert await counters(db, number) == (0, open_count)
    assert (await patch(client, desk.tech2, order["id"], status="scheduled")).status_code == 200
    assert await counters(db, number) == (0, 1)
    assert (await patch(client, desk.tech2, order["id"], status="in_progress")).status_code == 200
    assert (await patch(client, desk.tech2, order["id"], status="done")).status_code == 200
    assert await counters(db, number) == (0, 0)
    final = await patch(client, desk.tech2, order["id"], status="in_progress")
    assert final.status_code == 409
    assert final.json()["error"]["field"] == "status"
    rows = [
        r
        for r in await history_rows(client, desk.tech, number)
        if r["action"] == "incident_work_order"
    ]
    assert len(rows) == 7
    assert {"field": "work_order_status", "old": "in_progress", "new": "done"} in rows[-1][
        "changes"
    ]


async def test_only_work_order_groups_and_their_members_take_work_orders(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    await make_group(client, desk, "desk-l1", [desk.tech.id], work_orders=False)
    number = await reported_by(client, desk)
    for fields, field in (
        ({"workgroup": "desk-l1"}, "workgroup"),
        ({"workgroup": "nowhere"}, "workgroup"),
        ({"assignee_id": desk.tech.id}, "assignee_id"),
        ({"assignee_id": desk.user.id}, "assignee_id"),
    ):
        body = {"title": "x", "workgroup": "field", **fields}
        response = await client.post(orders_url(number), json=body, headers=desk.tech.headers)
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["error"]["field"] == field
    window = await client.post(
        orders_url(number),
        json={
            "title": "x",
            "workgroup": "field",
            "planned_start": "2026-03-02T12:00:00Z",
            "planned_end": "2026-03-02T10:00:00Z",
        },
        headers=desk.tech.headers,
    )
    assert window.status_code == 422
    assert window.json()["error"]["field"] == "planned_end"
    order = await add_order(client, desk.tech, number)
    moved = await patch(client, desk.tech, order["id"], workgroup="desk-l1")
    assert moved.status_code == 422
    for response in (
        await client.get(orders_url(number), headers=desk.user.headers),
        await client.get(f"/api/v1/work-orders/{order['id']}", headers=desk.user.headers),
        await client.get("/api/v1/work-orders", headers=desk.user.headers),
    ):
        assert response.status_code == 403
    assert (
        await client.get("/api/v1/work-orders/999999", headers=desk.tech.headers)
    ).status_code == 404
    assert await counters(db, number) == (0, 1)


async def test_the_work_order_list_filters_by_group_status_and_mine(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    await make_group(client, desk, "dc-ops", [desk.tech.id], work_orders=True)
    number = await reported_by(client, desk)
    first = await add_order(client, desk.tech, number, title="Swap disk")
    await add_order(client, desk.tech, number, title="Check cabling", workgroup="dc-ops")
    await add_order(client, desk.tech, number, title="Label ports")
    assert (await patch(client, desk.tech, first["id"], status="scheduled")).status_code == 200

    async def titles(actor: Actor, **params: Any) -> list[str]:
        response = await client.get("/api/v1/work-orders", params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles(desk.tech) == ["Label ports", "Check cabling", "Swap disk"]
    assert await titles(desk.tech, workgroup="field") == ["Label ports", "Swap disk"]
    assert await titles(desk.tech, status="scheduled") == ["Swap disk"]
    assert await titles(desk.tech, mine="true") == ["Check cabling"]
    assert await titles(desk.tech2, mine="true") == ["Label ports", "Swap disk"]
    paged = await client.get(
        "/api/v1/work-orders", params={"per_page": 2, "page": 2}, headers=desk.tech.headers
    )
    assert paged.json()["total"] == 3
    assert [item["title"] for item in paged.json()["items"]] == ["Swap disk"]
    bad = await client.get(
        "/api/v1/work-orders", params={"status": "lost"}, headers=desk.tech.headers
    )
    assert bad.status_code == 422


async def test_logs_and_attachments_of_a_work_order(client: httpx.AsyncClient, desk: Desk) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    order = await add_order(client, desk.tech, number)
    url = f"/api/v1/work-orders/{order['id']}"
    log = await client.post(
        f"{url}/logs",
        json={"body": "On site, PSU swapped", "time_spent_minutes": 45},
        headers=desk.tech2.headers,
    )
    assert log.status_code == 201, log.text
    logs = (await client.get(f"{url}/logs", headers=desk.tech2.headers)).json()
    assert [(e["body"], e["time_spent_minutes"]) for e in logs] == [("On site, PSU swapped", 45)]
    uploaded = await client.post(
        f"{url}/attachments",
        files={"file": ("psu.png", PNG, "image/png")},
        headers=desk.tech2.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["context"] == "work_order"
    assert uploaded.json()["internal"] is True
    # Checked by content: a text file named .png is refused.
    fake = await client.post(
        f"{url}/attachments",
        files={"file": ("fake.png", b"just text", "image/png")},
        headers=desk.tech2.headers,
    )
    assert fake.status_code == 422, fake.text
    listed = (await client.get(f"{url}/attachments", headers=desk.tech2.headers)).json()
    assert [item["file_name"] for item in listed] == ["psu.png"]
    download = await client.get(listed[0]["download_url"], headers=desk.tech2.headers)
    assert download.status_code == 200
    assert download.content == PNG
    # The reporter sees neither the staff-only file on the incident nor the log.
    files = (
        await client.get(f"/api/v1/incidents/{number}/attachments", headers=desk.user.headers)
    ).json()
    assert files == []
    assert (await client.get(f"{url}/logs", headers=desk.user.headers)).status_code == 403
    rows = await history_rows(client, desk.tech, number)
    assert any("log (45 min): On site" in row["comment"] for row in rows)


async def test_resolving_with_an_open_work_order_needs_the_recorded_override(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    order = await add_order(client, desk.tech, number)
    await act(client, desk.tech, number, "accept")
    params = {
        "cause": "Failed PSU",
        "solution": "Ran on the second PSU",
        "category": "inc_type_p_function_issues",
    }
    url = f"/api/v1/incidents/{number}/actions/resolve"
    refused = await client.post(url, json=params, headers=desk.tech.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["field"] == "override_open_work"
    assert "1 open work order" in refused.json()["error"]["message"]
    ok = await client.post(
        url, json={**params, "override_open_work": True}, headers=desk.tech.headers
    )
    assert ok.status_code == 200, ok.text
    rows = await history_rows(client, desk.tech, number)
    assert any("Resolved with 1 open work order (override)." in r["comment"] for r in rows)
    # Finished work needs no override: reopen, finish the work order, resolve again.
    await act(client, desk.tech, number, "reopen", reason="PSU failed again")
    assert (await patch(client, desk.tech2, order["id"], status="failed")).status_code == 200
    assert await counters(db, number) == (0, 0)
    again = await client.post(url, json=params, headers=desk.tech.headers)
    assert again.status_code == 200, again.text


async def test_concurrent_status_changes_count_the_work_order_once(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    order = await add_order(client, desk.tech, number)
    assert (await patch(client, desk.tech, order["id"], status="in_progress")).status_code == 200
    answers = await asyncio.gather(
        patch(client, desk.tech, order["id"], status="done"),
        patch(client, desk.tech2, order["id"], status="failed"),
        patch(client, desk.tech, order["id"], status="scheduled"),
    )
    statuses = sorted(answer.status_code for answer in answers)
    final = (
        await client.get(f"/api/v1/work-orders/{order['id']}", headers=desk.tech.headers)
    ).json()
    # Whatever order they ran in, the counter matches the final status.
    assert await counters(db, number) == (0, int(final["status"] == "scheduled"))
    assert 200 in statuses and set(statuses) <= {200, 409}
