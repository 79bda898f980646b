"""Merge, undo merge and split through the ASGI stack (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.alerts.models import AlertGroup
from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.relations.models import IncidentLink
from tests.api.test_alerts import am_alert, am_payload, make_integration
from tests.api.test_attachments import upload
from tests.api.test_coc_api import coc
from tests.factories import Actor, Desk, create_incident
from tests.unit.test_filetypes import PNG


def url(number: str, what: str = "") -> str:
    return f"/api/v1/incidents/{number}" + (f"/{what}" if what else "")


async def get(client: httpx.AsyncClient, actor: Actor, path: str) -> Any:
    response = await client.get(path, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def post(client: httpx.AsyncClient, actor: Actor, path: str, body: Any) -> Any:
    response = await client.post(path, json=body, headers=actor.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def merge(
    client: httpx.AsyncClient, actor: Actor, primary: str, *secondaries: str
) -> httpx.Response:
    return await client.post(
        url(primary, "merge"), json={"secondaries": list(secondaries)}, headers=actor.headers
    )


async def link(db: Database, clock: FixedClock, source: str, target: str, kind: str) -> None:
    from opsdesk.incidents.models import Incident

    async with db.write() as session:
        rows = await session.execute(
            select(Incident.number, Incident.id).where(Incident.number.in_([source, target]))
        )
        ids = {str(number): int(incident_id) for number, incident_id in rows}
        session.add(
            IncidentLink(
                source_id=ids[source], target_id=ids[target], kind=kind, created_at=clock.now()
            )
        )


async def links_of(db: Database) -> list[tuple[int, int, str]]:
    async with db.read() as session:
        rows = await session.scalars(select(IncidentLink).order_by(IncidentLink.id))
        return sorted((row.source_id, row.target_id, row.kind) for row in rows)


async def groups_of(db: Database) -> list[tuple[int, int | None]]:
    async with db.read() as session:
        rows = await session.scalars(select(AlertGroup).order_by(AlertGroup.id))
        return [(row.id, row.incident_id) for row in rows]


async def state_of(client: httpx.AsyncClient, desk: Desk, number: str) -> dict[str, Any]:
    """Everything an undo must restore, as the API shows it."""
    incident = await get(client, desk.admin, url(number))
    for volatile in ("version", "updated_at", "sla"):
        incident.pop(volatile)
    return {
        "incident": incident,
        "conversations": await get(client, desk.admin, url(number, "conversations")),
        "work_logs": await get(client, desk.admin, url(number, "worklogs")),
        "attachments": await get(client, desk.admin, url(number, "attachments")),
        "watchers": await get(client, desk.admin, url(number, "watchers")),
    }


async def test_merge_moves_everything_and_undo_restores_exactly(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    primary = (await create_incident(client, desk.tech, title="Mail is down"))["number"]
    integration = await make_integration(client, desk, "alertmanager")
    fired = await client.post(
        f"/api/v1/alerts/alertmanager/{integration['key']}", json=am_payload([am_alert("SMTP")])
    )
    [secondary] = fired.json()["incidents"]
    third = (await create_incident(client, desk.user, title="Cannot send mail"))["number"]
    other = (await create_incident(client, desk.tech, title="Unrelated"))["number"]
    await post(client, desk.tech, url(secondary, "actions/accept"), {})
    await post(client, desk.tech, url(secondary, "conversations"), {"body": "Looking at SMTP"})
    await post(
        client, desk.tech, url(secondary, "conversations"), {"body": "queue", "internal": True}
    )
    await post(
        client,
        desk.tech,
        url(secondary, "worklogs"),
        {"description": "checked relay", "time_spent_minutes": 15},
    )
    assert (await upload(client, desk.tech, secondary, "queue.png", PNG)).status_code == 201
    await post(client, desk.tech, url(secondary, "watchers"), {"user_id": desk.tech2.id})
    await post(client, desk.user, url(third, "conversations"), {"body": "Since 9:00"})
    await link(db, clock, secondary, other, "related")
    await link(db, clock, secondary, primary, "duplicate_of")
    before = {n: await state_of(client, desk, n) for n in (primary, secondary, third)}
    links_before, groups_before = await links_of(db), await groups_of(db)

    merged = await merge(client, desk.tech, primary, secondary, third)
    assert merged.status_code == 200, merged.text
    assert merged.json()["number"] == primary
    moved = await state_of(client, desk, primary)
    bodies = [entry["body"] for entry in moved["conversations"]]
    assert bodies == ["Looking at SMTP", "queue", "Since 9:00"]
    assert [w["description"] for w in moved["work_logs"]["items"]] == ["checked relay"]
    assert [a["file_name"] for a in moved["attachments"]] == ["queue.png"]
    watchers = {w["user_id"] for w in moved["watchers"]["items"]}
    # The watcher of the secondary and the reporter of the third keep hearing.
    assert {desk.tech2.id, desk.user.id} <= watchers
    sec = await get(client, desk.admin, url(secondary))
    assert (sec["status"], sec["sub_status"], sec["phase"]) == (
        "INCIDENT_STATUS_COMPLETED",
        "merged",
        "merged",
    )
    assert sec["merged_into"] == primary
    # Its SLA clocks stop: a merged incident is completed.
    assert sec["sla"] and {clock["state"] for clock in sec["sla"]} == {"stopped"}
    listed = await get(client, desk.admin, "/api/v1/incidents?per_page=50")
    assert {i["number"]: i["merged_into"] for i in listed["items"]}[secondary] == primary
    async with db.read() as session:
        primary_id = (await session.execute(select(AlertGroup.incident_id))).scalar_one()
    assert primary_id is not None
    # The secondary's links now start at the primary; the duplicate_of link to the primary
    # itself would be a self-link, so it is gone (and comes back on undo).
    assert len(await links_of(db)) == 1
    # History on both sides, with labels, in the native and the COC history.
    actions = [row["action"] for row in await get(client, desk.tech, url(primary, "history"))]
    assert actions.count("incident_merge") == 2
    sec_rows = await get(client, desk.tech, url(secondary, "history"))
    assert sec_rows[-1]["action"] == "incident_merged"
    assert sec_rows[-1]["action_name_en"] == "merged into another incident"
    coc_rows = (await coc(client, desk.tech, "POST", f"/v2/incidents/{primary}/histories", {}))[
        "data"
    ]["info"]
    merge_rows = [row for row in coc_rows if row["action"] == "incident_merge"]
    assert merge_rows and merge_rows[0]["action_name_en"] == "merge incidents"
    assert merge_rows[0]["action_name_zh"] == "合并事件单"

    coc_detail = await coc(client, desk.tech, "GET", f"/v1/external/incident/{secondary}")
    assert coc_detail["data"]["incident_num"] == secondary
    sec_coc = (await coc(client, desk.tech, "POST", f"/v2/incidents/{secondary}/histories", {}))[
        "data"
    ]["info"]
    assert sec_coc[0]["action"] == "incident_merged"
    assert sec_coc[0]["action_name_zh"] == "已合并到其他事件单"

    # The reporter of a merged incident sees the primary (their conversation goes on there).
    assert (await client.get(url(primary), headers=desk.user.headers)).status_code == 200

    clock.advance(timedelta(hours=1))
    undone = await client.post(url(secondary, "unmerge"), headers=desk.tech.headers)
    assert undone.status_code == 200, undone.text
    undone = await client.post(
        url(primary, "unmerge"), json={"secondaries": [third]}, headers=desk.tech.headers
    )
    assert undone.status_code == 200, undone.text
    after = {n: await state_of(client, desk, n) for n in (primary, secondary, third)}
    for number in before:
        for part in before[number]:
            assert after[number][part] == before[number][part], (number, part)
    assert await links_of(db) == links_before
    assert await groups_of(db) == groups_before
    rows = await get(client, desk.tech, url(secondary, "history"))
    assert rows[-1]["action"] == "incident_unmerge"
    assert rows[-1]["action_name_en"] == "undo merge"
    assert (await client.get(url(primary), headers=desk.user.headers)).status_code == 404


async def test_writes_for_a_merged_incident_land_on_the_primary(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    primary = (await create_incident(client, desk.tech, title="Mail is down"))["number"]
    secondary = (await create_incident(client, desk.user, title="No mail"))["number"]
    assert (await merge(client, desk.tech, primary, secondary)).status_code == 200
    # The reporter of the secondary replies to it: the reply is on the primary.
    reply = await client.post(
        url(secondary, "conversations"), json={"body": "Any news?"}, headers=desk.user.headers
    )
    assert reply.status_code == 201, reply.text
    bodies = [e["body"] for e in await get(client, desk.tech, url(primary, "conversations"))]
    assert bodies == ["Any news?"]
    assert await get(client, desk.tech, url(secondary, "conversations")) == []
    # An action and an edit land on the primary too.
    accepted = await post(client, desk.tech, url(secondary, "actions/accept"), {})
    assert accepted["number"] == primary and accepted["phase"] == "in_progress"
    patched = await client.patch(
        url(secondary), json={"title": "Mail is down for everyone"}, headers=desk.tech.headers
    )
    assert patched.status_code == 200 and patched.json()["number"] == primary
    assert (await get(client, desk.tech, url(secondary)))["title"] == "No mail"


async def test_refusals_name_the_field(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    a, b, c, d = [
        (await create_incident(client, desk.tech, title=f"Incident {i}"))["number"]
        for i in range(4)
    ]
    forbidden = await merge(client, desk.user, a, b)
    assert forbidden.status_code == 403
    itself = await merge(client, desk.tech, a, a)
    assert itself.status_code == 422 and itself.json()["error"]["field"] == "secondaries"
    missing = await merge(client, desk.tech, a, "INC-404")
    assert missing.status_code == 404
    assert (await merge(client, desk.tech, a, b)).status_code == 200
    again = await merge(client, desk.tech, c, b)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "secondaries"
    assert f"{b} is already merged into {a}" in again.json()["error"]["message"]
    into_merged = await merge(client, desk.tech, b, c)
    assert into_merged.status_code == 409 and into_merged.json()["error"]["field"] == "primary"
    # a is the primary of an active merge: merging it elsewhere is refused (no chains).
    chain = await merge(client, desk.tech, c, a)
    assert chain.status_code == 409 and "instead" in chain.json()["error"]["message"]
    # Not merged, nothing merged into it.
    nothing = await client.post(url(d, "unmerge"), headers=desk.tech.headers)
    assert nothing.status_code == 409
    # After the window, undo is refused naming the window.
    clock.advance(timedelta(hours=73))
    late = await client.post(url(b, "unmerge"), headers=desk.tech.headers)
    assert late.status_code == 409, late.text
    assert late.json()["error"]["field"] == "merged_at"
    assert "OPSDESK_UNMERGE_WINDOW_HOURS" in late.json()["error"]["message"]
    assert (await client.post(url(b, "unmerge"), headers=desk.user.headers)).status_code == 403


async def test_attachments_over_the_limit_stay_on_the_secondary(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    primary = (await create_incident(client, desk.tech, title="Full"))["number"]
    secondary = (await create_incident(client, desk.tech, title="Also full"))["number"]
    for i in range(9):
        assert (await upload(client, desk.tech, primary, f"p{i}.png", PNG)).status_code == 201
    for i in range(3):
        assert (await upload(client, desk.tech, secondary, f"s{i}.png", PNG)).status_code == 201
    assert (await merge(client, desk.tech, primary, secondary)).status_code == 200
    assert len(await get(client, desk.tech, url(primary, "attachments"))) == 10
    kept = await get(client, desk.tech, url(secondary, "attachments"))
    assert [a["file_name"] for a in kept] == ["s1.png", "s2.png"]
    rows = await get(client, desk.tech, url(primary, "history"))
    assert "stay on" in rows[-1]["comment"]


async def test_split_copies_a_part_into_a_linked_incident(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    original = (await create_incident(client, desk.user, title="Mail and VPN down"))["number"]
    await post(client, desk.user, url(original, "conversations"), {"body": "Mail bounces"})
    vpn = await post(client, desk.user, url(original, "conversations"), {"body": "VPN drops"})
    file = (await upload(client, desk.user, original, "vpn.png", PNG)).json()
    response = await client.post(
        url(original, "split"),
        json={
            "title": "VPN drops",
            "description": "Split from the mail incident",
            "conversation_ids": [vpn["id"]],
            "attachment_ids": [file["id"]],
        },
        headers=desk.tech.headers,
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["reporter_id"] == desk.user.id and new["title"] == "VPN drops"
    copied = await get(client, desk.tech, url(new["number"], "conversations"))
    assert [e["body"] for e in copied] == ["VPN drops"]
    assert [
        a["file_name"] for a in await get(client, desk.tech, url(new["number"], "attachments"))
    ] == ["vpn.png"]
    # The original keeps its own.
    assert len(await get(client, desk.tech, url(original, "conversations"))) == 2
    assert len(await get(client, desk.tech, url(original, "attachments"))) == 1
    assert [kind for _s, _t, kind in await links_of(db)] == ["related"]
    new_rows = await get(client, desk.tech, url(new["number"], "history"))
    assert new_rows[-1]["action"] == "incident_split_from"
    assert new_rows[-1]["changes"] == [{"field": "split_from", "old": None, "new": original}]
    old_rows = await get(client, desk.tech, url(original, "history"))
    assert old_rows[-1]["action"] == "incident_split"
    bad = await client.post(
        url(original, "split"),
        json={"title": "x", "conversation_ids": [999999]},
        headers=desk.tech.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "conversation_ids"
    assert (
        await client.post(url(original, "split"), json={"title": "x"}, headers=desk.user.headers)
    ).status_code == 403


async def test_two_overlapping_merges_at_once_one_wins(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
    """Two technicians, two servers with their own connections, overlapping sets."""
    second_db = Database(database_url)
    apps = [
        create_app(settings, db=db, clock=clock),
        create_app(settings, db=second_db, clock=clock),
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://opsdesk.test")
        for app in apps
    ]
    try:
        for _round in range(3):
            a, b, c, d = [
                (await create_incident(clients[0], desk.tech, title=f"Incident {i}"))["number"]
                for i in range(4)
            ]
            responses = await asyncio.gather(
                merge(clients[0], desk.tech, a, b, c),
                merge(clients[1], desk.tech2, d, c, b),
            )
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409], [r.text for r in responses]
            loser = next(r for r in responses if r.status_code == 409).json()["error"]
            assert loser["field"] == "secondaries" and "already merged" in loser["message"]
            winner = next(r for r in responses if r.status_code == 200).json()["number"]
            for number in (b, c):
                merged = await get(clients[1], desk.admin, url(number))
                assert merged["merged_into"] == winner
            loser_primary = d if winner == a else a
            rows = await get(clients[0], desk.admin, url(loser_primary, "history"))
            assert [row["action"] for row in rows] == ["create_incident"]
    finally:
        for client in clients:
            await client.aclose()
        await second_db.dispose()
