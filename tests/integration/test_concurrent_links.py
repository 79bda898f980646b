"""Two people link the same pair from opposite ends at the same moment, on two servers: one
link is made, the other is refused (409), never a deadlock or a server error; and two
people giving one child two parents at once end with one parent."""

from __future__ import annotations

import asyncio

import httpx

from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.factories import Desk, create_incident


async def test_opposite_ends_at_once_make_one_link(
    database_url: str, db: Database, desk: Desk, clock: FixedClock, settings: Settings
) -> None:
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
        for _round in range(4):
            one = (await create_incident(clients[0], desk.tech))["number"]
            two = (await create_incident(clients[0], desk.tech))["number"]
            three = (await create_incident(clients[0], desk.tech))["number"]
            links = await asyncio.gather(
                clients[0].post(
                    f"/api/v1/incidents/{one}/links",
                    json={"kind": "related", "number": two},
                    headers=desk.tech.headers,
                ),
                clients[1].post(
                    f"/api/v1/incidents/{two}/links",
                    json={"kind": "related", "number": one},
                    headers=desk.tech2.headers,
                ),
            )
            assert sorted(r.status_code for r in links) == [201, 409], [r.text for r in links]
            listed = await clients[1].get(
                f"/api/v1/incidents/{one}/links", headers=desk.tech.headers
            )
            assert len(listed.json()["links"]) == 1
            parents = await asyncio.gather(
                clients[0].post(
                    f"/api/v1/incidents/{three}/links",
                    json={"kind": "parent", "number": one},
                    headers=desk.tech.headers,
                ),
                clients[1].post(
                    f"/api/v1/incidents/{three}/links",
                    json={"kind": "parent", "number": two},
                    headers=desk.tech2.headers,
                ),
            )
            assert sorted(r.status_code for r in parents) == [201, 409], [r.text for r in parents]
            child = (
                await clients[0].get(f"/api/v1/incidents/{three}", headers=desk.tech.headers)
            ).json()
            assert child["parent"] in (one, two)
            history = (
                await clients[0].get(
                    f"/api/v1/incidents/{three}/history", headers=desk.tech.headers
                )
            ).json()
            assert [row["action"] for row in history].count("incident_link") == 1
    finally:
        for client in clients:
            await client.aclose()
        await second_db.dispose()
